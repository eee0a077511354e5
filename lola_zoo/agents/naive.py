"""NL-PG: the naive policy-gradient learner (REINFORCE with a baseline), and its in-loop Agent adapter.

The naive learner ascends its own discounted return and treats the opponent as part of the
environment (Foerster et al. 2018, Sec. 3.3, "NL-PG"):

    naive_gradient = grad_theta_1 E[ sum_t gamma^t r^1_t ]
                   ~= mean over episodes of grad_theta_1 DiCE(r^1, log pi)          (first order)

which is REINFORCE with the leave-one-out baseline of :func:`lola_zoo.agents.dice.dice_objective`.

Learners are plain objects over a torch policy module (see :mod:`lola_zoo.agents.policies` for the
three-method interface).  They learn from a batch of :class:`~lola_zoo.envs.batched.Episodes`:
``gradient(episodes, seat)`` computes, ``apply(gradient)`` steps, ``update`` does both.  Two learners
"learning together" both compute their gradient on the same batch, then both apply it.
:class:`PolicyGradientAgent` wraps any learner in the :class:`~lola_zoo.agents.base.Agent` protocol
for a user's own PettingZoo loop (slower: one game at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from lola_zoo.agents.base import Agent, Transition, memory1_state
from lola_zoo.agents.dice import dice_objective
from lola_zoo.envs.batched import Episodes, sample_actions

__all__ = [
    "SeatBatch",
    "params_of",
    "trajectory_log_probs",
    "episode_mean",
    "naive_gradient",
    "PolicyGradient",
    "PolicyGradientAgent",
]

Params = dict[str, torch.Tensor]


@dataclass
class SeatBatch:
    """A batch of episodes seen from one seat: the agent's own part and its opponent's.

    :param own_observations: ``(*batch, T, *obs_shape)`` the agent's observations.
    :param own_actions: ``(*batch, T)``.
    :param own_rewards: ``(*batch, T)``.
    :param opp_observations: the opponent's observations (its own perspective).
    :param opp_actions: ``(*batch, T)``.
    :param opp_rewards: ``(*batch, T)``.
    """

    own_observations: torch.Tensor
    own_actions: torch.Tensor
    own_rewards: torch.Tensor
    opp_observations: torch.Tensor
    opp_actions: torch.Tensor
    opp_rewards: torch.Tensor

    @classmethod
    def from_episodes(cls, episodes: Episodes, seat: int) -> "SeatBatch":
        """Split two-player episodes into ``seat``'s view and its opponent's."""
        n = episodes.actions.shape[-1]
        if n != 2:
            raise ValueError(f"policy-gradient learners here are two-player; these episodes have {n} players")
        if seat not in (0, 1):
            raise ValueError(f"seat must be 0 or 1, got {seat!r}")
        other = 1 - seat
        return cls(
            episodes.observations[seat], episodes.actions[..., seat], episodes.rewards[..., seat],
            episodes.observations[other], episodes.actions[..., other], episodes.rewards[..., other],
        )


def params_of(module: nn.Module, requires_grad: bool = True) -> Params:
    """Detached copies of a module's parameters as a dict (leaves of a new graph)."""
    return {k: v.detach().requires_grad_(requires_grad) for k, v in module.named_parameters()}


def trajectory_log_probs(
    policy: nn.Module, params: Params, observations: torch.Tensor, actions: torch.Tensor
) -> torch.Tensor:
    """``log pi_theta(a_t | history_t)`` ``(*batch, T)`` with parameters ``params`` substituted."""
    return functional_call(policy, params, (observations, actions))


def episode_mean(per_episode: torch.Tensor) -> torch.Tensor:
    """Mean over episodes (last batch dim), summed over independent runs (leading dims).

    Runs never share parameters, so the gradient of the sum is each run's own gradient.
    """
    return per_episode.mean(-1).sum() if per_episode.dim() else per_episode


