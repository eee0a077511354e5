"""NL-PG: the naive policy-gradient learner (REINFORCE with a baseline).

The naive learner ascends its own discounted return and treats the opponent as part of the
environment (Foerster et al. 2018, Sec. 3.3, "NL-PG"):

    naive_gradient = grad_theta_1 E[ sum_t gamma^t r^1_t ]
                   ~= mean over episodes of grad_theta_1 DiCE(r^1, log pi)          (first order)

which is REINFORCE with the leave-one-out baseline of :func:`lola_zoo.agents.dice.dice_objective`.

Learners are plain objects over a torch policy module (see :mod:`lola_zoo.agents.policies` for the
three-method interface).  They learn from a batch of :class:`~lola_zoo.envs.batched.Episodes`:
``gradient(episodes, seat)`` computes, ``apply(gradient)`` steps, ``update`` does both.  Two learners
"learning together" both compute their gradient on the same batch, then both apply it.
:class:`~lola_zoo.agents.in_loop.PolicyGradientAgent` wraps any learner in the Agent protocol
for a user's own PettingZoo loop (slower: one game at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

import torch
from torch import nn
from torch.func import functional_call

from lola_zoo.agents.dice import dice_objective, discounts
from lola_zoo.envs.batched import Episodes

__all__ = [
    "SeatBatch",
    "params_of",
    "grads_of",
    "trajectory_log_probs",
    "episode_mean",
    "naive_gradient",
    "entropy_surrogate",
    "returns_to_go",
    "PolicyGradient",
    "WrappedLearner",
    "gradient_norm",
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
    def from_episodes(cls, episodes: Episodes, seat: int, opponent: int | None = None) -> "SeatBatch":
        """Split episodes into ``seat``'s view and one opponent's (two players: the other; N players: name it)."""
        n = episodes.actions.shape[-1]
        if opponent is None:
            if n != 2:
                raise ValueError(f"these episodes have {n} players; this learner is two-player (NL-PG and white-box "
                                 "LOLA-PG take N players)")
            opponent = 1 - seat
        if not (0 <= seat < n and 0 <= opponent < n and seat != opponent):
            raise ValueError(f"seat and opponent must be two different players of {n}, got {seat!r}, {opponent!r}")
        other = opponent
        return cls(
            episodes.observations[seat], episodes.actions[..., seat], episodes.rewards[..., seat],
            episodes.observations[other], episodes.actions[..., other], episodes.rewards[..., other],
        )


def params_of(module: nn.Module, requires_grad: bool = True) -> Params:
    """Detached copies of a module's parameters as a dict (leaves of a new graph)."""
    return {k: v.detach().requires_grad_(requires_grad) for k, v in module.named_parameters()}


def grads_of(output: torch.Tensor, params: Params, create_graph: bool = False,
             retain_graph: bool | None = None) -> Params:
    """``∇_params output`` as a dict like ``params``; zeros for parameters the output does not depend on.

    ``retain_graph``: as :func:`torch.autograd.grad` (``None``: keep the graph iff ``create_graph``).
    """
    grads = torch.autograd.grad(output, list(params.values()), create_graph=create_graph, retain_graph=retain_graph,
                                allow_unused=True)
    return {k: torch.zeros_like(v) if g is None else g for (k, v), g in zip(params.items(), grads)}


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
    baseline: bool | torch.Tensor = True,
) -> Params:
    """DiCE / REINFORCE estimate of ``grad_theta E[sum_t gamma^t r_t]`` (first order, with baseline).

    ``baseline``: ``True`` leave-one-out, ``False`` none, or a tensor ``(*batch, T)`` of discounted
    baselines ``gamma^t b_t`` (e.g. from a learned critic).
    """
    log_probs = trajectory_log_probs(policy, params, observations, actions)
    return grads_of(episode_mean(dice_objective(rewards, [log_probs], gamma, baseline)), params)


