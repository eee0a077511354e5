"""Continuous-action dilemmas (Cournot, fishery): batched torch twins, a Gaussian rollout, and NL-PG / LOLA-PG training.

:class:`BatchedCournot` and :class:`BatchedFishery` play many games at once in torch under the
rules of the PettingZoo environments :class:`~lola_zoo.envs.cournot.CournotGame` and
:class:`~lola_zoo.envs.fishery.Fishery` (same observations from each player's own side, same
rewards; tests replay random games in both).  The batch has any shape; training uses
``(runs, episodes)`` so that seeds are a batch dimension.  A collapsed fishery is absorbing here
— its stock is set to 0, and ``G(0) = 0`` keeps every later catch at 0 — where the PettingZoo env
ends the episode: the returns are the same, and every episode keeps the fixed length
:class:`~lola_zoo.envs.batched.Episodes` needs.

:func:`rollout_continuous` plays :class:`~lola_zoo.agents.gaussian.GaussianPolicy` policies (one
per seat) and returns :class:`~lola_zoo.envs.batched.Episodes` with float actions, which the
existing two-player learners (:class:`~lola_zoo.agents.naive.PolicyGradient`,
:class:`~lola_zoo.agents.lola.LOLA`) train on unchanged.  :func:`train_continuous` puts it together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from lola_zoo.agents.gaussian import GaussianPolicy
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import OptimizerName, PolicyGradient
from lola_zoo.envs.batched import Episodes
from lola_zoo.envs.cournot import collusive_quantity, nash_quantity, validate_cournot
from lola_zoo.envs.fishery import msy_effort, validate_fishery

__all__ = [
    "GAMES",
    "BatchedCournot",
    "BatchedFishery",
    "ContinuousResult",
    "make_batched",
    "rollout_continuous",
    "train_continuous",
]

GAMES = ("cournot", "fishery")


def _batch_shape(batch_shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (int(batch_shape),) if isinstance(batch_shape, int) else tuple(int(b) for b in batch_shape)
    if not shape or any(b < 1 for b in shape):
        raise ValueError(f"batch_shape must hold positive sizes, got {batch_shape!r}")
    return shape


def _perspectives(n: int) -> list[list[int]]:
    """Seat order seen by each player: itself first, then the others in seat order (as the PettingZoo envs)."""
    return [[i] + [j for j in range(n) if j != i] for i in range(n)]


class _BatchedContinuous:
    """What both twins share: batch shape, device, the per-player view and the action check."""

    n_players: int
    max_steps: int
    low: float
    high: float
    #: rewards are divided by this before learning (so one learning rate suits both games).
    reward_scale: float

    def __init__(self, batch_shape: int | Sequence[int], device: torch.device | str, dtype: torch.dtype) -> None:
        self.batch_shape = _batch_shape(batch_shape)
        self.device, self.dtype = torch.device(device), dtype
        self._round = 0

    def _views(self, last: torch.Tensor, prefix: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Each player's observation: ``prefix`` features, then ``last (*batch, N)`` reordered own-first."""
        out = []
        for order in _perspectives(self.n_players):
            own_first = last[..., order]
            out.append(own_first if prefix is None else torch.cat([prefix, own_first], dim=-1))
        return out

    def _check(self, actions: torch.Tensor, what: str) -> torch.Tensor:
        if self._round >= self.max_steps:
            raise RuntimeError("step() called after the episodes ended; call reset() before stepping again")
        if tuple(actions.shape) != (*self.batch_shape, self.n_players):
            raise ValueError(f"actions must have shape {(*self.batch_shape, self.n_players)} (batch, players), "
                             f"got {tuple(actions.shape)}")
        a = actions.to(self.dtype)
        bad = ~torch.isfinite(a) | (a < self.low) | (a > self.high)
        if bad.any():
            value = float(a[bad][0])
            raise ValueError(f"invalid {what} {value!r}: every action must lie in [{self.low:g}, {self.high:g}]")
        return a


