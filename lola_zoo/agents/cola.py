"""COLA: consistent LOLA on exact values (Willi, Letcher, Treutlein & Foerster, ICML 2022).

LOLA assumes its opponent is a naive learner although the opponent is itself LOLA-aware; COLA
removes that inconsistency by *learning* a pair of update functions ``h_1, h_2`` (small MLPs of the
joint parameters) that are consistent under mutual look-ahead.  In this package's ascent form
(players maximise their value ``V_i``) and with look-ahead rate ``η``, the pair is consistent when,
for every joint point ``θ = (θ_1, θ_2)``::

    h_1(θ) = ∇_{θ_1} V_1(θ_1, θ_2 + η h_2(θ))
    h_2(θ) = ∇_{θ_2} V_2(θ_1 + η h_1(θ), θ_2)

where ``∇_{θ_1}`` differentiates through the opponent's anticipated step ``η h_2(θ)`` as well (that
is the opponent shaping).  COLA minimises the *consistency loss*::

    C(h_1, h_2) = E_θ [ ‖h_1(θ) − ∇_1 V_1(θ_1, θ_2 + η h_2(θ))‖² + ‖h_2(θ) − ∇_2 V_2(θ_1 + η h_1(θ), θ_2)‖² ]

over joint points ``θ ~ N(0, σ² I)`` (the paper's squared-error form).  Gradients are not stopped
through the targets (our reading of the paper: the loss is minimised as a whole).  The learned
rule then plays ``θ_i ← θ_i + η h_i(θ)`` (the paper uses the look-ahead rate as the learning rate;
here pass ``lr = η`` to :func:`run_exact`).

Higher-order LOLA is the fixed-point iteration of the same equations: ``h^(0)_i = ∇_i V_i`` (naive)
and ``h^(k)_i(θ) = ∇_i V_i(θ_i, θ_j + η h^(k-1)_j(θ))`` (:func:`exact_hola_update_fns`; order 1 is
exact LOLA); COLA is what that iteration converges to when it converges.  :func:`consistency_loss`
scores any pair of update functions, so the Taylor-expanded rules of
:mod:`lola_zoo.agents.exact_rules` (``"lola"``, ``"hola"``) can be compared through
:func:`learner_update_fns`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from lola_zoo.agents.exact_rules import Derivatives, Learner, ValueFn, make_learner, register_learner
from lola_zoo.devices import torch_threads

__all__ = [
    "UpdateFn",
    "COLAConfig",
    "COLAUpdate",
    "consistency_loss",
    "consistency_targets",
    "learner_update_fns",
    "exact_hola_update_fns",
    "naive_update_fns",
    "sample_points",
    "train_cola",
    "cola_learner",
    "register_cola",
]

#: An update function: joint parameters (one ``(B, d_i)`` tensor per player) -> one player's direction ``(B, d_i)``.
UpdateFn = Callable[[Sequence[torch.Tensor]], torch.Tensor]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}
#: how the MLP sees the logits: "plain" (raw logits in and out, the paper's form) or "sigmoid"
#: (policies in, σ'(θ_i)-scaled out; measured worse in the IPD, see docs/algorithms/cola.md)
_STRUCTURES = ("plain", "sigmoid")


def _positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a (non-negative) integer."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"COLAConfig.{name} must be {kind} integer, got {value!r}")


@dataclass(frozen=True)
class COLAConfig:
    """Hyper-parameters of COLA's training of the update functions (validated on construction).

    :param hidden: widths of the MLPs' hidden layers (tanh: the targets differentiate ``h`` in θ,
        so ``h`` must be smooth).
    :param eta: look-ahead rate η (also the learning rate the rule is meant to be played with).
    :param sample_std: joint points are drawn from N(0, sample_std²) per logit.
    :param batch_size: points per training step (fresh points every step).
    :param steps: Adam steps; 0 leaves the networks at their initialisation.
    :param lr: Adam's learning rate, decayed with a cosine schedule to ``lr * final_lr_ratio``.
    :param final_lr_ratio: learning-rate ratio at the last step (1 = constant learning rate).
    :param seed: seeds both the networks' initialisation and the sampled points.
    :param dtype: ``"float64"`` (like :func:`run_exact`'s default) or ``"float32"``.
    :param structure: ``"plain"``: ``h_i = MLP(θ / σ)`` on the raw logits (an MLP of the parameters,
        as we read the paper);
        ``"sigmoid"``: ``h_i = σ'(θ_i) ⊙ MLP(2σ(θ)-1)`` (bounded inputs, no loss of generality for
        sigmoid policies, but a higher consistency loss and less cooperation in our IPD runs).
    :param threads: torch CPU threads while training; ``None`` leaves torch's setting alone.
    """

    hidden: tuple[int, ...] = (64, 64)
    eta: float = 1.0
    sample_std: float = 1.0
    batch_size: int = 256
    steps: int = 1000
    lr: float = 1e-2
    final_lr_ratio: float = 0.05
    seed: int = 0
    dtype: str = "float64"
    structure: str = "plain"
    threads: int | None = 1

    def __post_init__(self) -> None:
        hidden = (self.hidden,) if isinstance(self.hidden, int) else tuple(self.hidden)
        if not hidden:
            raise ValueError("COLAConfig.hidden must list at least one hidden width, got ()")
        for width in hidden:
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ValueError(f"COLAConfig.hidden widths must be positive integers, got {self.hidden!r}")
        object.__setattr__(self, "hidden", hidden)
        # `not x > 0` also rejects NaN; infinities make the targets meaningless.
        if not (math.isfinite(self.eta) and self.eta >= 0.0):
            raise ValueError(f"COLAConfig.eta (look-ahead rate) must be finite and >= 0, got {self.eta!r}")
        if not (math.isfinite(self.sample_std) and self.sample_std > 0.0):
            raise ValueError(f"COLAConfig.sample_std must be finite and > 0, got {self.sample_std!r}")
        _positive_int("batch_size", self.batch_size)
        _positive_int("steps", self.steps, allow_zero=True)
        if not (math.isfinite(self.lr) and self.lr > 0.0):
            raise ValueError(f"COLAConfig.lr must be finite and > 0, got {self.lr!r}")
        if not (0.0 < self.final_lr_ratio <= 1.0):
            raise ValueError(f"COLAConfig.final_lr_ratio must lie in (0, 1], got {self.final_lr_ratio!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"COLAConfig.seed must be an integer, got {self.seed!r}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"COLAConfig.dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.structure not in _STRUCTURES:
            raise ValueError(f"COLAConfig.structure must be one of {list(_STRUCTURES)}, got {self.structure!r}")
        if self.threads is not None:
            _positive_int("threads", self.threads)


class _UpdateNet(nn.Module):
    """One player's update function: an MLP from the joint logits to that player's direction."""

    in_scale: torch.Tensor
    out_scale: torch.Tensor

    def __init__(self, dims: Sequence[int], player: int, hidden: Sequence[int], structure: str = "plain") -> None:
        super().__init__()
        self.player = player
        self.structure = structure
        layers: list[nn.Module] = []
        width = sum(dims)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.Tanh()]
            width = h
        layers.append(nn.Linear(width, dims[player]))
        self.mlp = nn.Sequential(*layers)
        # Fixed affine maps fitted before training (see train_cola): unit-scale inputs and outputs
        # keep Adam's step sizes meaningful although the IPD's gradients are O(10).
        self.register_buffer("in_scale", torch.ones(()))
        self.register_buffer("out_scale", torch.ones(()))

    def forward(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        """Player ``self.player``'s direction ``(B, d_i)`` at the joint points ``params``."""
        own = params[self.player]
        if self.structure == "sigmoid":
            # Inputs are the policies 2σ(θ)-1 ∈ [-1, 1]: trajectories never leave the training
            # domain however large the logits grow.  The output carries ∇_θ's chain-rule factor
            # σ'(θ_i) — every consistent h_i has it (V depends on θ only through σ(θ)) — so the
            # step vanishes where the policy saturates, as the true gradient does.
            x = torch.cat([2.0 * torch.sigmoid(p.flatten(1)) - 1.0 for p in params], dim=1).to(self.in_scale.dtype)
            s = torch.sigmoid(own.flatten(1)).to(self.in_scale.dtype)
            out = s * (1.0 - s) * self.out_scale * self.mlp(x)
        else:
            x = torch.cat([p.flatten(1) for p in params], dim=1).to(self.in_scale.dtype)
            out = self.out_scale * self.mlp(x / self.in_scale)
        return out.to(own.dtype).view_as(own)


