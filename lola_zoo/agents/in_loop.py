"""LOLA as a drop-in agent: policy-gradient learners (NL-PG, LOLA-PG, LOLA-OM) in a plain PettingZoo loop.

:class:`PolicyGradientAgent` puts any of the sampled-gradient learners — :class:`~lola_zoo.agents.naive.PolicyGradient`
(NL-PG) or :class:`~lola_zoo.agents.lola.LOLA` (white-box LOLA-PG, black-box LOLA-OM, ``taylor`` or
``lookahead`` correction) — behind the :class:`~lola_zoo.agents.base.Agent` protocol, for a user's
own **parallel** loop over any two-player env, any observation space and any torch policy following
the three-method interface of :mod:`lola_zoo.agents.policies` (feed-forward or recurrent)::

    observations, infos = env.reset()
    for agent in agents.values(): agent.reset()
    while env.agents:
        actions = {a: agents[a].act(observations[a]) for a in env.agents}
        next_obs, rewards, terminations, truncations, infos = env.step(actions)
        observe_all(agents, observations, actions, rewards, next_obs, terminations, truncations, infos)
        observations = next_obs
    for agent in agents.values(): agent.update()

LOLA differentiates through the *opponent's* learning step, so it needs the opponent's
observations, actions and rewards, not only its own: :meth:`PolicyGradientAgent.observe_parallel`
reads both sides of every step from the loop's dicts (:func:`~lola_zoo.agents.base.observe_all`
passes them).  Complete episodes of equal length form an :class:`~lola_zoo.envs.batched.Episodes`
batch; once ``episodes_per_update`` of them are in, :meth:`PolicyGradientAgent.update` computes the
learner's gradient, and the step is applied at the next ``reset``/``act`` — so two agents updated one
after the other in the loop both compute their gradient at the *same* parameters, the paper's
simultaneous "learning together".

White-box LOLA holds a handle on the opponent's policy: another PolicyGradientAgent's torch policy,
or an SB3 actor-critic's actor through :class:`SB3PolicyModule`.  Black-box LOLA-OM never reads the
opponent: it fits an :class:`~lola_zoo.agents.opponent_model.OpponentModel` to the opponent's
observed actions, so the opponent can be anything that acts — an SB3 model, an Axelrod strategy,
a fixed tit-for-tat.  :func:`make_pg_agent` builds either, with a default policy for the env's
observation space.

**Speed.**  The plain loop runs Python per step.  For a feed-forward policy on a ``Discrete``
observation space (the memory-1 table of the iterated games), :meth:`PolicyGradientAgent.act` does
not call the policy: it tabulates the action distribution of every observation once per parameter
change (the parameters' in-place version counters tell when they changed) and draws from the
cached cumulative table with Python's ``random``.  The distribution is exactly ``policy.step``'s;
only the random stream differs from torch sampling.  A feed-forward policy on ``Box`` observations
memoises the distribution per distinct observation (its bytes) until the parameters change — in the
3×3 Coin Game about a quarter to a third of the steps of an update hit that cache.  Recurrent
policies are called at every step, with their state carried from ``initial_state``.
"""

from __future__ import annotations

import bisect
import difflib
import math
import random
from typing import Any, Literal, Mapping, Sequence, cast

import numpy as np
import torch
from torch import nn

from lola_zoo.agents.base import Agent, Transition, memory1_state
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.opponent_model import WhiteBoxOpponent
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import Episodes

__all__ = [
    "PG_KINDS",
    "PolicyGradientAgent",
    "MLPPolicy",
    "SB3PolicyModule",
    "torch_policy_of",
    "default_policy",
    "learner_label",
    "make_pg_agent",
]

#: the learners :func:`make_pg_agent` builds: NL-PG, LOLA-PG / LOLA-OM, Advantage Alignment, POLA-DiCE / POLA-OM, LOQA
PG_KINDS: tuple[str, ...] = ("nl", "lola", "lola-om", "aa", "pola", "pola-om", "loqa")
#: the kinds that read the opponent's torch policy (white-box)
_WHITE_BOX = ("lola", "pola", "loqa")

_UNSET = object()  # "no recurrent state yet": the next act() starts an episode
_MEMO_SIZE = 65_536  # cached distributions of a feed-forward policy on Box observations, at most


def _check_policy_interface(policy: Any, what: str = "policy") -> None:
    """Every policy module must offer initial_state / step / forward (see lola_zoo.agents.policies)."""
    if not isinstance(policy, nn.Module):
        raise TypeError(f"{what} must be a torch.nn.Module, got {type(policy).__name__}")
    missing = [m for m in ("initial_state", "step", "forward") if not callable(getattr(policy, m, None))]
    if missing:
        raise TypeError(
            f"{what} {type(policy).__name__} lacks {', '.join(missing)}: a policy module needs "
            "initial_state(batch_shape) -> hidden (None for a feed-forward policy, the zero state for a "
            "recurrent one), step(observation, hidden) -> (log_probs, hidden) and forward(observations, "
            "actions) -> log_probs (see lola_zoo.agents.policies)"
        )
    if getattr(policy, "runs", None) is not None:
        raise ValueError(f"an in-loop agent plays one game at a time: build its {what} with runs=None")


def learner_label(learner: Any) -> str:
    """What a learner runs, as tables show it: ``NL-PG``, ``LOLA-PG`` (white-box), ``LOLA-OM`` (black-box)."""
    if isinstance(learner, LOLA):
        label = "LOLA-PG" if getattr(learner.opponent, "mode", "white-box") == "white-box" else "LOLA-OM"
        return label + (" (lookahead)" if learner.correction == "lookahead" else "")
    if isinstance(learner, PolicyGradient):
        return "NL-PG"
    return str(getattr(learner, "name", None) or getattr(learner, "label", None) or type(learner).__name__)


