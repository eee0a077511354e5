"""M-FOS: Model-Free Opponent Shaping (Lu, Willi, Schroeder de Witt, Foerster, ICML 2022) on exact values.

The meta-game
-------------
One *meta-episode* is a sequence of ``T`` inner games against one learning opponent.  At meta-step
``t`` the M-FOS meta-agent sees both players' memory-1 policies (its own previous one and the
opponent's current one, as probabilities, plus the fraction of the meta-episode already played)
and outputs its own memory-1 policy (5 logits for a 2×2 game) for this meta-step.  Both policies
play the inner game; the exact average reward per step ``(1 - γ) V`` of that pair is the meta-step's
reward.  The opponent then takes one exact learning step (naive gradient ascent, LOLA, or any rule
registered in :mod:`lola_zoo.agents.exact_rules`) against the meta-agent's policy of this step.

The meta-agent is a Gaussian policy over logits, trained with a compact batched PPO
(B meta-episodes per iteration side by side, GAE, clipped surrogate, value head): the opponent's
learning is part of the meta-environment, so the meta-agent learns to *shape* it without ever
differentiating through it ("model-free").

Seats: the meta-agent is player 0 and the opponent player 1 of :func:`make_value_fn`; each
player's logits are in its own perspective (states start, CC, CD, DC, DD with its own action first).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

import lola_zoo
from lola_zoo.agents.exact_rules import Derivatives, Learner, ValueFn, make_learner
from lola_zoo.envs.games import MatrixGame

__all__ = [
    "MFOSConfig",
    "MetaGame",
    "MFOSAgent",
    "compute_gae",
    "ppo_clip_loss",
    "train_mfos",
    "evaluate_mfos",
    "save_agent",
    "load_agent",
]


@dataclass(frozen=True)
class MFOSConfig:
    """One M-FOS training run; defaults are a CPU-sized version of the paper's IPD setting.

    :param horizon: meta-episode length T (number of opponent updates; the paper: 100).
    :param opponent: registered exact learner of the opponent (``"nl"``, ``"lola"``, ...).
    :param opponent_lr: the opponent's learning rate δ (the paper: 1).
    :param opponent_eta: correction rate η of LOLA-type opponents (the paper's LOLA: 1).
    :param gamma: inner-game discount in (0, 1); ``None`` takes the game's paper value (IPD 0.96).
    :param init_std: the opponent's initial logits are drawn from N(0, init_std²).
    :param batch: meta-episodes per PPO iteration (the paper: 4096).
    :param iterations: PPO iterations, one batch of meta-episodes each (the paper: 1024).
    :param hidden: width of the actor's and the critic's hidden layers.
    :param lr: Adam learning rate.
    :param epochs: PPO epochs over each batch.
    :param minibatches: minibatches per epoch (the batch's T·B transitions split evenly).
    :param clip: PPO clip ε.
    :param meta_gamma: discount of the meta-game (over meta-steps).
    :param gae_lambda: GAE λ.
    :param entropy_coef: weight of the entropy bonus.
    :param value_coef: weight of the value loss.
    :param max_grad_norm: gradient-norm clip of each Adam step.
    :param init_log_std: initial log standard deviation of the Gaussian over logits.
    :param seed: seed of every random draw (network init, opponents, actions, minibatches).
    :param dtype: dtype of the exact inner game (``"float64"`` or ``"float32"``); the network is float32.
    """

    horizon: int = 100
    opponent: str = "nl"
    opponent_lr: float = 1.0
    opponent_eta: float = 1.0
    gamma: float | None = None
    init_std: float = 1.0
    batch: int = 256
    iterations: int = 300
    hidden: int = 64
    lr: float = 3e-3
    epochs: int = 4
    minibatches: int = 4
    clip: float = 0.2
    meta_gamma: float = 0.99
    gae_lambda: float = 0.95
    entropy_coef: float = 0.0
    value_coef: float = 0.5
    max_grad_norm: float = 1.0
    init_log_std: float = 0.0
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self) -> None:
        for name in ("horizon", "batch", "iterations", "hidden", "epochs", "minibatches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MFOSConfig.{name} must be a positive integer, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"MFOSConfig.seed must be an integer, got {self.seed!r}")
        try:
            make_learner(self.opponent, eta=self.opponent_eta)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"MFOSConfig.opponent / opponent_eta: {exc}") from None
        for name in ("opponent_lr", "opponent_eta", "init_std", "lr", "entropy_coef", "value_coef"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0.0 and math.isfinite(value)):
                raise ValueError(f"MFOSConfig.{name} must be a finite number >= 0, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"MFOSConfig.lr must be > 0, got {self.lr!r}")
        if self.gamma is not None and not (0.0 < float(self.gamma) < 1.0):
            raise ValueError(f"MFOSConfig.gamma must lie in (0, 1) or be None, got {self.gamma!r}")
        if not (0.0 < self.clip < 1.0):
            raise ValueError(f"MFOSConfig.clip must lie in (0, 1), got {self.clip!r}")
        if not (0.0 < self.meta_gamma <= 1.0):
            raise ValueError(f"MFOSConfig.meta_gamma must lie in (0, 1], got {self.meta_gamma!r}")
        if not (0.0 <= self.gae_lambda <= 1.0):
            raise ValueError(f"MFOSConfig.gae_lambda must lie in [0, 1], got {self.gae_lambda!r}")
        if not self.max_grad_norm > 0:
            raise ValueError(f"MFOSConfig.max_grad_norm must be > 0, got {self.max_grad_norm!r}")
        if not math.isfinite(self.init_log_std):
            raise ValueError(f"MFOSConfig.init_log_std must be finite, got {self.init_log_std!r}")
        if self.dtype not in _DTYPES:
            raise ValueError(f"MFOSConfig.dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.minibatches > self.horizon * self.batch:
            raise ValueError(
                f"MFOSConfig.minibatches ({self.minibatches}) exceeds the transitions per batch "
                f"(horizon * batch = {self.horizon * self.batch})"
            )

    def discount(self, game_id: str | None) -> float:
        """Inner-game γ actually used: the given one or the paper's for this game."""
        from lola_zoo.experiments.exact import PAPER_GAMMA

        if self.gamma is not None:
            return float(self.gamma)
        return PAPER_GAMMA.get(game_id or "", 0.96)


_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _resolve_game(game: MatrixGame | str) -> tuple[MatrixGame, str | None]:
    """A game object and its registry id (when given by id)."""
    if isinstance(game, str):
        return lola_zoo.game(game), game
    return game, getattr(game, "id", None) or getattr(game, "name", None)


class MetaGame:
    """Batched exact meta-environment: B meta-episodes of ``horizon`` inner games against a learner.

    :param game: a two-player 2×2 matrix game (object or registered id).
    :param horizon: meta-steps per meta-episode T.
    :param opponent: registered exact learner of the opponent.
    :param opponent_lr: the opponent's learning rate δ.
    :param opponent_eta: correction rate η of LOLA-type opponents.
    :param gamma: inner discount; ``None`` = the paper's value for a registered id (else 0.96).
    :param init_std: initial opponent logits ~ N(0, init_std²).
    :param dtype: dtype of the inner game.
    """

    def __init__(
        self,
        game: MatrixGame | str,
        horizon: int = 100,
        opponent: str = "nl",
        opponent_lr: float = 1.0,
        opponent_eta: float = 1.0,
        gamma: float | None = None,
        init_std: float = 1.0,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        from lola_zoo.experiments.exact import PAPER_GAMMA, make_value_fn

        self.game, game_id = _resolve_game(game)
        if self.game.n_players != 2 or tuple(self.game.n_actions) != (2, 2):
            raise ValueError(f"M-FOS on exact values needs a two-player 2x2 game, got {self.game!r}")
        self.gamma = float(gamma) if gamma is not None else PAPER_GAMMA.get(game_id or "", 0.96)
        self.value_fn: ValueFn = make_value_fn(self.game, self.gamma)
        self.horizon = int(horizon)
        self.learner: Learner = make_learner(opponent, eta=opponent_eta)
        self.opponent_lr = float(opponent_lr)
        self.init_std = float(init_std)
        self.dtype = dtype
        self.n_states = self.game.n_states
        self.t = 0
        self.opponent_params: torch.Tensor | None = None
        self.last_meta_params: torch.Tensor | None = None
        #: (B, 2) per-step rewards (meta-agent, opponent) of the last step
        self.last_rewards: torch.Tensor | None = None

    @classmethod
    def from_config(cls, game: MatrixGame | str, config: MFOSConfig) -> "MetaGame":
        """The meta-game that ``config`` trains in."""
        return cls(
            game, config.horizon, config.opponent, config.opponent_lr, config.opponent_eta,
            config.gamma, config.init_std, _DTYPES[config.dtype],
        )

    @property
    def obs_dim(self) -> int:
        """Observation size: both players' policies (S each) and the time fraction."""
        return 2 * self.n_states + 1

    @property
    def action_dim(self) -> int:
        """Action size: the meta-agent's S logits."""
        return self.n_states

    def observation(self) -> torch.Tensor:
        """``(B, 2S+1)`` float32: σ(own last logits), σ(opponent logits), t / T."""
        assert self.opponent_params is not None and self.last_meta_params is not None, "call reset() first"
        b = self.opponent_params.shape[0]
        frac = torch.full((b, 1), self.t / self.horizon, dtype=self.dtype)
        obs = torch.cat([torch.sigmoid(self.last_meta_params), torch.sigmoid(self.opponent_params), frac], dim=1)
        return obs.float()

    def reset(
        self, batch: int, generator: torch.Generator | None = None, opponent_params: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Start ``batch`` meta-episodes with opponent logits ~ N(0, init_std²) (or the given ones)."""
        if opponent_params is None:
            opponent_params = self.init_std * torch.randn(
                (batch, self.n_states), generator=generator, dtype=self.dtype
            )
        elif opponent_params.shape != (batch, self.n_states):
            raise ValueError(f"opponent_params must have shape {(batch, self.n_states)}, got {tuple(opponent_params.shape)}")
        self.opponent_params = opponent_params.detach().to(self.dtype)
        # Before the first meta-step the meta-agent "played" the uniform policy (logits 0).
        self.last_meta_params = torch.zeros_like(self.opponent_params)
        self.t = 0
        self.last_rewards = None
        return self.observation()

    def step(self, meta_logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Play one inner game with ``meta_logits`` (B, S), update the opponent; returns (obs, reward, done).

        ``reward`` (B,) is the meta-agent's exact average reward per step ``(1 - γ) V_0`` of this
        meta-step's policy pair (before the opponent's update); the opponent's is in ``last_rewards``.
        """
        if self.opponent_params is None:
            raise RuntimeError("MetaGame.step() before reset()")
        if self.t >= self.horizon:
            raise RuntimeError(f"the meta-episode is over ({self.horizon} meta-steps); call reset()")
        meta = meta_logits.detach().to(self.dtype)
        if meta.shape != self.opponent_params.shape:
            raise ValueError(f"meta_logits must have shape {tuple(self.opponent_params.shape)}, got {tuple(meta.shape)}")
        # The rollout runs under no_grad (sampling actions); the opponent's learning step needs autograd.
        with torch.enable_grad():
            d = Derivatives(self.value_fn, [meta, self.opponent_params], create_graph=self.learner.second_order)
            direction = self.learner.direction(d, 1)
            new_opp = (d.params[1] + self.opponent_lr * direction).detach()
        values = d.values.detach()
        if not torch.isfinite(new_opp).all():
            raise RuntimeError("the opponent's logits became non-finite; lower opponent_lr / opponent_eta")
        self.opponent_params = new_opp
        self.last_meta_params = meta
        self.last_rewards = (1.0 - self.gamma) * values
        self.t += 1
        return self.observation(), self.last_rewards[:, 0], self.t >= self.horizon


class MFOSAgent(nn.Module):
    """Actor-critic meta-policy: a diagonal Gaussian over the inner policy's logits and a value head.

    The critic predicts the return divided by ``value_scale`` (the largest possible sum of meta-step
    discounts), which keeps its targets within the per-step reward range whatever the horizon.
    """

    def __init__(
        self, obs_dim: int, action_dim: int, hidden: int = 64, init_log_std: float = 0.0, value_scale: float = 1.0
    ) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden = int(obs_dim), int(action_dim), int(hidden)
        self.value_scale = float(value_scale)
        self.actor = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, action_dim)
        )
        self.critic = nn.Sequential(
            nn.Linear(obs_dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
        )
        # A state-independent std (the paper's is state-dependent): simpler and enough for a 5-dim action.
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_log_std)))
        # Small last layers: the first policies are near-uniform and the first values near zero.
        for head in (self.actor[-1], self.critic[-1]):
            assert isinstance(head, nn.Linear)
            nn.init.orthogonal_(head.weight, gain=0.01)
            nn.init.zeros_(head.bias)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        """The Gaussian over logits at ``obs`` (B, obs_dim)."""
        return torch.distributions.Normal(self.actor(obs), self.log_std.exp().expand(self.action_dim))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State value (B,) in return units."""
        return self.critic(obs).squeeze(-1) * self.value_scale

    def act(
        self, obs: torch.Tensor, generator: torch.Generator | None = None, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sampled (or mean) logits, their log-probability (B,) and the state value (B,)."""
        dist = self.distribution(obs)
        if deterministic:
            action = dist.mean
        else:
            # Sampling by hand so that a private generator makes rollouts reproducible.
            noise = torch.randn(dist.mean.shape, generator=generator, dtype=dist.mean.dtype)
            action = dist.mean + dist.stddev * noise
        return action, dist.log_prob(action).sum(-1), self.value(obs)

    def evaluate_actions(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-probabilities (N,), entropies (N,) and values (N,) of stored transitions."""
        dist = self.distribution(obs)
        return dist.log_prob(actions).sum(-1), dist.entropy().sum(-1), self.value(obs)

    def save(self, path: str | Path, config: MFOSConfig | None = None) -> Path:
        """Atomically write this agent (and optionally its config) to ``path``."""
        return save_agent(self, path, config)

    @classmethod
    def load(cls, path: str | Path) -> "MFOSAgent":
        """Read an agent written by :meth:`save`."""
        return load_agent(path)[0]


def compute_gae(
    rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float,
    dones: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns for ``(T, B)`` rewards and values.

    ``last_value`` (B,) bootstraps after the last step (0 when the meta-episode ended there);
    ``dones[t]`` marks steps after which the episode ended (no bootstrapping across them).
    """
    steps = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    next_value = last_value
    for t in reversed(range(steps)):
        live = 1.0 if dones is None else 1.0 - dones[t].to(rewards.dtype)
        delta = rewards[t] + gamma * next_value * live - values[t]
        running = delta + gamma * lam * live * running
        adv[t] = running
        next_value = values[t]
    return adv, adv + values


def ppo_clip_loss(logp_new: torch.Tensor, logp_old: torch.Tensor, advantages: torch.Tensor, clip: float) -> torch.Tensor:
    """PPO's clipped surrogate as a loss to minimise: ``-mean(min(ρA, clip(ρ, 1±ε)A))``."""
    ratio = torch.exp(logp_new - logp_old)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    return -torch.min(unclipped, clipped).mean()


def _make_agent(env: MetaGame, config: MFOSConfig) -> MFOSAgent:
    """A fresh agent whose weights depend only on ``config.seed``."""
    value_scale = config.horizon if config.meta_gamma == 1.0 else (1 - config.meta_gamma**config.horizon) / (1 - config.meta_gamma)
    # fork_rng: seed the network init without touching the caller's global torch RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return MFOSAgent(env.obs_dim, env.action_dim, config.hidden, config.init_log_std, value_scale)


def _rollout(
    agent: MFOSAgent, env: MetaGame, batch: int, generator: torch.Generator, deterministic: bool = False
) -> dict[str, torch.Tensor]:
    """One batch of full meta-episodes: (T, B, ...) observations, actions, log-probs, values, rewards."""
    obs = env.reset(batch, generator)
    keys = ("obs", "actions", "logp", "values", "rewards", "opp_rewards")
    out: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    with torch.no_grad():
        done = False
        while not done:
            action, logp, value = agent.act(obs, generator, deterministic)
            next_obs, reward, done = env.step(action)
            assert env.last_rewards is not None
            for k, v in zip(keys, (obs, action, logp, value, reward.float(), env.last_rewards[:, 1].float())):
                out[k].append(v)
            obs = next_obs
    stacked = {k: torch.stack(v) for k, v in out.items()}
    stacked["final_opponent_params"] = env.opponent_params.detach().clone()  # type: ignore[union-attr]
    stacked["final_meta_params"] = env.last_meta_params.detach().clone()  # type: ignore[union-attr]
    return stacked


def _ppo_update(
    agent: MFOSAgent, optimizer: torch.optim.Optimizer, data: dict[str, torch.Tensor], config: MFOSConfig,
    generator: torch.Generator,
) -> dict[str, float]:
    """PPO epochs over one batch of meta-episodes; returns mean losses."""
    steps, batch = data["rewards"].shape
    adv, returns = compute_gae(
        data["rewards"], data["values"], torch.zeros(batch), config.meta_gamma, config.gae_lambda
    )
    flat = {
        "obs": data["obs"].reshape(steps * batch, -1),
        "actions": data["actions"].reshape(steps * batch, -1),
        "logp": data["logp"].reshape(-1),
        "adv": adv.reshape(-1),
        "returns": returns.reshape(-1),
    }
    n = steps * batch
    size = n // config.minibatches
    stats = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0}
    count = 0
    for _ in range(config.epochs):
        perm = torch.randperm(n, generator=generator)
        for k in range(config.minibatches):
            idx = perm[k * size:(k + 1) * size]
            a = flat["adv"][idx]
            # Per-minibatch normalisation: the policy step's size does not depend on the reward scale.
            a = (a - a.mean()) / (a.std() + 1e-8)
            logp, entropy, value = agent.evaluate_actions(flat["obs"][idx], flat["actions"][idx])
            policy_loss = ppo_clip_loss(logp, flat["logp"][idx], a, config.clip)
            # In the critic's own (scaled) units, so its loss is O(1) for any horizon.
            value_loss = ((value - flat["returns"][idx]) / agent.value_scale).pow(2).mean()
            loss = policy_loss + config.value_coef * value_loss - config.entropy_coef * entropy.mean()
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
            stats["policy_loss"] += policy_loss.item()
            stats["value_loss"] += value_loss.item()
            stats["entropy"] += entropy.mean().item()
            count += 1
    return {k: v / count for k, v in stats.items()}


