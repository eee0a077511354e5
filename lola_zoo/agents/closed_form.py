"""Closed-form first and mixed second derivatives of the exact value in two-player 2×2 games.

Autograd computes LOLA's shaping term by differentiating a graph through ``torch.linalg.solve``
twice, which costs hundreds of small kernels per update.  For the paper's setting (two players,
two actions, memory-1 tabular logits, closed-form discounted value) every quantity the learning
rules need has a short formula, written out below; a batch of seeds then costs one batched 4×4
inverse and about a hundred elementwise kernels per update, with no graph recorded.
``tests/test_closed_form.py`` checks values, gradients, the mixed products and every rule's
direction against the autograd path to 1e-10 in float64.

Notation (seat order, states ``s = 0..4``: start, then the previous joint action CC, CD, DC, DD):

* ``p_s = σ(θ_0[s])`` and ``q_s = σ(θ_1[π(s)])`` — P(first action) of the row and column player,
  ``π`` mapping a seat-order state to player 1's own view of it.
* ``J[k, s]`` — P(joint action ``k`` | state ``s``); ``M = I − γ J[:, 1:]``.
* ``x = M⁻¹ J[:, 0]`` — discounted visits of each joint action; ``V_i = r_i · x``.
* ``w = (1, γ x)`` — discounted visits of each *state*.
* ``u_i = M⁻ᵀ r_i`` — the value of each joint action being played (its reward, then onwards).

Then ``∂V_i/∂θ_0[s] = w_s p_s(1−p_s) h_s`` with ``h_s = q_s (u_CC − u_DC) + (1 − q_s)(u_CD − u_DD)``
(the column player's is the same with rows and columns exchanged), and a directional derivative of
that gradient along the other player's parameters follows from ``dx = M⁻¹ dJ w`` and
``du = γ M⁻ᵀ dJ[:, 1:]ᵀ u``: the mixed Hessian-vector products LOLA, LookAhead, SOS and exact LOLA
are built from.
"""

from __future__ import annotations

from typing import Sequence

import torch

from lola_zoo.agents.exact_rules import Derivatives
from lola_zoo.envs.exact import payoff_matrix
from lola_zoo.envs.games import MatrixGame
from lola_zoo.envs.iterated import perspective_tables

__all__ = ["TwoByTwoValue", "ClosedFormDerivatives"]


def _sum(x: torch.Tensor, dim: int, keepdim: bool = False) -> torch.Tensor:
    """Sum over a short axis as explicit adds in index order.

    torch's reduction kernels pick their summation order from the tensor's shape, so a seed's
    result would depend on how many other seeds share the batch (last-bit differences that the
    chaotic LOLA dynamics grow to O(1) within 200 updates).  Adding slices in a fixed order keeps
    every seed's trajectory bitwise independent of the batch around it.
    """
    parts = x.unbind(dim)
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out.unsqueeze(dim) if keepdim else out