# --------------------------------------------------------------------------- policies


class MLPPolicy(nn.Module):
    """A small feed-forward softmax policy on any ``Box`` observation: flatten, tanh MLP, linear head.

    It follows the three-method interface of :mod:`lola_zoo.agents.policies`, so NL-PG, LOLA-PG and
    LOLA-OM train it unchanged.

    :param obs_shape: shape of one observation (it is flattened).
    :param n_actions: number of discrete actions.
    :param hidden: widths of the hidden layers (``()``: a linear softmax policy).
    :param seed: seed of the initialisation (the global RNG is untouched); ``None``: torch's global RNG.
    """

    def __init__(
        self, obs_shape: Sequence[int], n_actions: int, hidden: Sequence[int] = (32,), seed: int | None = None
    ) -> None:
        super().__init__()
        self.obs_shape = tuple(int(d) for d in obs_shape)
        if any(d < 1 for d in self.obs_shape):
            raise ValueError(f"obs_shape must hold positive sizes, got {tuple(obs_shape)}")
        if isinstance(n_actions, bool) or int(n_actions) != n_actions or n_actions < 1:
            raise ValueError(f"n_actions must be a positive integer, got {n_actions!r}")
        if any(isinstance(h, bool) or int(h) != h or h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive integers, got {tuple(hidden)}")
        self.n_actions = int(n_actions)
        width = int(np.prod(self.obs_shape)) if self.obs_shape else 1
        layers: list[nn.Module] = []
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(int(seed))
            for h in hidden:
                layers += [nn.Linear(width, int(h)), nn.Tanh()]
                width = int(h)
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(width, self.n_actions)
            # A small head: the first policy is close to uniform, so early episodes explore.
            nn.init.normal_(self.head.weight, std=0.01)
            nn.init.zeros_(self.head.bias)

    def initial_state(self, batch_shape: int | Sequence[int]) -> None:
        """A feed-forward policy carries no hidden state."""
        return None

    def step(self, observation: torch.Tensor, hidden: Any = None) -> tuple[torch.Tensor, None]:
        """Log-probabilities ``(*batch, n_actions)`` for observations ``(*batch, *obs_shape)``."""
        n = len(self.obs_shape)
        if observation.dim() < n or tuple(observation.shape[observation.dim() - n:]) != self.obs_shape:
            raise ValueError(f"observations must end in {self.obs_shape}, got {tuple(observation.shape)}")
        lead = observation.shape[: observation.dim() - n]
        x = observation.reshape(*lead, -1).to(self.head.weight.dtype)
        return torch.log_softmax(self.head(self.body(x)), dim=-1), None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_t)``: ``(*batch, T, *obs_shape)``, actions ``(*batch, T)`` -> ``(*batch, T)``."""
        log_probs, _ = self.step(observations)
        if tuple(actions.shape) != tuple(log_probs.shape[:-1]):
            raise ValueError(f"actions {tuple(actions.shape)} must match the observations' batch and time "
                             f"dimensions {tuple(log_probs.shape[:-1])}")
        return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


class SB3PolicyModule(nn.Module):
    """An SB3 actor-critic's actor (PPO, A2C) as a policy module, so white-box LOLA can read it.

    The SB3 policy is registered as the submodule ``policy``: its parameters are this module's, and
    :func:`torch.func.functional_call` substitutes them, which is how LOLA differentiates through the
    opponent's anticipated step.  Observations go through SB3's own preprocessing
    (``policy.get_distribution`` one-hots ``Discrete`` observations, as SB3 does when it trains), so
    the log-probabilities equal ``model.policy.evaluate_actions``'.  The value head's parameters are
    there too; the actor's log-probabilities do not depend on them (their gradients are zero).

    :param model: an SB3 ``BaseAlgorithm`` with an actor-critic policy and a ``Discrete`` action
        space (PPO, A2C), or its ``policy``.
    """

    def __init__(self, model: Any) -> None:
        super().__init__()
        import gymnasium

        policy = getattr(model, "policy", model)
        if not isinstance(policy, nn.Module) or not callable(getattr(policy, "get_distribution", None)):
            raise TypeError(
                f"{type(model).__name__} has no stochastic actor (policy.get_distribution): white-box LOLA reads "
                "PPO's or A2C's policy; for DQN or any other opponent use black-box LOLA-OM"
            )
        if not isinstance(policy.action_space, gymnasium.spaces.Discrete):
            raise ValueError(f"SB3PolicyModule needs a Discrete action space, got {policy.action_space}")
        self.policy: Any = policy  # an SB3 ActorCriticPolicy
        self.observation_space: Any = cast(Any, policy).observation_space
        self.n_actions = int(policy.action_space.n)
        self._obs_shape = tuple(self.observation_space.shape or ())

    def initial_state(self, batch_shape: int | Sequence[int]) -> None:
        """SB3's MLP and CNN policies are feed-forward (no recurrent state)."""
        return None

    def _log_probs(self, observations: torch.Tensor) -> torch.Tensor:
        n = len(self._obs_shape)
        if tuple(observations.shape[observations.dim() - n:]) != self._obs_shape:
            raise ValueError(f"observations must end in {self._obs_shape}, got {tuple(observations.shape)}")
        lead = observations.shape[: observations.dim() - n]
        flat = observations.reshape(-1, *self._obs_shape).to(self.policy.device)
        # Categorical's logits are normalised: they are the log-probabilities.
        logits = self.policy.get_distribution(flat).distribution.logits
        return logits.reshape(*lead, self.n_actions)

    def step(self, observation: torch.Tensor, hidden: Any = None) -> tuple[torch.Tensor, None]:
        """Log-probabilities ``(*batch, n_actions)`` of SB3's actor for observations ``(*batch, *obs)``."""
        return self._log_probs(observation), None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_t)`` of SB3's actor: ``(*batch, T, *obs)``, ``(*batch, T)`` -> ``(*batch, T)``."""
        log_probs = self._log_probs(observations)
        return log_probs.gather(-1, actions.long().to(log_probs.device).unsqueeze(-1)).squeeze(-1)