class COLAUpdate(nn.Module):
    """The learned pair of update functions ``(h_1, h_2)`` with what they were trained on.

    ``update(params)`` gives both directions; ``update.update_fns`` is the pair of callables that
    :func:`consistency_loss` scores.  Play it with ``θ_i ← θ_i + η h_i(θ)`` (:func:`cola_learner`).
    """

    def __init__(self, dims: Sequence[int], config: COLAConfig, game: str = "", gamma: float = float("nan")) -> None:
        super().__init__()
        if len(dims) != 2:
            raise ValueError(f"COLA is defined for two players; got parameter sizes {tuple(dims)}")
        self.dims = tuple(int(d) for d in dims)
        self.config = config
        self.game = game
        self.gamma = float(gamma)
        self.nets = nn.ModuleList([_UpdateNet(self.dims, i, config.hidden, config.structure) for i in range(2)])
        #: consistency loss per training step (the training batch's, before that step's update)
        self.history: list[float] = []
        self.to(_DTYPES[config.dtype])

    @property
    def update_fns(self) -> tuple[UpdateFn, UpdateFn]:
        """``(h_1, h_2)`` as callables ``params -> direction``."""
        return (self.nets[0], self.nets[1])

    def forward(self, params: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Both players' directions ``(h_1(θ), h_2(θ))``."""
        return self.nets[0](params), self.nets[1](params)

    def save(self, path: str | Path) -> Path:
        """Write weights and metadata atomically (temporary file in the same folder, then ``os.replace``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": "lola_zoo.cola/1",
            "dims": list(self.dims),
            "config": {**asdict(self.config), "hidden": list(self.config.hidden)},
            "game": self.game,
            "gamma": self.gamma,
            "history": list(self.history),
            "state_dict": self.state_dict(),
        }
        # Same folder as the target: os.replace is atomic only within one file system, so a reader
        # never sees a half-written file and an interrupted save leaves the old one intact.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(payload, fh)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> "COLAUpdate":
        """Read a pair written by :meth:`save` (tensors and plain values only: ``weights_only``)."""
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != "lola_zoo.cola/1":
            raise ValueError(f"{path} is not a COLA update file written by COLAUpdate.save")
        raw = dict(payload["config"])
        raw["hidden"] = tuple(raw["hidden"])
        update = cls(payload["dims"], COLAConfig(**raw), payload["game"], payload["gamma"])
        update.load_state_dict(payload["state_dict"])
        update.history = list(payload["history"])
        return update


def consistency_targets(
    update_fns: Sequence[UpdateFn], value_fn: ValueFn, params: Sequence[torch.Tensor], eta: float,
    create_graph: bool = True,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(h_i(θ), ∇_i V_i(θ_i, θ_j + η h_j(θ)))`` for both players at the points ``params``.

    ``params`` must require grad and be the tensors the update functions were called on, so the
    target differentiates through the opponent's step ``h_j(θ)`` (opponent shaping).
    """
    if len(update_fns) != 2 or len(params) != 2:
        raise ValueError(f"need two update functions and two parameter tensors, got {len(update_fns)}, {len(params)}")
    h = [fn(params) for fn in update_fns]
    targets = []
    for i in range(2):
        j = 1 - i
        shifted = [params[i], params[j] + eta * h[j]] if i == 0 else [params[j] + eta * h[j], params[i]]
        v = value_fn(shifted)[:, i].sum()  # points are independent: the sum's gradient is per-point
        (g,) = torch.autograd.grad(v, params[i], create_graph=create_graph, retain_graph=True, allow_unused=True)
        targets.append(torch.zeros_like(params[i]) if g is None else g)
    return h, targets


def consistency_loss(
    update_fns: Sequence[UpdateFn], value_fn: ValueFn, points: Sequence[torch.Tensor], eta: float,
    reduction: str = "mean", create_graph: bool = True,
) -> torch.Tensor:
    """COLA's consistency loss ``‖h_1 − ∇_1V_1(θ_1, θ_2+ηh_2)‖² + ‖h_2 − ∇_2V_2(θ_1+ηh_1, θ_2)‖²`` of any pair.

    :param update_fns: ``(h_1, h_2)``, each ``params -> (B, d_i)`` direction; differentiable in
        ``params`` (COLA's nets, :func:`learner_update_fns`, :func:`exact_hola_update_fns`).
    :param value_fn: ``params -> V (B, 2)``, e.g. :func:`lola_zoo.experiments.exact.make_value_fn`.
    :param points: the joint points ``(θ_1, θ_2)``, batch first; they are detached, not modified.
    :param eta: look-ahead rate η.
    :param reduction: ``"mean"`` over points (a scalar) or ``"none"`` (per point, shape ``(B,)``).
    :param create_graph: keep the graph (needed to train on the loss); ``False`` for evaluation.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    # Fresh leaves: the targets differentiate in θ, and the caller's tensors stay untouched.
    params = [p.detach().requires_grad_(True) for p in points]
    with torch.enable_grad():
        h, targets = consistency_targets(update_fns, value_fn, params, eta, create_graph=True)
        per_point = sum(((hi - ti) ** 2).flatten(1).sum(1) for hi, ti in zip(h, targets))
    assert isinstance(per_point, torch.Tensor)
    if not create_graph:
        per_point = per_point.detach()
    return per_point.mean() if reduction == "mean" else per_point


def _with_graph(rule: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """``rule`` with ``create_graph=True`` when it is a partial of a function taking that keyword."""
    if isinstance(rule, functools.partial):
        try:
            takes = "create_graph" in inspect.signature(rule.func).parameters
        except (TypeError, ValueError):
            takes = False
        if takes:
            return functools.partial(rule.func, *rule.args, **{**rule.keywords, "create_graph": True})
    return rule


def learner_update_fns(
    learner: Learner | str, value_fn: ValueFn, **hyper_parameters: float
) -> tuple[UpdateFn, UpdateFn]:
    """Both players' directions of an exact-rules learner (e.g. ``"lola"``, ``"hola"``) as differentiable update functions.

    The learner's rules see the joint point as :class:`Derivatives` at offset 0 of
    ``q -> value_fn(θ + q)``: derivatives in ``q`` at 0 equal those in θ, while the result stays a
    differentiable function of the caller's θ (``Derivatives`` itself detaches its inputs).  The
    built-in corrections are re-bound with ``create_graph=True`` so their θ-dependence survives;
    a custom rule that hard-codes ``create_graph=False`` would lose it.
    """
    if isinstance(learner, str):
        learner = make_learner(learner, **hyper_parameters)
    graphed = Learner(learner.name, _with_graph(learner.base), tuple(_with_graph(c) for c in learner.corrections), True)

    def direction(player: int, params: Sequence[torch.Tensor]) -> torch.Tensor:
        anchor = list(params)
        d = Derivatives(lambda q: value_fn([a + x for a, x in zip(anchor, q)]),
                        [torch.zeros_like(a) for a in anchor], create_graph=True)
        return graphed.direction(d, player)

    return functools.partial(direction, 0), functools.partial(direction, 1)


def naive_update_fns(value_fn: ValueFn) -> tuple[UpdateFn, UpdateFn]:
    """Naive learning ``h_i = ∇_i V_i`` as a pair of differentiable update functions (HOLA order 0)."""
    return exact_hola_update_fns(value_fn, eta=0.0, order=0)


def exact_hola_update_fns(value_fn: ValueFn, eta: float, order: int) -> tuple[UpdateFn, UpdateFn]:
    """Exact higher-order LOLA: ``h^(k)_i = ∇_i V_i(θ_i, θ_j + η h^(k-1)_j)``, ``h^(0)_i = ∇_i V_i``.

    Order 1 is exact LOLA (opponent assumed naive, the ``"exact-lola"`` learner), order 2 assumes an
    exact-LOLA opponent, and so on: the fixed-point iteration of COLA's consistency equations, so
    ``consistency_loss`` of order k measures how far k iterations are from a fixed point.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order of exact HOLA must be a non-negative integer, got {order!r}")

    def h(k: int, player: int, params: Sequence[torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            if k == 0:
                v = value_fn(params)[:, player].sum()
            else:
                j = 1 - player
                step = eta * h(k - 1, j, params)
                shifted = [p + step if n == j else p for n, p in enumerate(params)]
                v = value_fn(shifted)[:, player].sum()
            # The graph is kept: the next order (and the consistency loss) differentiates this in θ.
            (g,) = torch.autograd.grad(v, params[player], create_graph=True, allow_unused=True)
        return torch.zeros_like(params[player]) if g is None else g

    def top(player: int, params: Sequence[torch.Tensor]) -> torch.Tensor:
        # Points that carry no graph (plain evaluation) become leaves so there is something to differentiate.
        if not all(p.requires_grad for p in params):
            params = [p if p.requires_grad else p.detach().requires_grad_(True) for p in params]
        return h(order, player, params)

    return functools.partial(top, 0), functools.partial(top, 1)


def sample_points(
    dims: Sequence[int], n: int, std: float, generator: torch.Generator, dtype: torch.dtype = torch.float64
) -> list[torch.Tensor]:
    """``n`` joint points, each player's logits drawn from N(0, std²) with ``generator``."""
    return [std * torch.randn((n, d), generator=generator, dtype=dtype) for d in dims]


def _game_and_value_fn(game: Any, gamma: float | None) -> tuple[str, float, ValueFn, tuple[int, int]]:
    """Resolve a game id or :class:`MatrixGame` into (id, γ, value function, per-player logit sizes)."""
    import lola_zoo
    from lola_zoo.experiments.exact import PAPER_GAMMA, make_value_fn

    stage = lola_zoo.game(game) if isinstance(game, str) else game
    name = game if isinstance(game, str) else getattr(stage, "name", "")
    if stage.n_players != 2 or tuple(stage.n_actions) != (2, 2):
        raise ValueError(f"COLA here needs a two-player 2x2 iterated game (memory-1 logits); got {name!r}")
    gamma = float(gamma) if gamma is not None else PAPER_GAMMA.get(name, 0.96)
    value_fn = make_value_fn(stage, gamma)
    dims = (stage.n_states, stage.n_states)
    return name, gamma, value_fn, dims  # type: ignore[return-value]


def train_cola(
    game: Any = "ipd", gamma: float | None = None, config: COLAConfig | None = None, progress: bool = False
) -> COLAUpdate:
    """Train COLA's update functions on ``game`` (id or MatrixGame) by Adam on the consistency loss.

    Deterministic given ``config.seed``: the networks are initialised inside a forked RNG seeded
    with it (the caller's global RNG is left alone) and points come from a seeded generator.
    ``gamma=None`` takes the paper's discount for the game (IPD 0.96).
    """
    config = config or COLAConfig()
    name, gamma, value_fn, dims = _game_and_value_fn(game, gamma)
    dtype = _DTYPES[config.dtype]
    from tqdm.auto import tqdm

    with torch_threads(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        update = COLAUpdate(dims, config, name, gamma)
        gen = torch.Generator().manual_seed(config.seed)
        # Scale the nets' inputs by σ and outputs by the RMS naive gradient at σ-points: the MLP
        # then fits O(1) quantities; the scales are fixed buffers, saved with the weights.
        probe = sample_points(dims, 1024, config.sample_std, torch.Generator().manual_seed(config.seed + 1), dtype)
        naive = [fn(probe).detach() for fn in naive_update_fns(value_fn)]
        for i, net in enumerate(update.nets):
            assert isinstance(net, _UpdateNet)
            net.in_scale.fill_(config.sample_std)
            target = naive[i]
            if config.structure == "sigmoid":  # the MLP fits ∇_θ V / σ'(θ), i.e. ∇_p V
                s = torch.sigmoid(probe[i])
                target = target / (s * (1 - s)).mean()
            net.out_scale.fill_(float(target.pow(2).mean().sqrt().clamp_min(1e-8)))
        opt = torch.optim.Adam(update.parameters(), lr=config.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: config.final_lr_ratio + (1 - config.final_lr_ratio) * 0.5 * (1 + math.cos(math.pi * s / max(config.steps, 1)))
        )
        bar = tqdm(total=config.steps, desc=f"COLA {name}", disable=not progress, leave=False, unit="step")
        with bar:
            for _ in range(config.steps):
                points = sample_points(dims, config.batch_size, config.sample_std, gen, dtype)
                loss = consistency_loss(update.update_fns, value_fn, points, config.eta)
                if not torch.isfinite(loss):
                    raise RuntimeError(f"COLA training diverged (loss {float(loss)}); lower COLAConfig.lr or eta")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                update.history.append(float(loss.detach()))
                bar.set_postfix(loss=f"{update.history[-1]:.3g}", refresh=False)
                bar.update(1)
    return update


def cola_learner(update: COLAUpdate, name: str = "cola") -> Learner:
    """An exact-rules :class:`Learner` whose direction for player i is ``h_i(θ_1, θ_2)``.

    Plays the paper's rule with ``lr = update.config.eta`` (``θ_i ← θ_i + η h_i``); the learned
    functions ignore the value function, so the rule needs no derivatives of V.
    """

    def rule(d: Derivatives, i: int) -> torch.Tensor:
        return update.nets[i](d.params)

    return Learner(name, rule, (), False)


def register_cola(update: COLAUpdate, name: str = "cola", override: bool = False) -> None:
    """Register ``update`` as learner ``name`` so :class:`ExactConfig` / :func:`run_exact` can use it.

    The factory accepts and ignores the usual keyword hyper-parameters (``eta``, ``a``, ``b``,
    ``order``): η is baked into the trained functions (``update.config.eta``).
    """
    learner = cola_learner(update, name)

    def factory(**_: float) -> Learner:
        return learner

    description = f"COLA: learned consistent update functions (η={update.config.eta:g}, {update.game or 'game'})"
    register_learner(name, factory, description, override=override)


_TRAINED: dict[tuple[str, float, COLAConfig], COLAUpdate] = {}


def trained_cola(game: str = "ipd", gamma: float | None = None, config: COLAConfig | None = None,
                 progress: bool = False) -> COLAUpdate:
    """:func:`train_cola`, memoised per (game, gamma, config) in this process (entrants and CLI runs share one)."""
    config = config or COLAConfig()
    name, discount, _, _ = _game_and_value_fn(game, gamma)
    key = (name, discount, config)
    if key not in _TRAINED:
        _TRAINED[key] = train_cola(name, discount, config, progress=progress)
    return _TRAINED[key]