def _sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``σ(x)`` of a ``(5, B)`` table, contiguous, with the same bits for a seed whatever the batch.

    torch evaluates ``exp`` with SIMD code and the last few elements of a buffer with scalar code,
    which differ in the last bit; padding the buffer puts that tail on padding.  (The layout
    matters too: elementwise ops keep their input's strides, and a transposed table would make
    every later kernel ~3x slower.)
    """
    return torch.sigmoid(torch.nn.functional.pad(x, (0, _TAIL)))[:, : x.shape[1]].contiguous()


#: more elements than torch's widest SIMD loop leaves to scalar code (2 vectors of 16 floats)
_TAIL = 32


class TwoByTwoValue:
    """``params -> V (B, 2)`` for a two-player 2×2 game with memory-1 tabular logits ``(B, 5)``.

    Callable like any :data:`~lola_zoo.agents.exact_rules.ValueFn` (differentiable, so autograd
    rules still work); :meth:`derivatives` additionally hands the rules closed-form derivatives.
    Other parameter layouts fall back to the general :func:`~lola_zoo.envs.exact.exact_value`.

    :param game: a two-player game with two actions each.
    :param gamma: the discount, a float in (0, 1), or one per batch row (a grid over γ).
    """

    def __init__(self, game: MatrixGame, gamma: float | torch.Tensor) -> None:
        if game.n_players != 2 or tuple(game.n_actions) != (2, 2):
            raise ValueError(f"closed-form values need a two-player 2x2 game; {game.name!r} is not one")
        self.game = game
        self.gamma = gamma
        self.per_row = isinstance(gamma, torch.Tensor) and gamma.numel() > 1
        perm = [0, *perspective_tables(game)[1].tolist()]
        self.perm = torch.tensor(perm)  # seat-order state s -> player 1's own state index
        self.inverse_perm = torch.argsort(self.perm)  # player 1's state -> seat-order state
        self._cache: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, ...]] = {}

    def applies(self, params: Sequence[torch.Tensor]) -> bool:
        """Whether ``params`` are two ``(B, 5)`` logit tables (the layout the formulas are for)."""
        return (len(params) == 2 and params[0].dim() == 2 and params[0].shape[-1] == 5
                and params[1].shape == params[0].shape)

    def _constants(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        key = (like.dtype, like.device)
        if key not in self._cache:
            self._cache[key] = (
                payoff_matrix(self.game, like.dtype, like.device),  # (2, 4)
                torch.eye(4, dtype=like.dtype, device=like.device).unsqueeze(-1),
                self.perm.to(like.device), self.inverse_perm.to(like.device),
                torch.tensor([(0, 1, 2, 3), _FLIP], device=like.device).view(2, 4, 1),  # per player slot
            )
        return self._cache[key]

    def _gamma(self, like: torch.Tensor) -> torch.Tensor | float:
        """γ as a float, or as a ``(B,)`` vector (the batch-last layout's last axis) when every row has its own."""
        if self.per_row:
            return self.gamma.to(like).reshape(-1)  # type: ignore[union-attr]
        return float(self.gamma)  # type: ignore[arg-type]

    def __call__(self, params: Sequence[torch.Tensor]) -> torch.Tensor:
        """Discounted values ``V (B, 2)`` (unnormalised), differentiable in ``params``."""
        if not self.applies(params):
            if self.per_row:
                raise ValueError("a discount per row needs the tabular memory-1 layout (B, 5)")
            from lola_zoo.envs.exact import exact_value

            return exact_value(self.game, params, float(self.gamma))  # type: ignore[arg-type]
        return _Point(self, params, derivatives=False).values

    def derivatives(self, params: Sequence[torch.Tensor], create_graph: bool) -> "ClosedFormDerivatives | None":
        """Closed-form :class:`Derivatives` at ``params``, or ``None`` when the layout does not apply."""
        return ClosedFormDerivatives(self, params, create_graph) if self.applies(params) else None


#: flat joint index (a_0, a_1) -> (a_1, a_0): the same 2×2 layout seen from the column player's seat
_FLIP = (0, 2, 1, 3)


def _orient(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Stacked per-player joint vectors ``(2, 4, B)``: player 1's slot re-read from its own seat (an involution)."""
    return torch.gather(x, 1, flip.expand_as(x))


def _h(u: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """``h_s = o_s (u_CC − u_DC) + (1 − o_s)(u_CD − u_DD)`` in a player's own orientation, per state.

    How much switching one's own action is worth in state ``s`` given the other plays its first
    action with probability ``o_s``; ``u`` is ``(..., 4, B)``, ``opp`` ``(..., 5, B)``.
    """
    first, second = u[..., 0:1, :] - u[..., 2:3, :], u[..., 1:2, :] - u[..., 3:4, :]
    return torch.lerp(second, first, opp)  # one kernel for second + opp * (first - second)


class _Point:
    """Every closed-form quantity at one joint parameter point, batched over seeds.

    Layout: the batch is the *last* axis, so every kernel runs over contiguous seeds and the tiny
    state / joint-action axes are reduced as outer loops (a sum over a trailing axis of size 4 is
    about 5× slower in torch on the CPU).  Both players' quantities share one tensor with a leading
    player axis ``i`` (whose parameters are differentiated): at B = 1000 the cost is the number of
    kernels, not the arithmetic.  States are in seat order inside; player 1's vectors are converted
    to its own state order at the :meth:`grad` / :meth:`mixed` boundary.
    """

    def __init__(self, fn: TwoByTwoValue, params: Sequence[torch.Tensor], derivatives: bool = True) -> None:
        """Values at ``params``, and with ``derivatives`` what the first derivatives and mixed products need."""
        th0, th1 = params
        r, eye, self.perm, self.inverse_perm, self.flip = fn._constants(th0)
        self.gamma = g = fn._gamma(th0)
        p = _sigmoid(th0.T)
        q = _sigmoid(th1.T.index_select(0, self.perm))  # column player's P(first action), seat-order states
        self.own = torch.stack([p, q])  # (2, 5, B): player i's own P(first action)
        self.opp = self.own.flip(0)  # the other player's
        self.d_own = torch.addcmul(self.own, self.own, self.own, value=-1.0)  # σ' = σ - σ², one kernel
        np_, nq = 1.0 - p, 1.0 - q
        joint = torch.stack([p * q, p * nq, np_ * q, np_ * nq])  # (4, 5, B): J[k, s]
        m = eye - g * joint[:, 1:]
        # LAPACK wants the batch first; the formulas want it last and contiguous (strided operands cost ~10x)
        # M is strictly diagonally dominant for γ < 1, so no pivoting or error check is needed; a γ that
        # rounds to 1 in float32 makes it singular, and the runners then report non-finite values.
        self.minv = torch.linalg.inv_ex(m.permute(2, 0, 1))[0].permute(1, 2, 0).contiguous()  # (4, 4, B)
        p0 = joint[:, 0]
        x = _sum(self.minv * p0, 1)  # discounted visits of each joint action, (4, B)
        uk = _sum(r.view(2, 4, 1, 1) * self.minv, 1)  # (2 [k], 4, B): u_k = M^-T r_k
        self.values = _sum(uk * p0, 1).T.contiguous()  # V_k = u_k . p0 = r_k . x, as a row-major (B, 2)
        if not derivatives:  # a plain value call (final values, autograd users such as COLA and M-FOS)
            return
        self.w = torch.cat([torch.ones_like(x[:1]), g * x])  # (5, B): discounted visits of each state
        # u[rel][i]: the joint-action values of V_k seen from player i's seat, k = i (rel 0, its own
        # value) or the other's (rel 1), so LOLA's and LookAhead's per-player selections are slices.
        # Kept as two (2, ., B) tensors: 4-D broadcasting in torch's CPU kernels is ~5x slower.
        seen_by_1 = uk.index_select(1, self.flip[1, :, 0])
        self.u = (torch.stack([uk[0], seen_by_1[1]]), torch.stack([uk[1], seen_by_1[0]]))
        self.h = tuple(_h(u, self.opp) for u in self.u)  # (2 [i], 5, B) per rel
        visits = self.w * self.d_own
        self.g_seat = tuple(visits * h for h in self.h)  # ∂V_k/∂θ_i[s] per rel, seat-order states
        self._grad: dict[tuple[int, int], torch.Tensor] = {}
        self._mixed: dict[str, torch.Tensor] = {}

    def _own_order(self, seat: torch.Tensor, i: int) -> torch.Tensor:
        """A seat-order ``(5, B)`` vector of player i as ``(B, 5)`` in i's own state order."""
        return (seat if i == 0 else seat.index_select(0, self.inverse_perm)).T

    def grad(self, k: int, i: int) -> torch.Tensor:
        """``∇_{θ_i} V_k`` in player i's own state order, ``(B, 5)``."""
        key = (k, i)
        if key not in self._grad:
            self._grad[key] = self._own_order(self.g_seat[int(k != i)][i], i)
        return self._grad[key]

    def mixed_both(self, rel: int, v_seat: torch.Tensor) -> torch.Tensor:
        """For both players i at once: ``∇_{θ_i} [v_i · ∇_{θ_j} V_k]`` (j the other), seat order.

        ``k`` is i itself (``rel = 0``, LookAhead's product) or j (``rel = 1``, LOLA's shaping);
        ``v_seat (2, 5, B)``: slot i holds a direction on the *other* player's parameters.
        """
        g = self.gamma
        # V_k's joint-action values from i's seat, and from the other's seat (for whom k is 1 - rel)
        u, h_me, h_other = self.u[rel], self.h[rel], self.h[1 - rel].flip(0)
        d_opp = self.d_own.flip(0) * v_seat  # how the other's P(first action) moves, per state
        # du = γ M^-T dJ[:, 1:]^T u: the joint-action values moving with the other's policy (seat order)
        du = g * _sum(self.minv * (d_opp[:, 1:] * h_other[:, 1:]).unsqueeze(2), 1)
        # dx = M^-1 dJ w: the visits moving; dJ w in one's own orientation is (m0, -m0, m1, -m1)
        wd = self.w * d_opp
        m0 = _sum(wd * self.own, 1, keepdim=True)
        m1 = _sum(wd, 1, keepdim=True) - m0
        e = _orient(torch.cat([m0, -m0, m1, -m1], dim=1), self.flip)
        dx = _sum(self.minv * e.unsqueeze(1), 2)
        dw = torch.cat([torch.zeros_like(dx[:, :1]), g * dx], dim=1)
        cross = (u[:, 0:1] - u[:, 2:3]) - (u[:, 1:2] - u[:, 3:4])
        dh = torch.addcmul(_h(_orient(du, self.flip), self.opp), d_opp, cross)
        return self.d_own * torch.addcmul(self.w * dh, dw, h_me)

    def mixed(self, k: int, i: int, v: torch.Tensor, pattern: str | None = None) -> torch.Tensor:
        """``∇_{θ_i} [v · ∇_{θ_j} V_k]`` for the other player j, ``v (B, 5)`` in j's own state order.

        ``pattern`` names a product every player asks for (LOLA's ``"shaping"``, ``"lookahead"``):
        it is computed for both players in one pass at the first request and kept.
        """
        if pattern is not None and pattern in self._mixed:
            both = self._mixed[pattern]
        else:
            if pattern == "shaping":  # k = j: V_j moved along ∇_j V_i (the other's gradient of i's value)
                both = self.mixed_both(1, self.g_seat[1].flip(0))
            elif pattern == "lookahead":  # k = i: V_i moved along ∇_j V_j
                both = self.mixed_both(0, self.g_seat[0].flip(0))
            else:  # a one-off: both slots carry the request, the other slot is discarded
                v_seat = v.T if i == 1 else v.T.index_select(0, self.perm)
                both = self.mixed_both(int(k != i), v_seat.expand(2, *v_seat.shape))
            if pattern is not None:
                self._mixed[pattern] = both
        return self._own_order(both[i], i)


class ClosedFormDerivatives(Derivatives):
    """:class:`Derivatives` whose first derivatives and mixed products come from the formulas above.

    With ``create_graph=False`` nothing is recorded for autograd (the rules that only combine first
    derivatives and mixed products run as plain tensor arithmetic).  With ``create_graph=True`` the
    parameters require grad and every returned quantity is a differentiable torch expression, so
    rules that differentiate further (higher-order LOLA, user corrections) work unchanged.
    """

    def __init__(self, fn: TwoByTwoValue, params: Sequence[torch.Tensor], create_graph: bool = True) -> None:
        self.value_fn = fn
        self.create_graph = create_graph
        self.params = tuple(p.detach().requires_grad_(create_graph) for p in params)
        self.point = _Point(fn, self.params)
        self.values = self.point.values
        self._grads: dict[int, tuple[torch.Tensor, ...]] = {}
        self.memo: dict[object, object] = {}

    def grad(self, i: int, j: int) -> torch.Tensor:
        """``∇_{θ_j} V_i`` per seed, in closed form."""
        return self.point.grad(i, j)

    def mixed_vp(self, k: int, i: int, j: int, v: torch.Tensor, create_graph: bool = False) -> torch.Tensor:
        """``∇_{θ_i} [v · ∇_{θ_j} V_k]`` per seed, in closed form (``v`` held fixed)."""
        if i == j or not self.create_graph and create_graph:
            raise ValueError(f"closed-form mixed products need i != j and no graph beyond the derivatives' own; "
                             f"got i={i}, j={j}, create_graph={create_graph}")
        pattern = None
        if v is self.grad(i, j) and k == j:
            pattern = "shaping"
        elif v is self.grad(j, j) and k == i:
            pattern = "lookahead"
        return self.point.mixed(k, i, v, pattern)

    def at(self, params: Sequence[torch.Tensor]) -> "ClosedFormDerivatives":
        """The same derivatives at another joint point (exact LOLA's looked-ahead parameters)."""
        other = ClosedFormDerivatives.__new__(ClosedFormDerivatives)
        other.value_fn, other.create_graph, other.params = self.value_fn, self.create_graph, tuple(params)
        other.point = _Point(self.value_fn, other.params)  # type: ignore[arg-type]
        other.values, other._grads, other.memo = other.point.values, {}, {}
        return other