def torch_policy_of(opponent: Any) -> nn.Module | None:
    """The torch policy module behind an agent (``None`` if it has none): what white-box LOLA reads.

    A policy module is returned as is; a policy-gradient agent gives its ``policy``; an SB3 agent
    (or model) with an actor-critic policy gives :class:`SB3PolicyModule` over it.
    """
    if opponent is None:
        return None
    if isinstance(opponent, nn.Module):
        return opponent if callable(getattr(opponent, "step", None)) else None
    policy = getattr(opponent, "policy", None)
    if isinstance(policy, nn.Module) and all(callable(getattr(policy, m, None)) for m in ("initial_state", "step")):
        return policy
    model = getattr(opponent, "model", opponent)  # SB3Agent holds .model; an SB3 model itself has .policy
    sb3_policy = getattr(model, "policy", None)
    if isinstance(sb3_policy, nn.Module) and callable(getattr(sb3_policy, "get_distribution", None)):
        return SB3PolicyModule(model)
    return None


def _is_coin_like(shape: tuple[int, ...]) -> bool:
    """Planes over a square grid ``(C, g, g)``: the Coin Game's observation."""
    return len(shape) == 3 and shape[1] == shape[2]


def default_policy(
    observation_space: Any,
    action_space: Any,
    kind: str = "auto",
    *,
    seed: int | None = None,
    init_std: float = 1.0,
    **kwargs: Any,
) -> nn.Module:
    """A policy module for a seat's spaces: memory-1 table, Coin Game conv/GRU/LSTM/linear, or an MLP.

    :param kind: ``auto`` (``memory1`` for a ``Discrete`` observation, ``gru`` for ``(C, g, g)`` grids,
        ``mlp`` for any other ``Box``), or one of ``memory1``, ``conv``, ``gru``, ``lstm``, ``linear``, ``mlp``.
    :param seed: seeds the initial parameters (``None``: torch's global RNG).
    :param init_std: std of the memory-1 table's initial logits (the reference code: 1).
    :param kwargs: passed to the policy's constructor (``channels``, ``hidden_size``, ``hidden``...).
    """
    import gymnasium

    if not isinstance(action_space, gymnasium.spaces.Discrete):
        raise ValueError(f"policy-gradient agents here need a Discrete action space, got {action_space}")
    n_actions = int(action_space.n)
    discrete = isinstance(observation_space, gymnasium.spaces.Discrete)
    shape = tuple(getattr(observation_space, "shape", None) or ())
    if not discrete and not isinstance(observation_space, gymnasium.spaces.Box):
        raise ValueError(f"no default policy for the observation space {observation_space}; pass policy=...")
    if kind == "auto":
        kind = "memory1" if discrete else ("gru" if _is_coin_like(shape) else "mlp")
    if kind == "memory1":
        if not discrete:
            raise ValueError(f"the memory-1 table needs a Discrete observation space, got {observation_space}")
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        form: Literal["sigmoid", "softmax"] = "sigmoid" if n_actions == 2 else "softmax"
        return Memory1Policy(int(observation_space.n), n_actions, form, init_std=init_std, generator=gen, **kwargs)
    if discrete:
        raise ValueError(f"policy {kind!r} needs a Box observation; this space is {observation_space} (use memory1)")
    if kind in ("conv", "gru", "lstm", "linear"):
        if not _is_coin_like(shape):
            raise ValueError(f"policy {kind!r} reads (channels, grid, grid) planes; the observations are {shape}")
        from lola_zoo.agents.coin_linear import CoinLinearPolicy
        from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinRecurrentPolicy

        channels, grid = shape[0], shape[1]
        if kind == "linear":
            return CoinLinearPolicy(grid, channels, n_actions, seed=seed, **kwargs)
        if kind == "conv":
            return CoinConvPolicy(grid, channels, n_actions, seed=seed, **kwargs)
        if kind == "lstm":
            kwargs["cell"] = "lstm"
        return CoinRecurrentPolicy(grid, channels, n_actions, seed=seed, **kwargs)
    if kind == "mlp":
        return MLPPolicy(shape, n_actions, seed=seed, **kwargs)
    raise ValueError(f"unknown policy kind {kind!r}; choose from auto, memory1, conv, gru, lstm, linear, mlp")


def _check_policy_output(policy: nn.Module, observation_space: Any, action_space: Any, what: str) -> None:
    """One observation through ``policy.step`` must give log-probabilities ``(1, n_actions)``."""
    import gymnasium

    n = int(action_space.n)
    if isinstance(observation_space, gymnasium.spaces.Discrete):
        obs = torch.zeros(1, dtype=torch.long)
    else:
        obs = torch.zeros(1, *observation_space.shape)
    device = next(iter(policy.parameters()), torch.zeros(())).device
    with torch.no_grad():
        try:
            log_probs, _ = cast(Any, policy).step(obs.to(device), cast(Any, policy).initial_state((1,)))
        except Exception as exc:
            raise ValueError(f"{what} {type(policy).__name__} cannot take an observation of {observation_space}: "
                             f"{exc}") from exc
    if tuple(log_probs.shape) != (1, n):
        raise ValueError(
            f"{what} {type(policy).__name__} returns log-probabilities of shape {tuple(log_probs.shape)} for one "
            f"observation; the action space {action_space} needs (1, {n})"
        )