class BatchedCournot(_BatchedContinuous):
    """``batch_shape`` Cournot markets stepped together (the rules of :class:`~lola_zoo.envs.cournot.CournotGame`).

    :param batch_shape: shape of the batch of games, e.g. ``(runs, episodes)``.
    :param n_players: firms N.
    :param a: demand intercept.
    :param b: demand slope.
    :param c: unit cost.
    :param max_steps: rounds per episode.
    :param device: torch device.
    :param dtype: floating dtype of actions, observations and rewards.
    """

    def __init__(
        self,
        batch_shape: int | Sequence[int] = 1,
        n_players: int = 2,
        a: float = 100.0,
        b: float = 1.0,
        c: float = 10.0,
        max_steps: int = 10,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(batch_shape, device, dtype)
        self.n_players, self.a, self.b, self.c, self.max_steps = validate_cournot(n_players, a, b, c, max_steps)
        self.low, self.high = 0.0, self.a / self.b
        self.obs_dim = self.n_players
        self.n_actions: tuple[int, ...] = ()  # continuous: no action counts (BatchedEnv's field, for duck typing)
        n1 = self.n_players + 1
        self.reward_scale = (self.a - self.c) ** 2 / (self.b * n1 * n1)  # the Nash profit of one firm
        self._last = torch.zeros((*self.batch_shape, self.n_players), dtype=dtype, device=self.device)

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Every market before its first round: all observations zero (the rules draw nothing; ``seed`` is unused)."""
        self._round = 0
        self._last = torch.zeros((*self.batch_shape, self.n_players), dtype=self.dtype, device=self.device)
        return self._views(self._last)

    def step(self, actions: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """One round of every market: quantities ``(*batch, N)`` -> observations, profits ``(*batch, N)``, info."""
        q = self._check(actions, "quantity")
        price = (self.a - self.b * q.sum(-1, keepdim=True)).clamp_min(0.0)
        profits = q * (price - self.c)
        self._round += 1
        self._last = q
        return self._views(q / self.high), profits, {"price": price.squeeze(-1), "round": self._round}


class BatchedFishery(_BatchedContinuous):
    """``batch_shape`` fisheries stepped together (the rules of :class:`~lola_zoo.envs.fishery.Fishery`).

    :param batch_shape: shape of the batch of games, e.g. ``(runs, episodes)``.
    :param n_players: fishers N.
    :param r: growth rate in ``(0, 1]``.
    :param K: carrying capacity.
    :param initial_stock: start stock; ``None``: ``K/2``.
    :param collapse_fraction: a stock at most ``collapse_fraction · K`` collapses to 0 (absorbing).
    :param max_steps: seasons per episode.
    :param device: torch device.
    :param dtype: floating dtype.
    """

    def __init__(
        self,
        batch_shape: int | Sequence[int] = 1,
        n_players: int = 2,
        r: float = 0.5,
        K: float = 100.0,
        initial_stock: float | None = None,
        collapse_fraction: float = 0.01,
        max_steps: int = 50,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(batch_shape, device, dtype)
        (self.n_players, self.r, self.K, self.initial_stock, self.collapse_fraction,
         self.max_steps) = validate_fishery(n_players, r, K, initial_stock, collapse_fraction, max_steps)
        self.low, self.high = 0.0, 1.0
        self.obs_dim = self.n_players + 1
        self.n_actions: tuple[int, ...] = ()
        self.reward_scale = self.r * self.K / (4 * self.n_players)  # one fisher's share of the MSY
        self.stock = torch.full(self.batch_shape, self.initial_stock, dtype=dtype, device=self.device)

    def _observations(self, efforts: torch.Tensor) -> list[torch.Tensor]:
        return self._views(efforts, (self.stock / self.K).unsqueeze(-1))

    def reset(self, seed: int | None = None) -> list[torch.Tensor]:
        """Every fishery at ``initial_stock`` with no previous efforts (``seed`` is unused: the rules draw nothing)."""
        self._round = 0
        self.stock = torch.full(self.batch_shape, self.initial_stock, dtype=self.dtype, device=self.device)
        return self._observations(torch.zeros((*self.batch_shape, self.n_players), dtype=self.dtype, device=self.device))

    def step(self, actions: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor, dict[str, Any]]:
        """One season: efforts ``(*batch, N)`` -> observations, harvests ``(*batch, N)``, info (``stock``, ``collapsed``)."""
        e = self._check(actions, "effort")
        s = self.stock
        grown = s + self.r * s * (1.0 - s / self.K)
        harvests = e * (grown / self.n_players).unsqueeze(-1)
        stock = (grown - harvests.sum(-1)).clamp_min(0.0)
        collapsed = stock <= self.collapse_fraction * self.K
        self.stock = torch.where(collapsed, torch.zeros_like(stock), stock)  # absorbing: G(0) = 0
        self._round += 1
        return self._observations(e), harvests, {"stock": self.stock, "collapsed": collapsed, "round": self._round}


def make_batched(game: str, batch_shape: int | Sequence[int], **kwargs: Any) -> BatchedCournot | BatchedFishery:
    """The batched twin of ``"cournot"`` or ``"fishery"`` with the env's keyword arguments."""
    if game == "cournot":
        return BatchedCournot(batch_shape, **kwargs)
    if game == "fishery":
        return BatchedFishery(batch_shape, **kwargs)
    raise ValueError(f"game must be one of {GAMES}, got {game!r}")


@torch.no_grad()
def rollout_continuous(
    env: BatchedCournot | BatchedFishery,
    policies: Sequence[GaussianPolicy],
    generator: torch.Generator | None = None,
) -> Episodes:
    """Play ``env.max_steps`` rounds of every game, one policy per seat; float actions ``(*batch, T, N)``."""
    if len(policies) != env.n_players:
        raise ValueError(f"expected {env.n_players} policies (one per seat), got {len(policies)}")
    observations = env.reset()
    obs_log: list[list[torch.Tensor]] = [[] for _ in policies]
    act_log, rew_log = [], []
    for _ in range(env.max_steps):
        acts = []
        for i, policy in enumerate(policies):
            obs_log[i].append(observations[i])
            acts.append(policy.sample(observations[i], generator).to(env.dtype))
        actions = torch.stack(acts, dim=-1)
        observations, rewards, _ = env.step(actions)
        act_log.append(actions)
        rew_log.append(rewards)
    t_dim = len(env.batch_shape)
    return Episodes(
        observations=[torch.stack(o, dim=t_dim) for o in obs_log],
        actions=torch.stack(act_log, dim=t_dim),
        rewards=torch.stack(rew_log, dim=t_dim),
    )


@dataclass
class ContinuousResult:
    """What :func:`train_continuous` returns.

    :param game: ``"cournot"`` or ``"fishery"``.
    :param agents: the learner kinds of the two seats.
    :param mean_actions: ``(runs, 2)`` each seat's expected action (the censored mean) under its
        final policy, averaged over the states of a final rollout: the quantity or the effort.
    :param mean_rewards: ``(runs, 2)`` reward per step in the final rollout (env units).
    :param history: ``(iterations, runs, 2)`` mean action played in each training batch.
    :param benchmarks: the game's closed-form reference actions (per player).
    :param final_stock: ``(runs,)`` mean stock after the last season of the final rollout (fishery only).
    :param survival: ``(runs,)`` share of final-rollout fisheries that did not collapse (fishery only).
    """

    game: str
    agents: tuple[str, str]
    mean_actions: torch.Tensor
    mean_rewards: torch.Tensor
    history: torch.Tensor
    benchmarks: dict[str, float] = field(default_factory=dict)
    final_stock: torch.Tensor | None = None
    survival: torch.Tensor | None = None


_AGENTS = ("nl", "lola")


def train_continuous(
    game: str = "cournot",
    agents: tuple[str, str] = ("nl", "nl"),
    runs: int = 8,
    episodes: int = 128,
    iterations: int = 300,
    lr: float = 0.01,
    optimizer: OptimizerName = "adam",
    gamma: float = 0.96,
    eta: float | None = None,
    std: float = 0.1,
    mean: float = 0.5,
    mean_spread: float = 0.1,
    state_dependent: bool = False,
    max_steps: int | None = None,
    env_kwargs: dict[str, Any] | None = None,
    seed: int = 0,
    eval_episodes: int = 256,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
) -> ContinuousResult:
    """Train two Gaussian-policy learners (``"nl"``: NL-PG, ``"lola"``: LOLA-PG) together in ``runs`` seeds at once.

    Both learners compute their gradient on the same batch of ``episodes`` episodes per run, then
    both step.  Rewards are divided by the game's ``reward_scale`` (a firm's Nash profit, a
    fisher's share of the MSY) before learning, so ``lr`` and ``eta`` mean the same in both games;
    reported rewards are in env units.

    :param game: ``"cournot"`` or ``"fishery"``.
    :param agents: learner kind of seat 0 and seat 1.
    :param runs: independent seeds, trained as one batch dimension.
    :param episodes: episodes per run and iteration.
    :param iterations: learning steps.
    :param lr: learning rate of both learners (box units, see :class:`GaussianPolicy`).
    :param optimizer: ``"adam"`` or ``"sgd"``.
    :param gamma: discount of the return.
    :param eta: LOLA's anticipated opponent learning rate (default: ``lr``).
    :param std: action noise, a fraction of the action box.
    :param mean: initial mean action, a fraction of the action box.
    :param mean_spread: per-run spread of the initial mean (fraction of the box).
    :param state_dependent: let the mean depend linearly on the observation.
    :param max_steps: rounds per episode (default: 1 for Cournot, the one-shot game; 50 for the fishery).
    :param env_kwargs: the game's parameters (``a, b, c`` / ``r, K, ...``; ``n_players`` must stay 2).
    :param seed: seeds the initial means and every sampled action.
    :param eval_episodes: episodes per run of the final rollout that ``mean_rewards`` and the stock are read from.
    """
    if game not in GAMES:
        raise ValueError(f"game must be one of {GAMES}, got {game!r}")
    if len(agents) != 2 or any(k not in _AGENTS for k in agents):
        raise ValueError(f"agents must be two of {_AGENTS}, got {agents!r}")
    kwargs = dict(env_kwargs or {})
    if kwargs.get("n_players", 2) != 2:
        raise ValueError(f"the policy-gradient learners are two-player; got n_players={kwargs['n_players']!r}")
    kwargs["max_steps"] = (1 if game == "cournot" else 50) if max_steps is None else max_steps
    generator = torch.Generator().manual_seed(int(seed))
    env = make_batched(game, (runs, episodes), device=device, dtype=dtype, **kwargs)
    policies = [
        GaussianPolicy(env.obs_dim, env.low, env.high, runs=runs, mean=mean, mean_spread=mean_spread, std=std,
                       state_dependent=state_dependent, generator=generator, dtype=dtype).to(device)
        for _ in range(2)
    ]
    learners: list[PolicyGradient | LOLA] = []
    for seat, kind in enumerate(agents):
        base = PolicyGradient(policies[seat], lr=lr, gamma=gamma, optimizer=optimizer)
        learners.append(base if kind == "nl" else LOLA(base, policies[1 - seat], eta=eta))
    history = []
    for _ in range(iterations):
        batch = rollout_continuous(env, policies, generator)
        history.append(batch.actions.mean(dim=(-3, -2)))  # (runs, 2)
        scaled = Episodes(batch.observations, batch.actions, batch.rewards / env.reward_scale)
        grads = [learner.gradient(scaled, seat) for seat, learner in enumerate(learners)]
        for learner, grad in zip(learners, grads):
            learner.apply(grad)
    eval_env = make_batched(game, (runs, eval_episodes), device=device, dtype=dtype, **kwargs)
    final = rollout_continuous(eval_env, policies, generator)
    mean_actions = torch.stack(
        [p.mean_action(final.observations[i]).mean(dim=(-2, -1)) for i, p in enumerate(policies)], dim=-1)
    result = ContinuousResult(
        game=game, agents=(agents[0], agents[1]), mean_actions=mean_actions,
        mean_rewards=final.rewards.mean(dim=(-3, -2)), history=torch.stack(history),
    )
    if isinstance(eval_env, BatchedCournot):
        e = eval_env
        result.benchmarks = {"nash": nash_quantity(2, e.a, e.b, e.c), "collusive": collusive_quantity(2, e.a, e.b, e.c),
                             "stackelberg_leader": (e.a - e.c) / (2 * e.b)}
    else:
        f = eval_env
        result.benchmarks = {"greedy": 1.0, "msy": msy_effort(f.r)}
        result.final_stock = f.stock.mean(-1)
        result.survival = (f.stock > 0).to(dtype).mean(-1)
    if not torch.isfinite(mean_actions).all():  # pragma: no cover - a diverged learning rate
        raise FloatingPointError(f"training diverged (non-finite mean actions); lower lr={lr} or eta={eta}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Train once and print the final mean actions per seed (``python -m lola_zoo.experiments.continuous --help``)."""
    import argparse

    ap = argparse.ArgumentParser(description="NL-PG / LOLA-PG with Gaussian policies on the Cournot or fishery game.")
    ap.add_argument("game", choices=GAMES)
    ap.add_argument("agents", help="two learner kinds, comma-separated: nl,nl | lola,lola | lola,nl")
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--eta", type=float, default=None)
    ap.add_argument("--gamma", type=float, default=0.96)
    ap.add_argument("--mean", type=float, default=0.5)
    ap.add_argument("--mean-spread", type=float, default=0.1)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--state-dependent", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # tiny tensors: more threads only contend (see the Coin Game page)
    kinds = tuple(args.agents.split(","))
    result = train_continuous(
        args.game, kinds, runs=args.runs, episodes=args.episodes, iterations=args.iterations,
        lr=args.lr, eta=args.eta, gamma=args.gamma, mean=args.mean, mean_spread=args.mean_spread,
        max_steps=args.max_steps, state_dependent=args.state_dependent, seed=args.seed,
    )
    print(f"{args.game} {'-'.join(kinds)}: benchmarks " + ", ".join(f"{k} {v:.4g}" for k, v in result.benchmarks.items()))
    for run in range(args.runs):
        line = (f"seed {run}: mean actions ({result.mean_actions[run, 0]:.4g}, {result.mean_actions[run, 1]:.4g}), "
                f"reward/step ({result.mean_rewards[run, 0]:.4g}, {result.mean_rewards[run, 1]:.4g})")
        if result.final_stock is not None and result.survival is not None:
            line += f", final stock {result.final_stock[run]:.3g}, survived {result.survival[run]:.0%}"
        print(line)
    m = result.mean_actions.mean(0)
    print(f"mean over seeds: ({m[0]:.4g}, {m[1]:.4g})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