def train_mfos(
    game: MatrixGame | str, config: MFOSConfig | None = None, progress: bool = False
) -> tuple[MFOSAgent, dict[str, list[float]]]:
    """Train an M-FOS meta-agent with PPO; returns the agent and per-iteration history.

    ``history["mfos"]`` / ``history["opponent"]``: mean reward per step of each side over the batch's
    meta-episodes (the mean meta-episode return divided by T); ``history["mfos_final"]``: the
    meta-agent's reward at the last meta-step; also the PPO losses and the cumulative wall time.
    """
    config = config or MFOSConfig()
    env = MetaGame.from_config(game, config)
    agent = _make_agent(env, config)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    history: dict[str, list[float]] = {
        k: [] for k in ("mfos", "opponent", "mfos_final", "opponent_final", "policy_loss", "value_loss", "entropy", "seconds")
    }
    from tqdm.auto import tqdm

    start = time.perf_counter()
    bar = tqdm(range(config.iterations), desc=f"M-FOS vs {config.opponent.upper()}", disable=not progress, unit="it")
    for _ in bar:
        data = _rollout(agent, env, config.batch, generator)
        stats = _ppo_update(agent, optimizer, data, config, generator)
        history["mfos"].append(float(data["rewards"].mean()))
        history["opponent"].append(float(data["opp_rewards"].mean()))
        history["mfos_final"].append(float(data["rewards"][-1].mean()))
        history["opponent_final"].append(float(data["opp_rewards"][-1].mean()))
        for k, v in stats.items():
            history[k].append(v)
        history["seconds"].append(time.perf_counter() - start)
        bar.set_postfix(mfos=f"{history['mfos'][-1]:.3f}", opp=f"{history['opponent'][-1]:.3f}")
    bar.close()
    return agent, history