# --------------------------------------------------------------------------- the agent


class PolicyGradientAgent(Agent):
    """A policy-gradient learner (NL-PG, LOLA-PG, LOLA-OM) as an Agent in a plain PettingZoo parallel loop.

    It samples from the learner's policy in :meth:`act`, records its own *and* the opponent's
    observation, action and reward of every step in :meth:`observe_parallel`, and learns in
    :meth:`update` once ``episodes_per_update`` complete episodes of one length are in.  The step
    computed in :meth:`update` is applied at the next :meth:`reset`/:meth:`act` (or
    :meth:`state_dict`): two learners updated one after the other both compute their gradient at the
    same parameters (simultaneous learning, as in the paper).  Episodes of other lengths, and
    everything gathered before an update, are dropped at the update: they were played by the old
    policy.

    :param learner: :class:`~lola_zoo.agents.naive.PolicyGradient` or :class:`~lola_zoo.agents.lola.LOLA`
        (anything with ``policy``, ``gradient(episodes, seat)``, ``apply(gradient)``).
    :param opponent_id: the opponent's name in the loop's dicts; ``None``: the one other agent that acts.
    :param episodes_per_update: complete episodes per learning step.
    :param name: shown in tables; defaults to :attr:`label` (what runs).
    :param device: where the learner's batches go (the policy must live there too).
    :param observation_space: this seat's observation space; a ``Discrete`` one lets a feed-forward
        policy act from a cached table (see the module docstring).  ``None``: a :class:`Memory1Policy`
        is tabulated over its ``n_states``, any other policy is called per step.
    :param action_space: this seat's action space, to check the policy's output size.
    :param tabulate: allow the cached table (``False``: call ``policy.step`` every step).
    :param seat: this agent's seat index (0 or 1) in the batches it builds; ``None``: its position in
        the loop's dicts.  Kept from the matrix-game-only agent, as is ``game``.
    :param game: an iterated matrix game (or its id): lets :meth:`observe` (a loop that hands over
        only this agent's :class:`~lola_zoo.agents.base.Transition`) rebuild the opponent's side from
        ``info["joint_action"]``; needs ``seat``.
    """

    def __init__(
        self,
        learner: Any,
        opponent_id: str | None = None,
        episodes_per_update: int = 32,
        name: str | None = None,
        device: torch.device | str = "cpu",
        *,
        observation_space: Any = None,
        action_space: Any = None,
        tabulate: bool = True,
        seat: int | None = None,
        game: Any = None,
    ) -> None:
        if opponent_id is not None and not isinstance(opponent_id, str):
            raise TypeError(
                f"opponent_id must be the opponent's agent name (e.g. 'player_1'), got {opponent_id!r}; the old "
                "positional (learner, seat, game) form is keyword-only now: PolicyGradientAgent(learner, seat=0)"
            )
        missing = [m for m in ("gradient", "apply") if not callable(getattr(learner, m, None))]
        if missing or not hasattr(learner, "policy"):
            raise TypeError(f"learner {type(learner).__name__} needs policy, gradient(episodes, seat) and "
                            "apply(gradient) (PolicyGradient or LOLA)")
        if isinstance(episodes_per_update, bool) or int(episodes_per_update) != episodes_per_update \
                or episodes_per_update < 1:
            raise ValueError(f"episodes_per_update must be a positive integer, got {episodes_per_update!r}")
        if seat is not None and seat not in (0, 1):
            raise ValueError(f"seat must be 0 or 1 (two-player games), got {seat!r}")
        self.learner = learner
        self.policy: nn.Module = learner.policy
        _check_policy_interface(self.policy)
        self.opponent_id = opponent_id
        self.opponent: Any = None  # the opponent's handle, when given (make_pg_agent / set_opponent)
        self.episodes_per_update = int(episodes_per_update)
        self.device = torch.device(device)
        self.seat = seat
        self.observation_space, self.action_space = observation_space, action_space
        self.name = name or self.label
        self._params = list(self.policy.parameters())
        self._act_device = self._params[0].device if self._params else torch.device("cpu")
        self._dtype = self._params[0].dtype if self._params and self._params[0].is_floating_point() else torch.float32
        self._n_obs = self._tabular_size(observation_space) if tabulate else None
        feed_forward = self.policy.initial_state((1,)) is None
        self._memo: dict[bytes, list[float]] | None = {} if tabulate and feed_forward and self._n_obs is None else None
        self._memo_key: tuple = ()
        self._table_key: tuple = ()
        self._cdf: list[list[float]] = []
        self._n_actions = int(action_space.n) if action_space is not None and hasattr(action_space, "n") else None
        self._checked_output = False
        self._tables = None
        if game is not None:
            from lola_zoo.envs.batched import BatchedIteratedGame

            self._tables = BatchedIteratedGame(game, 1)  # state and payoff look-ups for observe(transition)
            if self._tables.n_players != 2:
                raise ValueError("PolicyGradientAgent needs a two-player game")
        self._prev_joint: int | None = None
        self._steps: list[tuple] = []  # (own obs, own action, own reward, opp obs, opp action, opp reward)
        self._finished: dict[int, list[tuple[torch.Tensor, ...]]] = {}  # episode length -> episodes
        self._hidden: Any = _UNSET
        self._pending: Any = None
        self._awaiting_opponent = False  # white-box LOLA built before its opponent existed
        self._id: str | None = None
        self._opp: str | None = None
        self._random = random.Random()

    # -- what runs ---------------------------------------------------------------------------

    @property
    def label(self) -> str:
        """What runs: ``NL-PG``, ``LOLA-PG`` (white-box), ``LOLA-OM`` (black-box), `` (lookahead)`` appended."""
        return learner_label(self.learner)

    def _tabular_size(self, observation_space: Any) -> int | None:
        """How many observations to tabulate, or ``None`` when the policy must be called per step."""
        if cast(Any, self.policy).initial_state((1,)) is not None:
            return None  # recurrent: the action depends on the history, not a table of observations
        n = getattr(observation_space, "n", None)
        if n is not None and getattr(observation_space, "shape", None) in ((), None):
            # Discrete(n, start=s) observations are s..s+n-1: table rows would be misaligned, so act per step.
            return int(n) if int(getattr(observation_space, "start", 0)) == 0 else None
        if observation_space is None and isinstance(self.policy, Memory1Policy):
            return self.policy.n_states
        return None

    def set_opponent(self, opponent: Any) -> None:
        """Give the agent its opponent's handle; white-box LOLA then reads the opponent's policy from it."""
        self.opponent = opponent
        if isinstance(getattr(self.learner, "opponent", None), WhiteBoxOpponent):
            policy = torch_policy_of(opponent)
            if policy is None:
                raise ValueError(
                    f"white-box {learner_label(self.learner)} reads the opponent's policy, but {type(opponent).__name__} "
                    "has no torch policy; use a black-box kind (lola-om, pola-om), which fits a model to its actions"
                )
            self.learner.opponent = WhiteBoxOpponent(policy)
            self._awaiting_opponent = False

    # -- acting ------------------------------------------------------------------------------

    def seed(self, seed: int | None = None) -> None:
        """Seed the action sampler."""
        super().seed(seed)
        self._random.seed(int(self.rng.integers(2**63 - 1)))

    def _apply_pending(self) -> None:
        if self._pending is not None:
            self.learner.apply(self._pending)
            self._pending = None

    def reset(self) -> None:
        """Start a new episode: apply a pending learning step, clear the recurrent state and a partial episode."""
        self._apply_pending()
        self._steps = []
        self._prev_joint = None
        self._hidden = _UNSET

    def _tabulate(self, key: tuple) -> None:
        """Cumulative action probabilities of every observation, from ``policy.step`` (once per parameter change)."""
        with torch.no_grad():
            assert self._n_obs is not None  # only called when the observations are tabulated
            obs = torch.arange(self._n_obs, device=self._act_device)
            log_probs, _ = cast(Any, self.policy).step(obs, None)
        self._check_output(log_probs[:1])
        cdf = log_probs.detach().double().exp().cumsum(-1).cpu()
        cdf = cdf / cdf[:, -1:]  # exactly 1 at the end: a draw u in [0, 1) always lands on an action
        self._cdf = cdf.tolist()
        self._table_key = key

    def _check_output(self, log_probs: torch.Tensor) -> None:
        if self._checked_output:
            return
        if log_probs.dim() != 2 or log_probs.shape[0] != 1 or (
                self._n_actions is not None and log_probs.shape[1] != self._n_actions):
            want = f"(1, {self._n_actions})" if self._n_actions is not None else "(1, n_actions)"
            raise ValueError(
                f"policy {type(self.policy).__name__} returns log-probabilities of shape {tuple(log_probs.shape)} "
                f"for one observation; the action space needs {want}"
            )
        self._checked_output = True

    def _obs_tensor(self, observations: Any) -> torch.Tensor:
        """Observations as the policy takes them: integers stay ``long`` (table indices), the rest float."""
        arr = np.asarray(observations)
        if arr.dtype.kind in "iu":
            return torch.as_tensor(arr, dtype=torch.long)
        return torch.from_numpy(np.array(arr, dtype=np.float32)).to(self._dtype)  # a copy: env arrays may be read-only

    def act(self, observation: Any) -> int:
        """Sample an action from the current policy (from a cached table when the policy is feed-forward)."""
        if self._pending is not None:
            self._apply_pending()
        if self._n_obs is not None:
            # Parameters changed in place (optimiser step, load_state_dict) bump their version counters.
            key = tuple(p._version for p in self._params)
            if key != self._table_key:
                self._tabulate(key)
            try:
                state = int(observation)
            except TypeError:
                raise ValueError(f"observation {observation!r} is not one integer: the tabulated policy "
                                 f"{type(self.policy).__name__} takes Discrete observations") from None
            if not 0 <= state < self._n_obs:
                raise ValueError(f"observation {observation!r} is outside the {self._n_obs} observations tabulated")
            return bisect.bisect_right(self._cdf[state], self._random.random())
        if self._memo is not None and type(observation) is np.ndarray:
            # Feed-forward: the distribution is a function of the observation; reuse it while the parameters stand.
            key = tuple(p._version for p in self._params)
            if key != self._memo_key or len(self._memo) >= _MEMO_SIZE:
                self._memo, self._memo_key = {}, key
            obs_key = observation.tobytes()
            cdf = self._memo.get(obs_key)
            if cdf is None:
                cdf = self._memo[obs_key] = self._step_cdf(observation)
            return bisect.bisect_right(cdf, self._random.random())
        return bisect.bisect_right(self._step_cdf(observation), self._random.random())

    def _step_cdf(self, observation: Any) -> list[float]:
        """The cumulative action distribution for one observation, from ``policy.step`` (advances the hidden state)."""
        if self._hidden is _UNSET:
            self._hidden = cast(Any, self.policy).initial_state((1,))
        obs = self._obs_tensor(observation).unsqueeze(0).to(self._act_device)
        with torch.inference_mode():
            log_probs, self._hidden = cast(Any, self.policy).step(obs, self._hidden)
        self._check_output(log_probs)
        cdf = log_probs[0].double().exp().cumsum(0).cpu()
        return (cdf / cdf[-1]).tolist()  # exactly 1 at the end: a draw u in [0, 1) always lands on an action

    # -- observing ---------------------------------------------------------------------------

    def _opponent_in(self, agent_id: str, actions: Mapping[str, Any]) -> str:
        if agent_id == self._id and self._opp is not None:
            return self._opp
        if self.opponent_id is not None:
            opp = self.opponent_id
        else:
            others = [a for a in actions if a != agent_id]
            if len(others) != 1:
                raise ValueError(f"{len(others) + 1} agents act in this loop; tell {agent_id!r} its opponent "
                                 f"with opponent_id= (one of {others})")
            opp = others[0]
        if opp not in actions:
            raise KeyError(f"the opponent {opp!r} did not act in this step; agents that acted: {list(actions)}")
        if self.seat is None:
            keys = list(actions)
            self.seat = 0 if keys.index(agent_id) < keys.index(opp) else 1
        self._id, self._opp = agent_id, opp
        return opp

    def observe_parallel(
        self,
        agent_id: str,
        observations: Mapping[str, Any],
        actions: Mapping[str, Any],
        rewards: Mapping[str, float],
        next_observations: Mapping[str, Any],
        terminations: Mapping[str, bool],
        truncations: Mapping[str, bool],
        infos: Mapping[str, dict[str, Any]],
    ) -> None:
        """Record both sides of one step (own and opponent's observation, action, reward); close a finished episode."""
        opp = self._opponent_in(agent_id, actions)
        own_obs, opp_obs = observations[agent_id], observations[opp]
        # Keep a copy of array observations: an env may reuse its buffers in the next step.
        if type(own_obs) is np.ndarray:
            own_obs = own_obs.copy()
        if type(opp_obs) is np.ndarray:
            opp_obs = opp_obs.copy()
        self._steps.append((own_obs, actions[agent_id], rewards[agent_id], opp_obs, actions[opp], rewards[opp]))
        if terminations[agent_id] or truncations[agent_id]:
            self._close_episode()

    def observe(self, transition: Transition) -> None:
        """Record one step from this agent's Transition alone: iterated matrix games built with ``game=`` only."""
        joint = transition.info.get("joint_action")
        if self._tables is None or joint is None or self.seat is None:
            raise TypeError(
                "PolicyGradientAgent needs the opponent's observations, actions and rewards: feed it the loop's "
                "dicts with lola_zoo.agents.observe_all(...) (or agent.observe_parallel); a loop that hands over "
                "only Transitions works for iterated matrix games when the agent is built with seat= and game="
            )
        t = self._tables
        flat = int(sum(int(a) * int(s) for a, s in zip(joint, t._strides.tolist())))
        opp = 1 - self.seat
        opp_obs = 0 if self._prev_joint is None else int(t.state_table[opp][self._prev_joint])
        own_obs = memory1_state(transition.observation)
        payoff = t.payoff_table[flat]
        self._steps.append((own_obs, int(joint[self.seat]), float(transition.reward), opp_obs, int(joint[opp]),
                            float(payoff[opp])))
        self._prev_joint = flat
        if transition.done:
            self._close_episode()

    def _close_episode(self) -> None:
        own_obs, own_act, own_rew, opp_obs, opp_act, opp_rew = zip(*self._steps)
        episode = (
            self._obs_tensor(own_obs), torch.as_tensor(np.asarray(own_act), dtype=torch.long),
            torch.as_tensor(np.asarray(own_rew, dtype=np.float64), dtype=self._dtype),
            self._obs_tensor(opp_obs), torch.as_tensor(np.asarray(opp_act), dtype=torch.long),
            torch.as_tensor(np.asarray(opp_rew, dtype=np.float64), dtype=self._dtype),
        )
        self._finished.setdefault(len(self._steps), []).append(episode)
        self._steps = []
        self._prev_joint = None
        self._hidden = _UNSET

    # -- learning ----------------------------------------------------------------------------

    @property
    def n_episodes(self) -> int:
        """Complete episodes waiting for the next update (all lengths)."""
        return sum(len(v) for v in self._finished.values())

    def episodes(self, length: int | None = None) -> Episodes:
        """The buffered complete episodes of one ``length`` as a batch, in seat order (``None``: the most numerous)."""
        if not self._finished:
            raise ValueError("no complete episode has been observed yet")
        if length is None:
            length = max(self._finished, key=lambda k: len(self._finished[k]))
        if length not in self._finished:
            raise ValueError(f"no complete episode of length {length}; lengths buffered: {sorted(self._finished)}")
        own_obs, own_act, own_rew, opp_obs, opp_act, opp_rew = (torch.stack(x) for x in zip(*self._finished[length]))
        seat = self.seat or 0
        first, second = ((own_obs, own_act, own_rew), (opp_obs, opp_act, opp_rew))[:: 1 if seat == 0 else -1]
        d = self.device
        return Episodes(
            observations=[first[0].to(d), second[0].to(d)],
            actions=torch.stack([first[1], second[1]], dim=-1).to(d),
            rewards=torch.stack([first[2], second[2]], dim=-1).to(d),
        )

    def update(self) -> dict[str, float]:
        """Compute the learner's gradient once ``episodes_per_update`` episodes of one length are in; metrics."""
        ready = [k for k, v in self._finished.items() if len(v) >= self.episodes_per_update]
        if not ready:
            return {}
        if self._awaiting_opponent:
            raise RuntimeError("white-box LOLA has no opponent policy yet: call set_opponent(opponent_agent) "
                               "before training, or use kind='lola-om'")
        batch = self.last_batch = self.episodes(ready[0])
        self._finished = {}  # every older episode was played by the policy this step replaces
        self._apply_pending()
        seat = self.seat or 0
        self._pending = self.learner.gradient(batch, seat)
        metrics = dict(getattr(self.learner, "last_metrics", {}) or {})
        metrics["grad_norm"] = float(torch.sqrt(sum((g.double() ** 2).sum() for g in self._pending.values())))
        metrics["reward_per_step"] = float(batch.rewards[..., seat].mean())
        metrics["opponent_reward_per_step"] = float(batch.rewards[..., 1 - seat].mean())
        return metrics

    @property
    def pending_gradient(self) -> dict[str, torch.Tensor] | None:
        """The gradient computed by the last :meth:`update`, not applied yet (``None`` once applied)."""
        return self._pending

    # -- checkpoints -------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The learner's state (after applying a pending step)."""
        self._apply_pending()
        return {"learner": self.learner.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the learner's state (a pending step is dropped)."""
        self._pending = None
        self.learner.load_state_dict(state["learner"])

    def __repr__(self) -> str:
        return f"PolicyGradientAgent(name={self.name!r}, label={self.label!r}, policy={type(self.policy).__name__})"


# --------------------------------------------------------------------------- the factory


def _parallel_env(env: Any) -> Any:
    if isinstance(env, str):
        import lola_zoo

        return lola_zoo.make(env)
    if not hasattr(env, "possible_agents") or not callable(getattr(env, "observation_space", None)):
        raise TypeError(f"env must be a registered id or a PettingZoo ParallelEnv, got {type(env).__name__}")
    return env


def _check_pg_numbers(*, lr: float | None, gamma: float, eta: float | None, init_std: float, seed: int | None,
                      episodes_per_update: int) -> None:
    """make_pg_agent's numbers, each refused by name (a NaN rate or gamma 1 would only show as NaN policies later)."""
    def real(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

    if lr is not None and not (real(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number or None, got {lr!r}")
    if eta is not None and not (real(eta) and eta >= 0):
        raise ValueError(f"eta must be a finite number >= 0 or None, got {eta!r}")
    if not (real(gamma) and 0.0 < gamma < 1.0):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if not (real(init_std) and init_std >= 0):
        raise ValueError(f"init_std must be a finite number >= 0, got {init_std!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    if not isinstance(episodes_per_update, int) or isinstance(episodes_per_update, bool) or episodes_per_update < 1:
        raise ValueError(f"episodes_per_update must be a positive integer, got {episodes_per_update!r}")


def make_pg_agent(
    kind: str,
    env: Any,
    agent_id: str,
    *,
    opponent: Agent | nn.Module | None = None,
    opponent_id: str | None = None,
    policy: nn.Module | None = None,
    lr: float | None = None,
    gamma: float = 0.96,
    eta: float | None = None,
    optimizer: str | None = None,
    correction: str = "taylor",
    episodes_per_update: int = 32,
    seed: int | None = None,
    device: torch.device | str = "cpu",
    baseline: bool = True,
    policy_kind: str = "auto",
    policy_kwargs: Mapping[str, Any] | None = None,
    init_std: float = 1.0,
    opponent_model: nn.Module | None = None,
    om_method: str = "auto",
    om_pseudo_count: float = 0.5,
    om_fit_steps: int = 100,
    om_lr: float = 0.1,
    name: str | None = None,
    learner_kwargs: dict[str, Any] | None = None,
) -> PolicyGradientAgent:
    """An in-loop policy-gradient agent: NL-PG, LOLA-PG / LOLA-OM, AA-PG, POLA-DiCE / POLA-OM or LOQA-PG.

    :param kind: ``nl``, ``lola``, ``lola-om`` (black-box), ``aa``, ``pola``, ``pola-om`` (black-box) or ``loqa``.
    :param env: the PettingZoo ParallelEnv (or a registered id); only its spaces are read.
    :param agent_id: the seat this agent plays (``"player_0"``...).
    :param opponent: the opponent agent (or its policy module).  White-box ``lola`` reads its torch
        policy (a PolicyGradientAgent's, an SB3 PPO/A2C actor through :class:`SB3PolicyModule`); it
        may be given later with :meth:`PolicyGradientAgent.set_opponent`.  ``lola-om`` never reads it.
    :param opponent_id: the opponent's seat; ``None``: the env's other agent.
    :param policy: the agent's own policy module; ``None``: :func:`default_policy` for its spaces.
    :param lr: learning rate; ``None``: 1 with SGD (the paper's matrix games), 0.005 with Adam (its Coin Game).
    :param gamma: discount (the paper: 0.96).
    :param eta: LOLA's anticipated opponent learning rate; ``None``: ``lr``.
    :param optimizer: ``sgd`` or ``adam``; ``None``: ``sgd`` for a Discrete observation (tabular policy), else ``adam``.
    :param correction: ``taylor`` (the paper's first-order term) or ``lookahead`` (LOLA-DiCE).
    :param episodes_per_update: complete episodes per learning step.
    :param seed: seeds the policy's initial parameters and the action sampler.
    :param device: where the policy and the learner's batches live.
    :param baseline: leave-one-out baseline in the DiCE surrogate.
    :param policy_kind: the default policy's kind (see :func:`default_policy`); also the opponent model's.
    :param policy_kwargs: keyword arguments of the default policy.
    :param init_std: std of a memory-1 table's initial logits.
    :param opponent_model: LOLA-OM's model architecture (its values are reset); ``None``: the default
        policy for the opponent's spaces (a memory-1 table is fitted by counts, a network by gradient).
    :param om_method: ``auto``, ``counts`` (memory-1 tables) or ``gradient``.
    :param om_pseudo_count: Dirichlet pseudo-count of the counts fit.
    :param om_fit_steps: Adam steps per update of the gradient fit.
    :param om_lr: Adam learning rate of the gradient fit.
    :param name: shown in tables; defaults to what runs (``LOLA-PG``...).
    :param learner_kwargs: options of the newer learners, as the training engine takes them
        (``aa_beta``, ``pola_inner_steps``, ``pola_outer_steps``, ``pola_prox``, ``loqa_scale``).
    """
    import gymnasium

    key = str(kind).strip().lower()
    if key not in PG_KINDS:
        close = difflib.get_close_matches(key, PG_KINDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown policy-gradient kind {kind!r}{hint} (choose from {', '.join(PG_KINDS)})")
    if correction not in ("taylor", "lookahead"):
        raise ValueError(f"correction must be 'taylor' or 'lookahead', got {correction!r}")
    _check_pg_numbers(lr=lr, gamma=gamma, eta=eta, init_std=init_std, seed=seed,
                      episodes_per_update=episodes_per_update)
    from lola_zoo.devices import resolve_device

    device = resolve_device(device)  # "tpu" or a missing GPU: a ValueError naming it, not torch's RuntimeError
    par_env = _parallel_env(env)
    agents = list(par_env.possible_agents)
    if agent_id not in agents:
        raise KeyError(f"unknown agent {agent_id!r}; the env's agents are {agents}")
    if opponent_id is None:
        others = [a for a in agents if a != agent_id]
        if len(others) != 1:
            raise ValueError(f"the env has {len(agents)} agents; name the opponent with opponent_id=")
        opponent_id = others[0]
    elif opponent_id not in agents or opponent_id == agent_id:
        raise KeyError(f"opponent_id {opponent_id!r} must be another of the env's agents {agents}")
    obs_space, act_space = par_env.observation_space(agent_id), par_env.action_space(agent_id)
    opp_obs_space, opp_act_space = par_env.observation_space(opponent_id), par_env.action_space(opponent_id)
    for space in (act_space, opp_act_space):
        if not isinstance(space, gymnasium.spaces.Discrete):
            raise ValueError(f"policy-gradient agents here need Discrete action spaces, got {space}")
    kwargs = dict(policy_kwargs or {})
    if policy is None:
        policy = default_policy(obs_space, act_space, policy_kind, seed=seed, init_std=init_std, **kwargs)
    _check_policy_interface(policy)
    policy = policy.to(device)
    _check_policy_output(policy, obs_space, act_space, "policy")
    tabular = isinstance(obs_space, gymnasium.spaces.Discrete)
    optimizer = optimizer or ("sgd" if tabular else "adam")
    lr = lr if lr is not None else (1.0 if optimizer == "sgd" else 0.005)
    base = PolicyGradient(policy, lr=lr, gamma=gamma, optimizer=optimizer, baseline=baseline)  # type: ignore[arg-type]

    def opponent_template() -> nn.Module:
        """A policy of the opponent's spaces: LOLA-OM's model architecture, or white-box LOLA's stand-in."""
        try:
            return default_policy(opp_obs_space, opp_act_space, policy_kind, init_std=0.0, **kwargs).to(device)
        except (ValueError, TypeError):  # the opponent's spaces differ from this seat's: their default
            return default_policy(opp_obs_space, opp_act_space, "auto", init_std=0.0).to(device)

    if learner_kwargs and key in ("nl", "lola", "lola-om"):
        raise ValueError(f"learner_kwargs {sorted(learner_kwargs)} apply to the aa, pola, pola-om and loqa kinds, "
                         f"not {key!r}")
    awaiting = False
    opp_policy: nn.Module | None = None
    if key in _WHITE_BOX:
        opp_policy = torch_policy_of(opponent)
        if opponent is not None and opp_policy is None:
            raise ValueError(
                f"white-box {key!r} reads the opponent's policy, but {type(opponent).__name__} has "
                "no torch policy; use a black-box kind (lola-om, pola-om): it fits a model to the opponent's actions"
            )
        if opp_policy is None:
            opp_policy, awaiting = opponent_template(), True  # a stand-in until set_opponent()
        else:
            _check_policy_output(opp_policy, opp_obs_space, opp_act_space, "the opponent's policy")
    template, model_kwargs = None, None
    if key.endswith("-om"):
        template = opponent_model if opponent_model is not None else opponent_template()
        _check_policy_interface(template, "opponent_model")
        model_kwargs = {"method": om_method, "pseudo_count": om_pseudo_count, "fit_steps": om_fit_steps, "lr": om_lr}
    if key == "nl":
        learner: Any = base
    elif key == "lola":
        learner = LOLA(base, opp_policy, "white-box", eta, correction)  # type: ignore[arg-type]
    elif key == "lola-om":
        learner = LOLA(base, template, "black-box", eta, correction, model_kwargs)  # type: ignore[arg-type]
    else:
        from lola_zoo.experiments.engine import build_learner

        if key in ("pola", "pola-om"):
            # A user's own loop cannot replay the game for POLA's proximal steps: they reuse each batch.
            if (learner_kwargs or {}).get("pola_resample"):
                raise ValueError("pola_resample=True needs fresh episodes per proximal step, which a user's own loop "
                                 "cannot give; the training engine (lola-zoo train) does")
            learner_kwargs = {**(learner_kwargs or {}), "pola_resample": False}
        learner = build_learner(key, policy, opp_policy, lr=lr, gamma=gamma, optimizer=optimizer, baseline=baseline,
                                eta=eta, opponent_template=template, model_kwargs=model_kwargs,
                                learner_kwargs=learner_kwargs)
    agent = PolicyGradientAgent(learner, opponent_id, episodes_per_update, name, device,
                                observation_space=obs_space, action_space=act_space)
    agent.seat = 0 if agents.index(agent_id) < agents.index(opponent_id) else 1  # seat order of the batches
    agent.opponent = opponent
    agent._awaiting_opponent = awaiting
    if seed is not None:
        agent.seed(seed)
    return agent
