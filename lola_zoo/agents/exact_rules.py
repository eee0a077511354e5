"""Learning rules on exact values: naive learning, LOLA, higher-order LOLA, LookAhead, SOS, exact LOLA.

Every rule is a pure function of the players' parameter tensors (batch dimension first, one row
per independent seed) and of a differentiable value function ``V = value_fn(params)`` of shape
``(B, N)`` (e.g. :func:`lola_zoo.envs.exact.exact_value`).  Gradients are summed over the batch
before differentiating; because seeds never interact, row ``b`` of every gradient is exactly the
gradient of seed ``b``'s own value, so B seeds cost one torch computation.

Notation (Foerster et al. 2018, Sec. 3; Letcher et al. 2019, Sec. 3), for player i and opponent j,
all in *ascent* form (players maximise their value ``V_i``):

* naive learner (NL):          ``g_i = ∇_i V_i``
* LOLA (paper, Eq. 4.2):       ``g_i + η ∇_i [ stop(∇_j V_i) · ∇_j V_j ]``           (the shaping term)
* LookAhead (Letcher et al.):  ``g_i + η ∇_i [ ∇_j V_i · stop(∇_j V_j) ]``           (the lookahead term)
* full Taylor LOLA:            both terms, ``g_i + η ∇_i [ ∇_j V_i · ∇_j V_j ]``     (the reference code's
  ``pseudo`` switch, and what Letcher et al. call LOLA)
* SOS:                         ``g_i + η LA_i + p η χ_i`` with ``p ∈ [0, 1]`` from the a / b criteria
* higher-order LOLA:           LOLA whose assumed opponent step is itself a LOLA step
* exact LOLA:                  ``∇_i V_i(θ_i, θ_j + η ∇_j V_j)``, differentiating through the
  opponent's actual naive step instead of its first-order Taylor expansion.

A :class:`Learner` is a base gradient plus a tuple of additive corrections; :func:`make_learner`
builds one from a registered name.  The parameter update is ``θ_i ← θ_i + δ · direction_i``.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence, cast

import torch

__all__ = [
    "ValueFn",
    "Derivatives",
    "Rule",
    "Learner",
    "naive_gradient",
    "lola_correction",
    "lookahead_correction",
    "taylor_lola_correction",
    "higher_order_lola_correction",
    "sos_correction",
    "sos_p",
    "exact_lola_gradient",
    "LEARNERS",
    "make_learner",
    "register_learner",
    "learner_names",
    "exact_update",
    "derivatives",
]

#: ``value_fn(params) -> V`` with ``params[i]`` of shape ``(B, ...)`` and ``V`` of shape ``(B, N)``.
ValueFn = Callable[[Sequence[torch.Tensor]], torch.Tensor]


class Derivatives:
    """Values and first derivatives at one joint parameter point, memoised and kept differentiable.

    ``grad(i, j)`` is ``∇_{θ_j} V_i`` with ``create_graph=True`` so corrections can differentiate
    it again.  One object is shared by every player's rule within one update, so V and its first
    derivatives are computed once per update, not once per player.

    :param value_fn: differentiable value function ``params -> V (B, N)``.
    :param params: one tensor per player, batch dimension first.
    :param create_graph: keep the graph of the first derivatives (needed by every correction).
    """

    def __init__(self, value_fn: ValueFn, params: Sequence[torch.Tensor], create_graph: bool = True) -> None:
        self.value_fn = value_fn
        # Fresh leaves: the caller's tensors are never modified or given a grad history.
        self.params = tuple(p.detach().requires_grad_(True) for p in params)
        self.create_graph = create_graph
        self.values = value_fn(self.params)
        if self.values.dim() != 2 or self.values.shape[1] != len(self.params):
            raise ValueError(
                f"value_fn must return V of shape (B, {len(self.params)}); got {tuple(self.values.shape)}"
            )
        self._grads: dict[int, tuple[torch.Tensor, ...]] = {}
        #: per-update cache for joint quantities shared by several players (SOS's p)
        self.memo: dict[object, object] = {}

    @property
    def n_players(self) -> int:
        """Number of players N."""
        return len(self.params)

    def grad(self, i: int, j: int) -> torch.Tensor:
        """``∇_{θ_j} V_i`` per seed, shape of ``params[j]``."""
        if i not in self._grads:
            self._grads[i] = torch.autograd.grad(
                self.values[:, i].sum(), self.params, create_graph=self.create_graph, retain_graph=True,
                allow_unused=True,
            )
            self._grads[i] = tuple(
                torch.zeros_like(p) if g is None else g for g, p in zip(self._grads[i], self.params)
            )
        return self._grads[i][j]

    def mixed_vp(self, k: int, i: int, j: int, v: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """``∇_{θ_i} [v · ∇_{θ_j} V_k]`` per seed with ``v`` held fixed: a mixed Hessian-vector product.

        LOLA's shaping term is ``mixed_vp(j, i, j, ∇_j V_i)`` and LookAhead's ``mixed_vp(i, i, j, ∇_j V_j)``;
        the closed-form 2×2 derivatives (:mod:`lola_zoo.agents.closed_form`) override this.
        """
        return _vjp(self.grad(k, j), self.params[i], v, create_graph)


#: A rule maps (derivatives, player index) to an additive piece of that player's update direction.
Rule = Callable[[Derivatives, int], torch.Tensor]


def _differentiate(scalar: torch.Tensor, wrt: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``∇_wrt scalar``; zeros when the scalar does not depend on ``wrt``."""
    (g,) = torch.autograd.grad(scalar, wrt, create_graph=create_graph, retain_graph=True, allow_unused=True)
    return torch.zeros_like(wrt) if g is None else g


