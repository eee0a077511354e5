"""Classic tabular learners of the paper's tournament, batched over independent runs.

* **NL-Q** — independent Q-learning with epsilon-greedy exploration (Watkins 1992), the paper's NL-Q.
* **JAL-Q** — joint-action learner (Claus & Boutilier 1998): Q-values over joint actions, averaged
  under an empirical model of the opponent (counts of its actions per state).
* **PHC** — policy hill-climbing (Bowling & Veloso 2002, Table 1): Q-learning plus a mixed policy
  moved by a small step delta toward the greedy action in every visited state.
* **WoLF-PHC** — PHC with a *variable* step ("Win or Learn Fast", Bowling & Veloso 2002, Table 2):
  delta_win while winning, the larger delta_lose while losing, where winning means the current
  policy's expected Q exceeds that of the running average policy.
* **FP** — fictitious play lifted to the iterated game: an empirical memory-1 model of the
  opponent (Laplace-smoothed counts per state) and an exact best response to it, computed by value
  iteration on the induced 1 + n*m state MDP.

All keep their tables with a leading run dimension ``B`` and learn online, one step at a time, from
``(state, own action, other action, reward, next state)`` seen from their own perspective — so the
same learner object sits in either seat.  ``policy()`` returns the memory-1 policy actually played
(epsilon-greedy included), which is what the exact value of a match needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from lola_zoo.envs.games import MatrixGame

__all__ = [
    "TabularConfig",
    "HillClimbingConfig",
    "TabularLearner",
    "QLearner",
    "JointActionLearner",
    "PolicyHillClimbing",
    "WoLFPolicyHillClimbing",
    "FictitiousPlay",
    "hill_climb_step",
    "wolf_step_size",
    "TABULAR_LEARNERS",
]


@dataclass(frozen=True)
class TabularConfig:
    """Hyper-parameters shared by the tabular learners (defaults: the reference tournament's).

    :param gamma: discount of the learner's own return.
    :param alpha: initial learning rate of the Q update.
    :param alpha_decay: learning rate at step t is ``1 / (1/alpha + t * alpha_decay)``.
    :param epsilon: exploration rate of the epsilon-greedy policy.
    :param value_iterations: sweeps of value iteration per best response (FP), warm-started from the
        previous values, which change little between two steps.
    """

    gamma: float = 0.96
    alpha: float = 1e-2
    alpha_decay: float = 1e-4
    epsilon: float = 0.05
    value_iterations: int = 10

    def __post_init__(self) -> None:
        if not 0.0 < self.gamma < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma}")
        if self.alpha <= 0 or self.alpha_decay < 0:
            raise ValueError(f"alpha must be positive and alpha_decay non-negative, got {self.alpha}, {self.alpha_decay}")
        if not 0.0 <= self.epsilon <= 1.0:
            raise ValueError(f"epsilon must lie in [0, 1], got {self.epsilon}")


@dataclass(frozen=True)
class HillClimbingConfig(TabularConfig):
    """Hyper-parameters of PHC and WoLF-PHC (defaults: WoLF-PHC of the reference tournament).

    The policy step at learner step t is ``1 / (1/delta + t * delta_decay)``; WoLF-PHC takes
    ``delta_lose / delta_win`` times that step while losing.  PHC has one step and uses ``delta_win``.
    The reference code (alshedivat/lola, ``lola/baselines.py``) uses delta = 1e-2, delta_decay = 5e-5
    and a losing step twice the winning one for WoLF-PHC, and delta = 5e-5, delta_decay = 1 for
    PHC (:meth:`PolicyHillClimbing.default_config`); alpha = 1e-2 decaying at 1e-4 for both.

    :param delta_win: policy step while winning (PHC: its only policy step).
    :param delta_lose: policy step while losing (WoLF-PHC only; must exceed ``delta_win``).
    :param delta_decay: decay of the policy step, as ``alpha_decay`` for the Q update.
    :param epsilon: exploration mixed into the played policy, ``(1 - eps) pi + eps / n``.  Bowling &
        Veloso play pi "with some exploration"; without it an action whose probability reached 0 is
        never tried again and its stale Q-value can lock the policy at a vertex.  The reference
        declares eps = 0.05 but its ``act`` ignores it (it clips pi to [1e-8, 1 - 1e-8] instead).
    """

    delta_win: float = 1e-2
    delta_lose: float = 2e-2
    delta_decay: float = 5e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("delta_win", "delta_lose"):
            value = getattr(self, name)
            if not (0.0 < value <= 1.0):
                raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
        if not self.delta_decay >= 0.0:
            raise ValueError(f"delta_decay must be non-negative, got {self.delta_decay!r}")


class TabularLearner:
    """Base of the batched tabular learners: epsilon-greedy play over a per-state action preference.

    :param game: a two-player stage game; the learner may sit in either seat.
    :param seat: 0 or 1, which sets its own and the opponent's action counts.
    :param runs: number of independent runs B.
    :param config: hyper-parameters.
    :param generator: torch random generator (initial tables and exploration).
    """

    name: ClassVar[str] = "tabular"

    def __init__(
        self,
        game: MatrixGame,
        seat: int,
        runs: int,
        config: TabularConfig | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        if game.n_players != 2:
            raise ValueError(f"{self.name} needs a two-player game, {game.name!r} has {game.n_players}")
        if seat not in (0, 1):
            raise ValueError(f"seat must be 0 or 1, got {seat}")
        if runs < 1:
            raise ValueError(f"runs must be positive, got {runs}")
        self.game, self.seat, self.runs = game, seat, runs
        self.config = config or self.default_config()
        self.generator = generator
        self.dtype = dtype
        self.n = game.n_actions[seat]  # own actions
        self.m = game.n_actions[1 - seat]  # opponent's actions
        self.n_states = game.n_states
        # payoff[a, b]: own reward for own action a against opponent action b.
        own = torch.tensor(game.payoffs[seat], dtype=dtype)
        self.payoff = own if seat == 0 else own.T
        self.t = 0
        self._rows = torch.arange(runs)

    @classmethod
    def default_config(cls) -> TabularConfig:
        """The hyper-parameters this learner uses when none are given (the reference tournament's)."""
        return TabularConfig()

    def preferences(self) -> torch.Tensor:
        """Per-state action preferences ``(B, S, n)``; the greedy action maximises them."""
        raise NotImplementedError

    def policy(self) -> torch.Tensor:
        """The memory-1 policy played, epsilon-greedy included: probabilities ``(B, S, n)``."""
        prefs = self.preferences()
        greedy = torch.nn.functional.one_hot(prefs.argmax(-1), self.n).to(self.dtype)
        eps = self.config.epsilon
        return (1.0 - eps) * greedy + eps / self.n

    def act(self, states: torch.Tensor) -> torch.Tensor:
        """Epsilon-greedy actions ``(B,)`` for own-perspective states ``(B,)``."""
        # Only the visited rows are looked at: this runs once per step, the full table need not be.
        greedy = self.preferences()[self._rows, states].argmax(-1)
        explore = torch.rand(self.runs, generator=self.generator) < self.config.epsilon
        uniform = torch.randint(self.n, (self.runs,), generator=self.generator)
        return torch.where(explore, uniform, greedy)

    def learning_rate(self) -> float:
        """Decaying step size ``1 / (1/alpha + t * decay)``."""
        return 1.0 / (1.0 / self.config.alpha + self.t * self.config.alpha_decay)

    def next_state(self, own: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """Own-perspective memory-1 state after joint action (own, other)."""
        return 1 + own * self.m + other

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Learn from one step of every run (all tensors ``(B,)``)."""
        self.t += 1


def _init_q(shape: tuple[int, ...], generator: torch.Generator | None, dtype: torch.dtype) -> torch.Tensor:
    # Random initial Q-values (as the reference tournament) break ties differently in every run.
    return torch.randn(shape, generator=generator, dtype=dtype)


class QLearner(TabularLearner):
    """NL-Q: independent Q-learning over own actions, epsilon-greedy (the paper's NL-Q)."""

    name = "NL-Q"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.q = _init_q((self.runs, self.n_states, self.n), self.generator, self.dtype)

    def preferences(self) -> torch.Tensor:
        """Q(s, a)."""
        return self.q

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Q(s,a) <- (1-lr) Q(s,a) + lr (r + gamma max_a' Q(s',a'))."""
        super().observe(states, own, other, rewards)
        lr = self.learning_rate()
        target = rewards + self.config.gamma * self.q[self._rows, self.next_state(own, other)].max(-1).values
        old = self.q[self._rows, states, own]
        self.q[self._rows, states, own] = (1 - lr) * old + lr * target


class JointActionLearner(TabularLearner):
    """JAL-Q: Q-values over joint actions, averaged under the empirical opponent model (Claus & Boutilier)."""

    name = "JAL-Q"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.q = _init_q((self.runs, self.n_states, self.n, self.m), self.generator, self.dtype)
        self.counts = torch.zeros(self.runs, self.n_states, self.m, dtype=self.dtype)

    def opponent_model(self) -> torch.Tensor:
        """Empirical P(opponent action | state) ``(B, S, m)``; uniform where nothing was seen yet."""
        total = self.counts.sum(-1, keepdim=True)
        return torch.where(total > 0, self.counts / total.clamp_min(1), torch.full_like(self.counts, 1.0 / self.m))

    def preferences(self) -> torch.Tensor:
        """Expected Q under the opponent model: sum_b Q(s, a, b) P(b | s)."""
        return (self.q * self.opponent_model().unsqueeze(-2)).sum(-1)

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Update Q(s, a, b) toward r + gamma max_a' Q'(s', a') and count the opponent's action."""
        super().observe(states, own, other, rewards)
        lr = self.learning_rate()
        nxt = self.next_state(own, other)
        target = rewards + self.config.gamma * self.preferences()[self._rows, nxt].max(-1).values
        old = self.q[self._rows, states, own, other]
        self.q[self._rows, states, own, other] = (1 - lr) * old + lr * target
        self.counts[self._rows, states, other] += 1


def hill_climb_step(pi: torch.Tensor, q: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """One PHC policy step (Bowling & Veloso 2002, Table 1, step 2(c)) on rows ``(B, n)``.

    Every non-greedy action loses ``min(pi(a), delta / (n - 1))`` and the greedy action (argmax of
    ``q``) gains what they lost, so the result is again a distribution — the paper's "constrained to
    a legal probability distribution".  ``delta`` is ``(B,)``, one step per run.
    """
    n = pi.shape[-1]
    greedy = torch.nn.functional.one_hot(q.argmax(-1), n).to(torch.bool)
    loss = torch.minimum(pi, (delta / max(n - 1, 1)).unsqueeze(-1)).masked_fill(greedy, 0.0)
    gain = loss.sum(-1, keepdim=True)
    return pi - loss + greedy.to(pi.dtype) * gain


def wolf_step_size(
    pi: torch.Tensor, pi_avg: torch.Tensor, q: torch.Tensor, delta_win: torch.Tensor | float, delta_lose: torch.Tensor | float
) -> torch.Tensor:
    """WoLF's step ``(B,)`` (Bowling & Veloso 2002, Table 2): delta_win if sum_a pi Q > sum_a pi_avg Q, else delta_lose."""
    winning = (pi * q).sum(-1) > (pi_avg * q).sum(-1)
    win = torch.as_tensor(delta_win, dtype=q.dtype)
    lose = torch.as_tensor(delta_lose, dtype=q.dtype)
    return torch.where(winning, win, lose)


class PolicyHillClimbing(TabularLearner):
    """PHC: Q-learning plus a mixed policy climbed toward the greedy action (Bowling & Veloso 2002, Table 1).

    In each visited memory-1 state s, after the Q update, ``pi(s)`` moves by the step delta toward
    ``argmax_a Q(s, a)`` (:func:`hill_climb_step`).  The learner plays ``pi`` (mixed with
    ``epsilon`` exploration, 0.05 by default).  Defaults follow the reference tournament
    (alshedivat/lola, ``lola/baselines.py``): alpha = 1e-2 decaying at 1e-4, delta = 5e-5 decaying at 1
    per step, policies start uniform, Q-values start N(0, 1).  Deviation: the reference moves only
    the probability of the action just played; we take the paper's step over all actions.
    """

    name = "PHC"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(self.config, HillClimbingConfig):
            raise TypeError(f"{self.name} needs a HillClimbingConfig (it has policy steps), got {type(self.config).__name__}")
        self.q = _init_q((self.runs, self.n_states, self.n), self.generator, self.dtype)
        self.pi = torch.full((self.runs, self.n_states, self.n), 1.0 / self.n, dtype=self.dtype)

    @classmethod
    def default_config(cls) -> HillClimbingConfig:
        """The reference's PHC: delta = 5e-5 decaying at 1 per step (delta_lose is unused)."""
        return HillClimbingConfig(delta_win=5e-5, delta_lose=5e-5, delta_decay=1.0)

    def preferences(self) -> torch.Tensor:
        """Q(s, a) (the direction the policy climbs)."""
        return self.q

    def policy(self) -> torch.Tensor:
        """The mixed policy played: ``(1 - eps) pi + eps / n``."""
        eps = self.config.epsilon
        return self.pi if eps == 0.0 else (1.0 - eps) * self.pi + eps / self.n

    def act(self, states: torch.Tensor) -> torch.Tensor:
        """Sample actions ``(B,)`` from the played policy in each run's state."""
        probs = self.policy()[self._rows, states]
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)

    def policy_step(self) -> float:
        """Decaying policy step ``1 / (1/delta_win + t * delta_decay)``."""
        cfg = self.config
        return 1.0 / (1.0 / cfg.delta_win + self.t * cfg.delta_decay)  # type: ignore[attr-defined]

    def _q_update(self, flat: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> torch.Tensor:
        # Step 2(b): plain Q-learning, as NL-Q, on flat (run, state) rows: one gather/scatter per step.
        q = self.q.view(-1, self.n)
        lr = self.learning_rate()
        nxt = self._rows * self.n_states + self.next_state(own, other)
        target = rewards + self.config.gamma * q[nxt].max(-1).values
        row = q[flat]
        row[self._rows, own] += lr * (target - row[self._rows, own])
        q[flat] = row
        return row

    def step_sizes(self, states: torch.Tensor) -> torch.Tensor:
        """The policy step ``(B,)`` of every run in its visited state."""
        return torch.full((self.runs,), self.policy_step(), dtype=self.dtype)

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Q update, then climb ``pi(s)`` toward the greedy action of the updated Q(s, .)."""
        TabularLearner.observe(self, states, own, other, rewards)
        flat = self._rows * self.n_states + states
        q_row = self._q_update(flat, own, other, rewards)
        pi = self.pi.view(-1, self.n)
        pi[flat] = hill_climb_step(pi[flat], q_row, self.step_sizes(states))


class WoLFPolicyHillClimbing(PolicyHillClimbing):
    """WoLF-PHC: PHC with a small step while winning and a large one while losing (Bowling & Veloso 2002, Table 2).

    Keeps a running average policy ``pi_avg(s) += (pi(s) - pi_avg(s)) / C(s)`` per state; it is
    "winning" in s when ``sum_a pi(s,a) Q(s,a) > sum_a pi_avg(s,a) Q(s,a)`` and then steps by
    delta_win, else by delta_lose > delta_win.  Defaults follow the reference tournament
    (alshedivat/lola, ``lola/baselines.py``): delta_win = 1e-2 decaying at 5e-5, delta_lose = 2 delta_win.
    """

    name = "WoLF-PHC"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        if not cfg.delta_win < cfg.delta_lose:  # type: ignore[attr-defined]
            raise ValueError(f"WoLF-PHC needs delta_win < delta_lose (learn fast when losing), got "
                             f"delta_win={cfg.delta_win!r}, delta_lose={cfg.delta_lose!r}")  # type: ignore[attr-defined]
        self.pi_avg = self.pi.clone()
        self.visits = torch.zeros(self.runs * self.n_states, dtype=self.dtype)
        self.last_step = torch.zeros(self.runs, dtype=self.dtype)  # the step each run took last (diagnostics)

    @classmethod
    def default_config(cls) -> HillClimbingConfig:
        """The reference's WoLF-PHC: delta_win = 1e-2, delta_lose = 2e-2, decaying at 5e-5."""
        return HillClimbingConfig()

    def step_sizes(self, states: torch.Tensor) -> torch.Tensor:
        """delta_win or delta_lose per run, from the current and average policy in its visited state."""
        rows = self._rows
        return self._wolf_step(self.pi[rows, states], self.pi_avg[rows, states], self.q[rows, states])

    def _wolf_step(self, pi: torch.Tensor, pi_avg: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        win = self.policy_step()
        return wolf_step_size(pi, pi_avg, q, win, win * cfg.delta_lose / cfg.delta_win)  # type: ignore[attr-defined]

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Q update, average-policy update, then a WoLF-sized climb of ``pi(s)``."""
        TabularLearner.observe(self, states, own, other, rewards)
        flat = self._rows * self.n_states + states
        q_row = self._q_update(flat, own, other, rewards)
        pi, pi_avg = self.pi.view(-1, self.n), self.pi_avg.view(-1, self.n)
        # Step 2(c) of Table 2: the average policy is updated before the win/lose test.
        self.visits[flat] += 1
        pi_row, avg = pi[flat], pi_avg[flat]
        avg = avg + (pi_row - avg) / self.visits[flat].unsqueeze(-1)
        pi_avg[flat] = avg
        delta = self._wolf_step(pi_row, avg, q_row)
        self.last_step = delta
        pi[flat] = hill_climb_step(pi_row, q_row, delta)


class FictitiousPlay(TabularLearner):
    """FP: best response, by value iteration, to the empirical memory-1 model of the opponent."""

    name = "FP"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A Laplace prior of one count per action keeps the model defined in unseen states.
        self.counts = torch.ones(self.runs, self.n_states, self.m, dtype=self.dtype)
        self._q: torch.Tensor | None = None
        self._v = torch.zeros(self.runs, self.n_states, dtype=self.dtype)
        self._sweeps = 20 * self.config.value_iterations  # a cold start needs more sweeps

    def opponent_model(self) -> torch.Tensor:
        """Smoothed empirical P(opponent action | own-perspective state) ``(B, S, m)``."""
        return self.counts / self.counts.sum(-1, keepdim=True)

    def best_response_q(self) -> torch.Tensor:
        """Q-values ``(B, S, n)`` of the exact best response to the opponent model (value iteration)."""
        if self._q is not None:
            return self._q
        model = self.opponent_model()  # (B, S, m)
        gamma = self.config.gamma
        v = self._v
        for _ in range(self._sweeps):
            # Q(s, a) = sum_b M(b | s) [ r(a, b) + gamma V(next(a, b)) ]; next(a, b) = 1 + a m + b runs
            # through states 1..n m in row-major order, so V(next) is a view and the sum over b a bmm.
            target = self.payoff + gamma * v[:, 1:].reshape(self.runs, self.n, self.m)  # (B, n, m)
            q = torch.bmm(model, target.transpose(1, 2))  # (B, S, n)
            v = q.max(-1).values
        self._q, self._v, self._sweeps = q, v, self.config.value_iterations
        return q

    def preferences(self) -> torch.Tensor:
        """Best-response Q-values."""
        return self.best_response_q()

    def observe(self, states: torch.Tensor, own: torch.Tensor, other: torch.Tensor, rewards: torch.Tensor) -> None:
        """Count the opponent's action in the state it answered."""
        super().observe(states, own, other, rewards)
        self.counts[self._rows, states, other] += 1
        self._q = None  # the model changed: the cached best response is stale


TABULAR_LEARNERS: dict[str, type[TabularLearner]] = {
    "nl-q": QLearner,
    "jal-q": JointActionLearner,
    "phc": PolicyHillClimbing,
    "wolf-phc": WoLFPolicyHillClimbing,
    "fp": FictitiousPlay,
}
