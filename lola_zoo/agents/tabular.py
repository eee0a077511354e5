"""Classic tabular learners of the paper's tournament, batched over independent runs.

* **NL-Q** — independent Q-learning with epsilon-greedy exploration (Watkins 1992), the paper's NL-Q.
* **JAL-Q** — joint-action learner (Claus & Boutilier 1998): Q-values over joint actions, averaged
  under an empirical model of the opponent (counts of its actions per state).
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

__all__ = ["TabularConfig", "TabularLearner", "QLearner", "JointActionLearner", "FictitiousPlay", "TABULAR_LEARNERS"]


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
        self.config = config or TabularConfig()
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
        nxt = 1 + torch.arange(self.n).unsqueeze(-1) * self.m + torch.arange(self.m)  # (n, m) next states
        v = self._v
        for _ in range(self._sweeps):
            # Q(s, a) = sum_b M(b | s) [ r(a, b) + gamma V(next(a, b)) ]
            q = (model.unsqueeze(-2) * (self.payoff + gamma * v[:, nxt]).unsqueeze(1)).sum(-1)
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
    "fp": FictitiousPlay,
}