def _vjp(outputs: torch.Tensor, wrt: torch.Tensor, v: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """``(∂ outputs / ∂ wrt)ᵀ v`` per seed, i.e. ``∇_wrt [v · outputs]`` with ``v`` held fixed.

    ``v`` is held fixed only for this differentiation: with ``create_graph`` the result stays a
    differentiable function of ``v`` too, which higher-order LOLA needs (the opponent's shaping
    term depends on θ_i through both of its factors).
    """
    (g,) = torch.autograd.grad(
        outputs, wrt, grad_outputs=v, create_graph=create_graph, retain_graph=True, allow_unused=True
    )
    return torch.zeros_like(wrt) if g is None else g


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-seed inner product over every non-batch dimension, shape ``(B,)``."""
    return (a * b).flatten(1).sum(1)


def naive_gradient(d: Derivatives, i: int) -> torch.Tensor:
    """NL: the gradient of one's own value, ``∇_i V_i`` (Foerster et al. 2018, Eq. 3.1)."""
    return d.grad(i, i)


def _opponents(d: Derivatives, i: int) -> list[int]:
    return [j for j in range(d.n_players) if j != i]


def lola_correction(d: Derivatives, i: int, eta: float = 1.0, create_graph: bool = False) -> torch.Tensor:
    """LOLA's shaping term ``η Σ_j ∇_i [stop(∇_j V_i) · ∇_j V_j]`` (Foerster et al. 2018, Eq. 4.2).

    The gradient flows only through the opponent's naive step ``∇_j V_j`` — the reference code's
    default (``pseudo=False``): ``(∇_i∇_j V_j) ∇_j V_i``.
    """
    out = sum(d.mixed_vp(j, i, j, d.grad(i, j), create_graph) for j in _opponents(d, i))
    return cast(torch.Tensor, eta * out)


def lookahead_correction(d: Derivatives, i: int, eta: float = 1.0, create_graph: bool = False) -> torch.Tensor:
    """LookAhead's term ``η Σ_j ∇_i [∇_j V_i · stop(∇_j V_j)]`` (Letcher et al. 2019, Eq. LA).

    The opponent's anticipated step is a constant: only the curvature of one's own value in the
    opponent's direction, ``(∇_i∇_j V_i) ∇_j V_j``, remains — no shaping of the opponent.
    """
    out = sum(d.mixed_vp(i, i, j, d.grad(j, j), create_graph) for j in _opponents(d, i))
    return cast(torch.Tensor, eta * out)


def taylor_lola_correction(d: Derivatives, i: int, eta: float = 1.0, create_graph: bool = False) -> torch.Tensor:
    """Full first-order Taylor term ``η Σ_j ∇_i [∇_j V_i · ∇_j V_j]`` = lookahead + LOLA shaping.

    This is the reference code's ``pseudo=True`` variant and the "LOLA" of Letcher et al. (2019).
    """
    return lookahead_correction(d, i, eta, create_graph) + lola_correction(d, i, eta, create_graph)


def higher_order_lola_correction(
    d: Derivatives, i: int, eta: float = 1.0, order: int = 2, create_graph: bool = False
) -> torch.Tensor:
    """Higher-order LOLA: ``η Σ_j ∇_i [stop(∇_j V_i) · Δ_j(θ)]`` where ``Δ_j`` is a LOLA step of order ``order-1``.

    ``order = 1`` assumes a naive opponent (``Δ_j = ∇_j V_j``) and equals :func:`lola_correction`;
    ``order = 2`` assumes the opponent is itself a (first-order) LOLA learner,
    ``Δ_j = ∇_j V_j + η ∇_j[stop(∇_i V_j) · ∇_i V_i]``, differentiated in θ_i through all of its
    dependence (Foerster et al. 2018, Sec. 4.2, "higher-order LOLA").
    """
    if int(order) != order or order < 1:
        raise ValueError(f"order of higher-order LOLA must be a positive integer, got {order!r}")
    if order == 1:
        return lola_correction(d, i, eta, create_graph)
    out: torch.Tensor | float = 0
    for j in _opponents(d, i):
        # The opponent's anticipated step must stay differentiable in θ_i: keep its graph.
        step_j = d.grad(j, j) + higher_order_lola_correction(d, j, eta, order - 1, create_graph=True)
        out = out + _vjp(step_j, d.params[i], d.grad(i, j), create_graph)
    return cast(torch.Tensor, eta * out)


def sos_p(d: Derivatives, eta: float = 1.0, a: float = 0.5, b: float = 0.1) -> torch.Tensor:
    """SOS's interpolation weight ``p (B,)`` between LookAhead (p = 0) and full LOLA (p = 1).

    Letcher et al. (2019), Algorithm 1, in ascent form with ``ξ`` the joint naive gradient,
    ``ξ_0`` the joint LookAhead direction and ``χ`` the joint LOLA shaping term:
    ``p1 = 1`` if ``η⟨χ, ξ_0⟩ >= 0`` else ``min(1, a‖ξ_0‖² / (−η⟨χ, ξ_0⟩))``;
    ``p2 = ‖ξ‖²`` if ``‖ξ‖ < b`` else ``1``; ``p = min(p1, p2)``, per seed.
    """
    key = ("sos_p", float(eta), float(a), float(b))
    if key in d.memo:
        return d.memo[key]  # type: ignore[return-value]
    # Computed outside no_grad: d.grad memoises, and its graph is still needed by the corrections.
    xi = torch.cat([d.grad(k, k).detach().flatten(1) for k in range(d.n_players)], 1)
    la = [lookahead_correction(d, k, eta) for k in range(d.n_players)]
    shaping = [lola_correction(d, k, eta) for k in range(d.n_players)]
    d.memo[("sos_parts", float(eta))] = (la, shaping)  # reused by sos_correction: no second pass
    xi0 = torch.cat([(d.grad(k, k).detach() + la[k]).flatten(1) for k in range(d.n_players)], 1)
    chi = torch.cat([(c / eta if eta else lola_correction(d, k, 1.0)).flatten(1) for k, c in enumerate(shaping)], 1)
    with torch.no_grad():
        dot = eta * (chi * xi0).sum(1)
        safe = torch.where(dot < 0, dot, -torch.ones_like(dot))
        p1 = torch.where(dot >= 0, torch.ones_like(dot), torch.clamp(-a * (xi0 * xi0).sum(1) / safe, max=1.0))
        xi_norm2 = (xi * xi).sum(1)
        p2 = torch.where(xi_norm2.sqrt() < b, xi_norm2, torch.ones_like(xi_norm2))
        p = torch.minimum(p1, p2).detach()
    d.memo[key] = p
    return p


def sos_correction(
    d: Derivatives, i: int, eta: float = 1.0, a: float = 0.5, b: float = 0.1, create_graph: bool = False
) -> torch.Tensor:
    """SOS: ``η LA_i + p η χ_i`` — LookAhead plus a share ``p`` of LOLA's shaping (Letcher et al. 2019)."""
    if a < 0 or b < 0:
        raise ValueError(f"SOS needs a >= 0 and b >= 0, got a={a!r}, b={b!r}")
    p = sos_p(d, eta, a, b)
    shape = (-1,) + (1,) * (d.params[i].dim() - 1)
    if create_graph:
        la, shaping = lookahead_correction(d, i, eta, True), lola_correction(d, i, eta, True)
    else:
        parts = d.memo[("sos_parts", float(eta))]
        la, shaping = parts[0][i], parts[1][i]  # type: ignore[index]
    return la + p.view(shape) * shaping


def exact_lola_gradient(d: Derivatives, i: int, eta: float = 1.0, create_graph: bool = False) -> torch.Tensor:
    """Exact LOLA: ``∇_i V_i(θ_i, θ_j + η ∇_j V_j(θ))`` through the opponents' actual naive steps.

    No Taylor expansion: the value is evaluated at the opponents' looked-ahead parameters and
    differentiated through their step, which depends on ``θ_i``.
    """
    shifted = [
        p if j == i else p + eta * d.grad(j, j) for j, p in enumerate(d.params)
    ]
    at = getattr(d, "at", None)
    if at is not None and not create_graph:
        # Chain rule written out: own gradient at the looked-ahead point, plus the opponent's step
        # differentiated in θ_i, (∂(η∇_j V_j)/∂θ_i)ᵀ ∇_j V_i(shifted) — a mixed product at θ.
        ahead = at(shifted)
        return ahead.grad(i, i) + sum(eta * d.mixed_vp(j, i, j, ahead.grad(i, j)) for j in _opponents(d, i))
    v = d.value_fn(shifted)[:, i].sum()
    return _differentiate(v, d.params[i], create_graph)


@dataclass(frozen=True)
class Learner:
    """A learning rule: a base gradient plus additive corrections, each a :data:`Rule`.

    :param name: registered name, e.g. ``"lola"``.
    :param base: the base direction (``naive_gradient`` or ``exact_lola_gradient``).
    :param corrections: rules whose outputs are added to the base direction.
    :param second_order: whether any part needs differentiable first derivatives.
    :param closed_form: whether every part only combines first derivatives and mixed products
        (``Derivatives.grad`` / ``mixed_vp`` / ``at``), so closed-form derivatives can run it
        without recording an autograd graph.  Built-in rules set it; user corrections do not.
    """

    name: str
    base: Rule = naive_gradient
    corrections: tuple[Rule, ...] = field(default=())
    second_order: bool = False
    closed_form: bool = False

    def direction(self, d: Derivatives, i: int) -> torch.Tensor:
        """Player i's update direction at the point held by ``d`` (multiply by δ to get the step)."""
        out = self.base(d, i)
        for correction in self.corrections:
            out = out + correction(d, i)
        return out

    def with_correction(self, correction: Rule, name: str | None = None) -> "Learner":
        """A new learner with one more additive correction (the wrapper of DESIGN.md)."""
        return Learner(name or f"{self.name}+correction", self.base, (*self.corrections, correction), True)


def _naive(**_: float) -> Learner:
    return Learner("nl", closed_form=True)


def _lola(eta: float = 1.0, **_: float) -> Learner:
    return replace(Learner("nl").with_correction(functools.partial(lola_correction, eta=eta), "lola"), closed_form=True)


def _lola_taylor(eta: float = 1.0, **_: float) -> Learner:
    learner = Learner("nl").with_correction(functools.partial(taylor_lola_correction, eta=eta), "lola-taylor")
    return replace(learner, closed_form=True)


def _hola(eta: float = 1.0, order: int = 2, **_: float) -> Learner:
    if int(order) != order or order < 1:
        raise ValueError(f"order of higher-order LOLA must be a positive integer, got {order!r}")
    return Learner("nl").with_correction(
        functools.partial(higher_order_lola_correction, eta=eta, order=int(order)), f"hola{int(order)}"
    )


def _lookahead(eta: float = 1.0, **_: float) -> Learner:
    learner = Learner("nl").with_correction(functools.partial(lookahead_correction, eta=eta), "lookahead")
    return replace(learner, closed_form=True)


def _sos(eta: float = 1.0, a: float = 0.5, b: float = 0.1, **_: float) -> Learner:
    if a < 0 or b < 0:
        raise ValueError(f"SOS needs a >= 0 and b >= 0, got a={a!r}, b={b!r}")
    learner = Learner("nl").with_correction(functools.partial(sos_correction, eta=eta, a=a, b=b), "sos")
    return replace(learner, closed_form=True)


def _exact_lola(eta: float = 1.0, **_: float) -> Learner:
    return Learner("exact-lola", functools.partial(exact_lola_gradient, eta=eta), (), True, closed_form=True)


def _pola(**hyper_parameters: float) -> Learner:
    from lola_zoo.agents.pola import make_pola  # pola builds on this module

    return make_pola(**hyper_parameters)


#: name -> (factory, one-line description).  Factories take keyword hyper-parameters
#: ``eta`` (correction rate η), ``order`` (higher-order LOLA), ``a`` and ``b`` (SOS), and POLA's
#: ``lr``, ``inner_steps``, ``outer_steps``, ``prox_inner``, ``prox_outer``; each ignores the others.
LEARNERS: dict[str, tuple[Callable[..., Learner], str]] = {
    "nl": (_naive, "naive learner: gradient ascent on its own exact value (NL-Ex)"),
    "lola": (_lola, "LOLA-Ex: naive gradient + η ∇_i[stop(∇_j V_i)·∇_j V_j] (the paper's shaping term)"),
    "lola-taylor": (_lola_taylor, "LOLA with the full first-order Taylor term (lookahead + shaping; 'pseudo')"),
    "hola": (_hola, "higher-order LOLA: assumes the opponent is a LOLA learner of order-1 (default order 2)"),
    "lookahead": (_lookahead, "LookAhead: anticipates the opponent's naive step without shaping it"),
    "sos": (_sos, "Stable Opponent Shaping: LookAhead + p·shaping, p from the a, b criteria"),
    "exact-lola": (_exact_lola, "LOLA through the opponent's actual naive step (no Taylor expansion)"),
    "pola": (_pola, "POLA (Zhao et al. 2022): proximal steps in policy space for the opponent and itself"),
}

_ALIASES = {"naive": "nl", "la": "lookahead", "hola2": "hola", "lola-pseudo": "lola-taylor"}
#: the names registered by this module (whose factories ignore the hyper-parameters they do not use)
_BUILT_IN = frozenset(LEARNERS)
#: every hyper-parameter a built-in learner takes (each ignores the ones it does not use)
HYPER_PARAMETERS = ("eta", "order", "a", "b", "lr", "inner_steps", "outer_steps", "prox_inner", "prox_outer")


def learner_names() -> list[str]:
    """Registered learner names (aliases excluded), sorted."""
    return sorted(LEARNERS)


def register_learner(name: str, factory: Callable[..., Learner], description: str = "", override: bool = False) -> None:
    """Register a learner factory under ``name`` (``factory(**hyper_parameters) -> Learner``)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"learner name must be a non-empty string, got {name!r}")
    if (name in LEARNERS or name in _ALIASES) and not override:
        raise ValueError(f"learner {name!r} is already registered; pass override=True to replace it")
    LEARNERS[name] = (factory, description)


def make_learner(name: str, **hyper_parameters: Any) -> Learner:
    """Build the registered learner ``name`` (e.g. ``"lola"``, ``"sos"``) with its hyper-parameters."""
    key = _ALIASES.get(name, name)
    if key not in LEARNERS:
        known = sorted([*LEARNERS, *_ALIASES])
        close = difflib.get_close_matches(str(name), known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        if str(name).lower() == "cola":  # learned, not a formula: it exists once trained
            hint = ("; COLA needs trained update functions: lola_zoo.agents.cola.register_cola(train_cola(game)) "
                    "first, or `lola-zoo exact --learners cola ...`, which trains them")
        raise KeyError(f"unknown learner {name!r}{hint} (known: {', '.join(sorted(LEARNERS))})")
    if key in _BUILT_IN:  # a user's factory decides what it takes
        unknown = sorted(set(hyper_parameters) - set(HYPER_PARAMETERS))
        if unknown:
            raise TypeError(f"unknown hyper-parameter(s) {unknown} for learner {name!r}; known: {', '.join(HYPER_PARAMETERS)}")
    for hp in [h for h in HYPER_PARAMETERS if h in hyper_parameters]:  # in a fixed order: the first bad one is named
        value = hyper_parameters[hp]
        # A number (NumPy's too), or a tensor (one per batch row, shape (B, 1)) running a grid of rates as one batch.
        if isinstance(value, bool) or not (isinstance(value, torch.Tensor) or hasattr(value, "__float__")):
            raise TypeError(f"hyper-parameter {hp} of {name!r} must be a number or a tensor of them, got {value!r}")
        if isinstance(value, torch.Tensor) and not value.is_floating_point() and value.dtype != torch.long:
            raise TypeError(f"hyper-parameter {hp} of {name!r} must be a real tensor, got dtype {value.dtype}")
        if not bool(torch.all(torch.isfinite(torch.as_tensor(value, dtype=torch.float64)))):
            raise ValueError(f"hyper-parameter {hp} of {name!r} must be finite, got {value!r}")
    eta = hyper_parameters.get("eta", 1.0)
    if not bool(torch.all(torch.as_tensor(eta) >= 0.0)):  # the factories check their other parameters
        raise ValueError(f"correction rate eta must be >= 0, got {eta!r}")
    return LEARNERS[key][0](**hyper_parameters)


def derivatives(value_fn: ValueFn, params: Sequence[torch.Tensor], learners: Sequence[Learner]) -> Derivatives:
    """The :class:`Derivatives` these learners need at ``params``: closed-form where the value allows.

    A value function with a ``derivatives(params, create_graph)`` method (the two-player 2×2
    :class:`~lola_zoo.agents.closed_form.TwoByTwoValue`) supplies them; it records no autograd graph
    when every learner is ``closed_form``.  Anything else gets autograd's.
    """
    second_order = any(learner.second_order for learner in learners)
    factory = getattr(value_fn, "derivatives", None)
    if factory is not None:
        closed = factory(params, create_graph=second_order and not all(getattr(lr, "closed_form", False) for lr in learners))
        if closed is not None:
            return cast(Derivatives, closed)
    return Derivatives(value_fn, params, create_graph=second_order)


def exact_update(
    value_fn: ValueFn,
    params: Sequence[torch.Tensor],
    learners: Sequence[Learner],
    lrs: Sequence[float | torch.Tensor],
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """One simultaneous update of every player: ``θ_i ← θ_i + δ_i · direction_i``.

    Returns the new parameters (detached) and the values ``V (B, N)`` *before* the update.
    """
    if len(learners) != len(params) or len(lrs) != len(params):
        raise ValueError(
            f"need one learner and one learning rate per player: {len(params)} players, "
            f"{len(learners)} learners, {len(lrs)} learning rates"
        )
    d = derivatives(value_fn, params, learners)
    directions = [learner.direction(d, i) for i, learner in enumerate(learners)]
    new = [(p + lr * g).detach() for p, lr, g in zip(d.params, lrs, directions)]
    return new, d.values.detach()