def evaluate_mfos(
    agent: MFOSAgent, game: MatrixGame | str, config: MFOSConfig, episodes: int = 1000,
    deterministic: bool = False, seed: int | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` fresh meta-episodes; mean reward per step of both sides, overall and at the end.

    ``seed`` (default ``config.seed + 1``, i.e. not the training draws) seeds the opponents' initial
    logits and the sampled actions; ``deterministic`` plays the Gaussian's mean instead of samples.
    """
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    env = MetaGame.from_config(game, config)
    generator = torch.Generator().manual_seed(config.seed + 1 if seed is None else int(seed))
    was_training = agent.training
    agent.eval()
    try:
        data = _rollout(agent, env, episodes, generator, deterministic)
    finally:
        agent.train(was_training)
    per_episode = data["rewards"].mean(0).double()
    opp_per_episode = data["opp_rewards"].mean(0).double()
    labels = env.game.state_labels(0)

    def sem(x: torch.Tensor) -> float:
        return float(x.std(unbiased=True) / math.sqrt(x.numel())) if x.numel() > 1 else 0.0

    return {
        "episodes": episodes,
        "horizon": env.horizon,
        "opponent": config.opponent,
        "deterministic": deterministic,
        "mfos_mean": float(per_episode.mean()),
        "mfos_mean_sem": sem(per_episode),
        "opponent_mean": float(opp_per_episode.mean()),
        "opponent_mean_sem": sem(opp_per_episode),
        "mfos_final": float(data["rewards"][-1].double().mean()),
        "opponent_final": float(data["opp_rewards"][-1].double().mean()),
        "mfos_curve": data["rewards"].double().mean(1).tolist(),
        "opponent_curve": data["opp_rewards"].double().mean(1).tolist(),
        "mfos_final_policy": dict(zip(labels, torch.sigmoid(data["final_meta_params"]).mean(0).tolist())),
        "opponent_final_policy": dict(zip(labels, torch.sigmoid(data["final_opponent_params"]).mean(0).tolist())),
    }


def save_agent(agent: MFOSAgent, path: str | Path, config: MFOSConfig | None = None) -> Path:
    """Atomically write ``agent`` (weights, shape, optional config) to ``path`` (temp file + os.replace)."""
    from lola_zoo.io import atomic_torch_save

    payload = {
        "format": "lola_zoo.mfos/1",
        "obs_dim": agent.obs_dim,
        "action_dim": agent.action_dim,
        "hidden": agent.hidden,
        "value_scale": agent.value_scale,
        "state_dict": agent.state_dict(),
        "config": asdict(config) if config is not None else None,
    }
    return atomic_torch_save(path, payload)


def load_agent(path: str | Path) -> tuple[MFOSAgent, MFOSConfig | None]:
    """Read an agent (and its config, when saved) written by :func:`save_agent`."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != "lola_zoo.mfos/1":
        raise ValueError(f"{path}: not an M-FOS agent file (no 'lola_zoo.mfos/1' format tag)")
    agent = MFOSAgent(payload["obs_dim"], payload["action_dim"], payload["hidden"], value_scale=payload["value_scale"])
    agent.load_state_dict(payload["state_dict"])
    config = None
    if payload.get("config") is not None:
        known = {f.name for f in fields(MFOSConfig)}
        config = MFOSConfig(**{k: v for k, v in payload["config"].items() if k in known})
    return agent, config