def naive_gradient(
    policy: nn.Module,
    params: Params,
    observations: torch.Tensor,
    actions: torch.Tensor,
    rewards: torch.Tensor,
    gamma: float,
    baseline: bool = True,
) -> Params:
    """DiCE / REINFORCE estimate of ``grad_theta E[sum_t gamma^t r_t]`` (first order, with baseline)."""
    log_probs = trajectory_log_probs(policy, params, observations, actions)
    objective = episode_mean(dice_objective(rewards, [log_probs], gamma, baseline))
    grads = torch.autograd.grad(objective, list(params.values()), allow_unused=True)
    return {k: torch.zeros_like(v) if g is None else g for (k, v), g in zip(params.items(), grads)}


OptimizerName = Literal["sgd", "adam"]


class PolicyGradient:
    """NL-PG: naive policy-gradient ascent on one's own discounted return.

    :param policy: a policy module (see :mod:`lola_zoo.agents.policies`).
    :param lr: learning rate (the paper: 1 for IPD and IMP with plain gradient ascent).
    :param gamma: discount of the return (the paper: 0.96 in the IPD).
    :param optimizer: ``"sgd"`` (plain ascent, the paper's matrix-game setting) or ``"adam"``
        (the paper's Coin Game setting).
    :param baseline: use the leave-one-out baseline (variance reduction, unbiased).
    """

    name = "NL-PG"

    def __init__(
        self,
        policy: nn.Module,
        lr: float = 1.0,
        gamma: float = 0.96,
        optimizer: OptimizerName = "sgd",
        baseline: bool = True,
    ) -> None:
        if not (0.0 < gamma <= 1.0):
            raise ValueError(f"gamma must lie in (0, 1], got {gamma!r}")
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr!r}")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        self.policy, self.lr, self.gamma, self.baseline = policy, float(lr), float(gamma), bool(baseline)
        trainable = [p for p in policy.parameters() if p.requires_grad]
        if not trainable:
            raise ValueError("the policy has no trainable parameters")
        cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        self.optimizer = cls(trainable, lr=lr, maximize=True)  # gradient *ascent* on the return

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The naive gradient of seat ``seat``'s return, estimated from ``episodes``."""
        b = SeatBatch.from_episodes(episodes, seat)
        return naive_gradient(
            self.policy, params_of(self.policy), b.own_observations, b.own_actions, b.own_rewards,
            self.gamma, self.baseline,
        )

    def apply(self, gradient: Params) -> None:
        """One optimiser step along ``gradient`` (ascent)."""
        for name, p in self.policy.named_parameters():
            if p.requires_grad:
                p.grad = gradient[name].detach().to(p.dtype)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def update(self, episodes: Episodes, seat: int) -> dict[str, float]:
        """Compute the gradient on ``episodes`` and apply it; returns the gradient norm."""
        grad = self.gradient(episodes, seat)
        self.apply(grad)
        return {"grad_norm": float(torch.sqrt(sum((g.double() ** 2).sum() for g in grad.values())))}

    def state_dict(self) -> dict[str, Any]:
        """Policy parameters and optimiser state."""
        return {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])