def entropy_surrogate(log_probs: torch.Tensor) -> torch.Tensor:
    """Per-episode surrogate ``(*batch,)`` whose gradient estimates ``grad sum_t H(pi(. | h_t))``.

    Score-function form from the sampled actions' ``log pi(a_t)`` ``(*batch, T)`` only (the policy
    interface gives no full action distribution): ``grad H = -E[grad log pi(a) (log pi(a) - b)]``
    for any ``b`` free of ``a``; ``b`` = leave-one-out mean over episodes, for lower variance.
    The history ``h_t`` is held fixed (the entropy's effect through earlier actions is ignored).
    """
    from lola_zoo.agents.dice import leave_one_out_baseline

    lp = log_probs.detach()
    centred = lp - leave_one_out_baseline(lp) if lp.dim() >= 2 else lp
    return -(centred * log_probs).sum(-1)


def returns_to_go(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``G_t = sum_{k>=t} gamma^(k-t) r_k`` along the last (time) dimension (a critic's target)."""
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[..., 0])
    for t in range(rewards.shape[-1] - 1, -1, -1):
        running = rewards[..., t] + gamma * running
        out[..., t] = running
    return out


OptimizerName = Literal["sgd", "adam"]


class PolicyGradient:
    """NL-PG: naive policy-gradient ascent on one's own discounted return.

    :param policy: a policy module (see :mod:`lola_zoo.agents.policies`).
    :param lr: learning rate (the paper: 1 for IPD and IMP with plain gradient ascent).
    :param gamma: discount of the return (the paper: 0.96 in the IPD).
    :param optimizer: ``"sgd"`` (plain ascent, the paper's matrix-game setting) or ``"adam"``
        (the paper's Coin Game setting).
    :param baseline: use the leave-one-out baseline (variance reduction, unbiased).
    :param entropy: weight of an entropy bonus ``entropy * sum_t H(pi(. | h_t))`` per episode
        (0: none, today's behaviour).
    :param critic: a learned value baseline replacing the leave-one-out one: a module with
        ``critic(observations, actions) -> (*batch, T, 2)`` estimates of the own and the opponent's
        return-to-go (e.g. :class:`~lola_zoo.agents.coin_policies.CoinCritic`, stacked per seed).
        It is used before it is fitted on the batch, so the baseline never depends on that
        batch's actions; ``None`` (default): no critic.
    :param critic_lr: Adam learning rate of the critic.
    :param critic_steps: Adam steps on the batch's squared error per :meth:`gradient` call.
    """

    name = "NL-PG"

    def __init__(
        self,
        policy: nn.Module,
        lr: float = 1.0,
        gamma: float = 0.96,
        optimizer: OptimizerName = "sgd",
        baseline: bool = True,
        entropy: float = 0.0,
        critic: nn.Module | None = None,
        critic_lr: float = 1e-2,
        critic_steps: int = 1,
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
        if entropy < 0:
            raise ValueError(f"entropy must be non-negative, got {entropy!r}")
        if critic_lr <= 0 or int(critic_steps) != critic_steps or critic_steps < 1:
            raise ValueError(f"critic_lr must be positive and critic_steps a positive integer, got "
                             f"{critic_lr!r}, {critic_steps!r}")
        cls = torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam
        self.optimizer = cls(trainable, lr=lr, maximize=True)  # gradient *ascent* on the return
        self.entropy = float(entropy)
        self.critic = critic
        self.critic_steps = int(critic_steps)
        self.critic_optimizer = None if critic is None else torch.optim.Adam(critic.parameters(), lr=critic_lr)
        self.last_metrics: dict[str, float] = {}

    def dice_baselines(self, batch: SeatBatch) -> tuple[bool | torch.Tensor, bool | torch.Tensor]:
        """DiCE baselines of the own and the opponent's return: discounted critic values, else the ``baseline`` flag."""
        if self.critic is None:
            return self.baseline, self.baseline
        with torch.no_grad():
            values = self.critic(batch.own_observations, batch.own_actions)  # (*batch, T, 2)
            scale = discounts(values.shape[-2], self.gamma, values).unsqueeze(-1)
            values = values * scale  # dice_objective wants gamma^t b_t, on reward_to_go's scale
        return values[..., 0], values[..., 1]

    def fit_critic(self, batch: SeatBatch) -> None:
        """Regress the critic on the batch's own and opponent returns-to-go (no-op without a critic)."""
        if self.critic is None or self.critic_optimizer is None:
            return
        target = torch.stack([returns_to_go(batch.own_rewards, self.gamma),
                              returns_to_go(batch.opp_rewards, self.gamma)], dim=-1).detach()
        for _ in range(self.critic_steps):
            loss = (self.critic(batch.own_observations, batch.own_actions) - target).pow(2).mean()
            self.critic_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.critic_optimizer.step()
        self.last_metrics["critic_loss"] = float(loss.detach())

    def entropy_gradient(self, batch: SeatBatch, params: Params) -> Params | None:
        """``entropy`` times the entropy bonus's gradient at ``params`` (``None`` when the weight is 0)."""
        if self.entropy == 0.0:
            return None
        log_probs = trajectory_log_probs(self.policy, params, batch.own_observations, batch.own_actions)
        grads = torch.autograd.grad(episode_mean(entropy_surrogate(log_probs)), list(params.values()),
                                    allow_unused=True)
        return {k: self.entropy * (torch.zeros_like(v) if g is None else g) for (k, v), g in zip(params.items(), grads)}

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The naive gradient of seat ``seat``'s return, estimated from ``episodes``."""
        n = episodes.actions.shape[-1]
        if n > 2 and self.critic is not None:
            raise ValueError(f"the critic baseline is two-player; these episodes have {n} players")
        # Only the own part is read; in an N-player game any other seat fills the opponent slot.
        b = SeatBatch.from_episodes(episodes, seat, None if n == 2 else (seat + 1) % n)
        own_baseline, _ = self.dice_baselines(b)
        params = params_of(self.policy)
        grad = naive_gradient(
            self.policy, params, b.own_observations, b.own_actions, b.own_rewards, self.gamma, own_baseline,
        )
        bonus = self.entropy_gradient(b, params)
        if bonus is not None:
            grad = {k: grad[k] + bonus[k] for k in grad}
        self.fit_critic(b)  # after the baseline was read: it stays free of this batch
        return grad

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
        return {"grad_norm": float(torch.sqrt(cast(torch.Tensor, sum((g.double() ** 2).sum() for g in grad.values()))))}

    def state_dict(self) -> dict[str, Any]:
        """Policy parameters and optimiser state (and the critic's, when there is one)."""
        state = {"policy": self.policy.state_dict(), "optimizer": self.optimizer.state_dict()}
        if self.critic is not None and self.critic_optimizer is not None:
            state["critic"] = self.critic.state_dict()
            state["critic_optimizer"] = self.critic_optimizer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.policy.load_state_dict(state["policy"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.critic is not None and self.critic_optimizer is not None and "critic" in state:
            self.critic.load_state_dict(state["critic"])
            self.critic_optimizer.load_state_dict(state["critic_optimizer"])


def gradient_norm(gradient: Params) -> float:
    """The Euclidean norm of a gradient over all its parameters (in double precision)."""
    return float(torch.sqrt(cast(torch.Tensor, sum((g.double() ** 2).sum() for g in gradient.values()))))


class WrappedLearner:
    """The plumbing of a learner built around a :class:`PolicyGradient` ``base``: its policy, steps and state.

    Subclasses define :meth:`gradient`; the base learner's optimiser applies it.  A subclass with an
    ``opponent`` handle (white-box or model) saves it beside the base learner's state.
    """

    base: PolicyGradient
    last_metrics: dict[str, float]

    def gradient(self, episodes: Episodes, seat: int) -> Params:
        """The learner's gradient for seat ``seat`` from ``episodes``."""
        raise NotImplementedError

    @property
    def policy(self) -> nn.Module:
        """The learner's own policy (the base learner's)."""
        return self.base.policy

    def apply(self, gradient: Params) -> None:
        """Step the base learner along ``gradient``."""
        self.base.apply(gradient)

    def update(self, episodes: Episodes, seat: int) -> dict[str, float]:
        """Compute the gradient on ``episodes`` and apply it; returns its norm and the learner's metrics."""
        grad = self.gradient(episodes, seat)
        self.apply(grad)
        return {"grad_norm": gradient_norm(grad), **self.last_metrics}

    def state_dict(self) -> dict[str, Any]:
        """The base learner's state (and the opponent handle's, when there is one)."""
        opponent = getattr(self, "opponent", None)
        if opponent is None:
            return self.base.state_dict()
        return {"base": self.base.state_dict(), "opponent": opponent.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        opponent = getattr(self, "opponent", None)
        if opponent is None:
            self.base.load_state_dict(state)
            return
        self.base.load_state_dict(state["base"])
        opponent.load_state_dict(state["opponent"])