class PolicyGradientAgent(Agent):
    """Any policy-gradient learner (NL-PG, LOLA-PG, LOLA-OM) in the Agent protocol, for one env.

    It samples from the learner's policy in :meth:`act`, records each step in :meth:`observe`
    (with ``info["joint_action"]``, from which the opponent's observations and rewards are
    rebuilt), and learns in :meth:`update` once ``episodes_per_update`` episodes are complete.
    The step computed in :meth:`update` is applied at the next :meth:`reset`/:meth:`act` (or
    :meth:`state_dict`), so two learners updated one after the other in a loop both compute their
    gradient at the *same* parameters — the paper's simultaneous "learning together".

    :param learner: a :class:`PolicyGradient` or a wrapper such as :class:`~lola_zoo.agents.lola.LOLA`.
    :param seat: this agent's seat (0 for ``player_0``); needed to read joint actions.
    :param game: the stage game (or its id), to rebuild both players' states and rewards.
    :param episodes_per_update: complete episodes per learning step.
    :param name: shown in tables.
    """

    def __init__(
        self,
        learner: Any,
        seat: int,
        game: Any = "ipd",
        episodes_per_update: int = 32,
        name: str | None = None,
    ) -> None:
        from lola_zoo.envs.batched import BatchedIteratedGame

        if episodes_per_update < 1:
            raise ValueError(f"episodes_per_update must be positive, got {episodes_per_update}")
        self.learner = learner
        self.policy = learner.policy
        if getattr(self.policy, "runs", None) is not None:
            raise ValueError("an in-loop agent plays one game: build its policy with runs=None")
        self.seat = int(seat)
        self._tables = BatchedIteratedGame(game, 1)  # state and payoff look-ups only
        if self._tables.n_players != 2:
            raise ValueError("PolicyGradientAgent needs a two-player game")
        self.episodes_per_update = int(episodes_per_update)
        self.name = name or getattr(learner, "name", "PG")
        self._episode: list[tuple[int, ...]] = []
        self._finished: list[list[tuple[int, ...]]] = []
        self._hidden: Any = None
        self._torch_rng = torch.Generator()
        self._pending: Any = None

    def _apply_pending(self) -> None:
        if self._pending is not None:
            self.learner.apply(self._pending)
            self._pending = None

    def seed(self, seed: int | None = None) -> None:
        """Seed the action sampler."""
        super().seed(seed)
        self._torch_rng.manual_seed(int(self.rng.integers(2**63 - 1)))

    def reset(self) -> None:
        """Start a new episode (clears the recurrent state and a partial episode)."""
        self._apply_pending()
        self._episode = []
        self._hidden = self.policy.initial_state((1,))

    def act(self, observation: Any) -> int:
        """Sample an action from the current policy."""
        if not hasattr(self, "rng"):
            self.seed(None)
        self._apply_pending()
        if not self._episode and self._hidden is None:
            self._hidden = self.policy.initial_state((1,))
        obs = torch.tensor([memory1_state(observation)])
        with torch.no_grad():
            log_probs, self._hidden = self.policy.step(obs, self._hidden)
        return int(sample_actions(log_probs, self._torch_rng)[0])

    def observe(self, transition: Transition) -> None:
        """Record the joint action of this step; close the episode when it is done."""
        joint = transition.info.get("joint_action")
        if joint is None:
            raise KeyError("PolicyGradientAgent needs info['joint_action'] from the env (iterated matrix games)")
        self._episode.append(tuple(int(a) for a in joint))
        if transition.done:
            self._finished.append(self._episode)
            self._episode = []
            self._hidden = None

    def episodes(self) -> Episodes:
        """The completed episodes as a batch (both players' views rebuilt from joint actions)."""
        lengths = {len(e) for e in self._finished}
        if len(lengths) != 1:
            raise ValueError(f"episodes of different lengths {sorted(lengths)} cannot form one batch")
        actions = torch.tensor(np.array(self._finished), dtype=torch.long)  # (E, T, 2)
        joint = (actions * self._tables._strides).sum(-1)
        start = torch.zeros(actions.shape[0], 1, dtype=torch.long)
        observations = [
            torch.cat([start, self._tables.state_table[i][joint[:, :-1]]], dim=1) for i in range(2)
        ]
        rewards = self._tables.payoff_table[joint]
        return Episodes(observations, actions, rewards)

    def update(self) -> dict[str, float]:
        """Learn from the buffered episodes once there are ``episodes_per_update`` of them."""
        if len(self._finished) < self.episodes_per_update:
            return {}
        batch = self.last_batch = self.episodes()
        self._finished = []
        self._apply_pending()
        self._pending = self.learner.gradient(batch, self.seat)
        metrics = dict(getattr(self.learner, "last_metrics", {}))
        metrics["grad_norm"] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in self._pending.values())))
        metrics["reward_per_step"] = float(batch.rewards[..., self.seat].mean())
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """The learner's state (after applying a pending step)."""
        self._apply_pending()
        return {"learner": self.learner.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the learner's state."""
        self._pending = None
        self.learner.load_state_dict(state["learner"])
