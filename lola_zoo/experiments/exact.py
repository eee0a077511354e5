"""The exact-gradient experiments of the LOLA paper, batched over seeds.

One :class:`ExactConfig` (defaults = the paper's IPD setting, LOLA vs LOLA) runs B seeds × T
updates as one torch computation per update (:func:`run_exact`).  The result holds the learning
curves (average reward per step, ``(1 - γ) V``, before every update and after the last) and the
final policies; :func:`summarize` turns them into the numbers the paper reports: mean reward per
step and the share of seeds whose final policies are tit-for-tat-like, mutual defection or
all-cooperate (IPD) or at the mixed Nash equilibrium (IMP), with the thresholds below.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

import lola_zoo
from lola_zoo.agents.closed_form import TwoByTwoValue
from lola_zoo.agents.exact_rules import Learner, ValueFn, exact_update, make_learner
from lola_zoo.devices import torch_threads
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import MatrixGame

__all__ = [
    "ExactConfig",
    "ExactResult",
    "PAPER_GAMMA",
    "COOPERATE_THRESHOLD",
    "NASH_TOLERANCE",
    "make_value_fn",
    "initial_params",
    "run_exact",
    "policy_probs_first_action",
    "classify_ipd",
    "classify_imp",
    "summarize",
    "save_exact_outputs",
]

#: The discount the paper's reference code uses per game; other games default to 0.96.
PAPER_GAMMA: dict[str, float] = {"ipd": 0.96, "imp": 0.9}

#: A state's action counts as "cooperate" when P(cooperate | state) > this (the majority action).
COOPERATE_THRESHOLD = 0.5
#: IMP: a policy is at the mixed Nash equilibrium when |P(heads | s) - 0.5| <= this in every state.
NASH_TOLERANCE = 0.05

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _number(name: str, value: Any, minimum: float | None = None, integer: bool = False) -> float:
    """``value`` as a float, refused with a message naming ``name`` unless a finite real (an integer if asked) >= ``minimum``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if integer and number != int(number):
        raise ValueError(f"{name} must be {'a positive integer' if minimum == 1 else 'an integer'}, got {value!r}")
    if minimum is not None and number < minimum:
        if integer and minimum == 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        raise ValueError(f"{name} must be {'an integer ' if integer else ''}>= {minimum:g}, got {value!r}")
    return number


@dataclass(frozen=True)
class ExactConfig:
    """One exact-gradient experiment; the defaults are the paper's IPD setting, LOLA vs LOLA.

    :param game: registered iterated matrix game id (two players), e.g. ``"ipd"``, ``"imp"``.
    :param learners: one registered learner name per player (``"nl"``, ``"lola"``, ``"sos"``, ...).
    :param lr: learning rate δ, one per player or one for both (the reference code: 1).
    :param eta: correction rate η of LOLA-type rules, one per player or one for both (the reference code: 1).
    :param gamma: discount in (0, 1); ``None`` takes the paper's value for the game (IPD 0.96, IMP 0.9).
    :param seeds: number of independent runs B, all computed in one batch (the paper: 50).
    :param steps: number of simultaneous updates per run (the paper: 200).
    :param init_std: initial logits are drawn from N(0, init_std²) (the reference code: 1).
    :param seed: seed of the torch generator that draws every run's initial logits.
    :param sos_a: SOS's ``a`` (Letcher et al. 2019 use 0.5).
    :param sos_b: SOS's ``b`` (Letcher et al. 2019 use 0.1).
    :param hola_order: order of higher-order LOLA (``"hola"``); 2 = the opponent is a LOLA learner.
    :param pola_inner_steps: POLA's gradient steps (size η) on the opponent's proximal objective.
    :param pola_outer_steps: POLA's gradient steps (size δ = lr) on its own proximal objective.
    :param pola_prox: POLA's proximity weight β (of the KL between old and new policy), both loops.
    :param policy: parameterisation of every memory-1 policy: ``"tabular"`` (one logit per state, the
        paper's) or ``"mlp"`` (a one-hidden-layer network on the one-hot state, as POLA's
        parameterisation experiment; two-action games).
    :param hidden: hidden units of the ``"mlp"`` policy.
    :param dtype: ``"float64"`` (default: second derivatives with lr 1 are touchy) or ``"float32"``.
    :param device: ``cpu``, ``cuda`` or ``auto``; initial logits are drawn on the CPU (the same runs on
        every device) and moved there.
    :param threads: torch CPU threads while running (1: these small batched ops lose to thread
        contention on a shared machine); ``None`` leaves torch's setting alone.
    """

    game: str = "ipd"
    learners: tuple[str, ...] = ("lola", "lola")
    lr: float | tuple[float, ...] = 1.0
    eta: float | tuple[float, ...] = 1.0
    gamma: float | None = None
    seeds: int = 1000
    steps: int = 200
    init_std: float = 1.0
    seed: int = 0
    sos_a: float = 0.5
    sos_b: float = 0.1
    hola_order: int = 2
    pola_inner_steps: int = 2
    pola_outer_steps: int = 2
    pola_prox: float = 1.0
    policy: str = "tabular"
    hidden: int = 8
    dtype: str = "float64"
    threads: int | None = 1
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.game, str):
            raise TypeError(f"game must be a registered game id (a string), got {self.game!r}")
        stage = lola_zoo.game(self.game)  # unknown ids raise KeyError naming the closest ids
        n = stage.n_players
        if self.learners is None or not isinstance(self.learners, (str, tuple, list)):
            raise TypeError(f"learners must be a learner name or one per player, got {self.learners!r}")
        learners = (self.learners,) if isinstance(self.learners, str) else tuple(self.learners)
        if len(learners) == 1:
            learners = learners * n
        if len(learners) != n:
            raise ValueError(f"need {n} learner names (one per player), got {len(learners)}: {learners}")
        for name in learners:
            if not isinstance(name, str):
                raise TypeError(f"learner names must be strings, got {name!r}")
            make_learner(name)  # unknown names raise KeyError with suggestions
        object.__setattr__(self, "learners", learners)
        object.__setattr__(self, "lr", self._per_player("lr", self.lr, n))
        object.__setattr__(self, "eta", self._per_player("eta", self.eta, n))
        if self.gamma is not None and not 0.0 < _number("gamma", self.gamma) < 1.0:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        for name in ("seeds", "steps", "pola_inner_steps", "pola_outer_steps", "hidden", "hola_order"):
            object.__setattr__(self, name, int(_number(name, getattr(self, name), minimum=1, integer=True)))
        object.__setattr__(self, "seed", int(_number("seed", self.seed, minimum=0, integer=True)))
        for name in ("init_std", "sos_a", "sos_b", "pola_prox"):
            _number(name, getattr(self, name), minimum=0)
        if self.policy not in POLICY_FORMS:
            raise ValueError(f"policy must be one of {sorted(POLICY_FORMS)}, got {self.policy!r}")
        if self.policy != "tabular" and stage.n_actions != (2, 2):
            raise ValueError(f"the {self.policy!r} policy is for two-action games; {self.game!r} has {stage.n_actions}")
        from lola_zoo.devices import resolve_device

        resolve_device(self.device)  # an unknown name or a missing GPU fails here
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {self.dtype!r}")
        if self.threads is not None:
            _number("threads", self.threads, minimum=1, integer=True)

    @staticmethod
    def _per_player(name: str, value: Any, n: int) -> tuple[float, ...]:
        raw = tuple(value) if isinstance(value, (tuple, list)) else (value,)
        values = tuple(_number(name, v, minimum=0) for v in raw)  # finite numbers >= 0 (rates)
        if len(values) == 1:
            values = values * n
        if len(values) != n:
            raise ValueError(f"{name} needs one value or one per player ({n}), got {len(values)}")
        return values

    @property
    def discount(self) -> float:
        """γ actually used: the given one or the paper's for this game."""
        return float(self.gamma) if self.gamma is not None else PAPER_GAMMA.get(self.game, 0.96)

    def build_learners(self) -> list[Learner]:
        """The two learners with this config's hyper-parameters."""
        return [
            make_learner(name, eta=eta, a=self.sos_a, b=self.sos_b, order=self.hola_order, lr=lr,
                         inner_steps=self.pola_inner_steps, outer_steps=self.pola_outer_steps,
                         prox_inner=self.pola_prox, prox_outer=self.pola_prox)
            for name, eta, lr in zip(self.learners, self.eta, self.lr)  # type: ignore[arg-type]
        ]

    def label(self) -> str:
        """Short label such as ``"LOLA vs NL"``."""
        return " vs ".join(name.upper() for name in self.learners)


@dataclass
class ExactResult:
    """What :func:`run_exact` returns.

    :param config: the experiment.
    :param rewards: ``(steps + 1, B, N)`` average reward per step ``(1 - γ) V`` before each update
        and after the last one.
    :param final_params: the players' logits after the last update, batch first.
    :param final_probs: ``(B, N, S)`` P(first action | own state) for two-action games, else
        ``(B, N, S, n)`` action probabilities.
    :param state_labels: names of the S states from a player's own perspective.
    :param seconds: wall time of the updates.
    """

    config: ExactConfig
    rewards: torch.Tensor
    final_params: list[torch.Tensor]
    final_probs: torch.Tensor
    state_labels: list[str]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_rewards(self) -> torch.Tensor:
        """``(B, N)`` average reward per step after the last update (a fresh copy).

        A copy, not a view into the trajectory: torch's vectorised reductions may add in another
        order depending on where the data start, and summaries must not depend on it (a sweep's
        batched cells give the same bits as cells run alone).
        """
        return self.rewards[-1].clone()


def make_value_fn(game: MatrixGame, gamma: float | torch.Tensor, fast: bool = True) -> ValueFn:
    """``params -> V (B, N)``: :func:`exact_value`, or the closed-form 2×2 two-player value.

    The closed form (:class:`~lola_zoo.agents.closed_form.TwoByTwoValue`) also hands the learning
    rules their first derivatives and mixed products as formulas instead of autograd graphs;
    ``tests/test_closed_form.py`` and ``tests/test_exact_experiments.py`` check both against autograd.
    ``fast=False`` keeps the general engine (the baseline benchmarks compare against).
    """
    rows = isinstance(gamma, torch.Tensor) and gamma.numel() > 1  # one discount per batch row (grids)
    if not bool(torch.all((torch.as_tensor(gamma) > 0.0) & (torch.as_tensor(gamma) < 1.0))):
        raise ValueError(f"gamma must lie in (0, 1), got {gamma!r}")
    if not (fast and game.n_players == 2 and game.n_actions == (2, 2)):
        if rows:
            raise ValueError(f"a discount per row needs a two-player 2x2 game; {game.name!r} is not one")
        return lambda params: exact_value(game, params, float(gamma))
    return TwoByTwoValue(game, gamma)


class MLPPolicyForm:
    """A memory-1 policy as a one-hidden-layer tanh network on the one-hot state, one network per seed.

    A seed's parameters are one flat row ``(P,)``: ``W1 (S, H)``, ``b1 (H,)``, ``w2 (H,)``, ``b2 ()``;
    the logit of P(first action | s) is ``w2 · tanh(W1[s] + b1) + b2``.  Same policies as the
    tabular form can express, other gradient geometry: what POLA's invariance claim is about.
    """

    def __init__(self, n_states: int, hidden: int) -> None:
        self.n_states, self.hidden = n_states, hidden
        self.sizes = [n_states * hidden, hidden, hidden, 1]

    @property
    def n_params(self) -> int:
        """Parameters per seed."""
        return sum(self.sizes)

    def logits_of(self, params: torch.Tensor) -> torch.Tensor:
        """``(B, P)`` flat parameters -> ``(B, S)`` logits."""
        w1, b1, w2, b2 = torch.split(params, self.sizes, dim=-1)
        h = torch.tanh(w1.reshape(-1, self.n_states, self.hidden) + b1.unsqueeze(1))
        return (h * w2.unsqueeze(1)).sum(-1) + b2

    def initial(self, seeds: int, init_std: float, generator: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
        """Flat parameters: the first layer N(0, init_std²) (one-hot inputs), the output layer scaled by 1/sqrt(H)."""
        w1 = init_std * torch.randn(seeds, self.n_states * self.hidden, generator=generator, dtype=dtype)
        b1 = torch.zeros(seeds, self.hidden, dtype=dtype)
        w2 = torch.randn(seeds, self.hidden, generator=generator, dtype=dtype) / self.hidden ** 0.5
        b2 = torch.zeros(seeds, 1, dtype=dtype)
        return torch.cat([w1, b1, w2, b2], dim=-1)


#: ``policy`` names of :class:`ExactConfig` other than ``"tabular"`` -> form class.
POLICY_FORMS: dict[str, type[MLPPolicyForm] | None] = {"tabular": None, "mlp": MLPPolicyForm}


def policy_form(config: ExactConfig, game: MatrixGame) -> MLPPolicyForm | None:
    """The config's parameterisation (``None``: tabular logits)."""
    form = POLICY_FORMS[config.policy]
    return None if form is None else form(game.n_states, config.hidden)


def parameterised_value_fn(value_fn: ValueFn, form: MLPPolicyForm | None) -> ValueFn:
    """``value_fn`` over the form's parameters; the result carries ``logits_of`` for rules that need policies (POLA)."""
    if form is None:
        return value_fn

    def value(params: Sequence[torch.Tensor]) -> torch.Tensor:
        return value_fn([form.logits_of(p) for p in params])

    value.logits_of = form.logits_of  # type: ignore[attr-defined]
    return value


def initial_params(config: ExactConfig, game: MatrixGame | None = None) -> list[torch.Tensor]:
    """Every run's initial parameters (tabular: logits N(0, init_std²)), from one generator seeded with ``config.seed``."""
    game = game or lola_zoo.game(config.game)
    dtype = _DTYPES[config.dtype]
    gen = torch.Generator().manual_seed(int(config.seed))
    form = policy_form(config, game)
    params = []
    for n in game.n_actions:
        if form is not None:
            params.append(form.initial(config.seeds, config.init_std, gen, dtype))
            continue
        shape = (config.seeds, game.n_states) if n == 2 else (config.seeds, game.n_states, n)
        params.append(config.init_std * torch.randn(shape, generator=gen, dtype=dtype))
    from lola_zoo.devices import resolve_device

    device = resolve_device(config.device)
    return [p.to(device) for p in params]


def policy_probs_first_action(params: torch.Tensor) -> torch.Tensor:
    """P(first action | state) for (B, S) binary logits, or (B, S, n) softmax probabilities."""
    return torch.sigmoid(params) if params.dim() == 2 else torch.softmax(params, dim=-1)


def run_exact(
    config: ExactConfig | None = None,
    progress: bool = False,
    description: str | None = None,
    value_fn: ValueFn | None = None,
) -> ExactResult:
    """Run every seed of ``config`` for ``config.steps`` simultaneous updates, batched."""
    config = ExactConfig() if config is None else config
    if not isinstance(config, ExactConfig):
        raise TypeError(f"run_exact takes an ExactConfig (e.g. ExactConfig(**settings)), got {type(config).__name__}")
    if value_fn is not None and not callable(value_fn):
        raise TypeError(f"value_fn must be callable, params -> V (B, N); got {type(value_fn).__name__}")
    game = lola_zoo.game(config.game)
    gamma = config.discount
    form = policy_form(config, game)
    value_fn = parameterised_value_fn(value_fn or make_value_fn(game, gamma), form)
    learners = config.build_learners()
    params = initial_params(config, game)
    rewards = []
    from tqdm.auto import tqdm

    bar = tqdm(
        total=config.steps, desc=description or f"{config.game} {config.label()}", disable=not progress,
        leave=False, unit="upd",
    )
    start = time.perf_counter()
    with torch_threads(config.threads), bar:
        for _ in range(config.steps):
            params, values = exact_update(value_fn, params, learners, config.lr)  # type: ignore[arg-type]
            rewards.append(values)
            bar.update(1)
        with torch.no_grad():
            rewards.append(value_fn(params))
    seconds = time.perf_counter() - start
    stacked = (1.0 - gamma) * torch.stack(rewards)
    if not torch.isfinite(stacked).all():
        raise non_finite_error(config)
    logits = params if form is None else [form.logits_of(p) for p in params]
    probs = torch.stack([policy_probs_first_action(p) for p in logits], dim=1)
    return ExactResult(config, stacked, params, probs, game.state_labels(0), seconds)


def non_finite_error(config: ExactConfig) -> RuntimeError:
    """The error of a run whose values became non-finite (too large a step for its precision)."""
    return RuntimeError(f"{config.label()} on {config.game}: values became non-finite; lower lr or eta, or use float64")


def classify_ipd(probs: torch.Tensor, threshold: float = COOPERATE_THRESHOLD) -> dict[str, torch.Tensor]:
    """Per seed, whether *both* final IPD policies are TFT-like, mutual defection or all-cooperate.

    ``probs (B, 2, 5)``: P(cooperate | start, CC, CD, DC, DD), each from the player's own
    perspective; an action counts as "cooperate" in a state when ``P > threshold`` (majority).

    * ``tit_for_tat`` (TFT-like, reciprocal): cooperates after mutual cooperation (CC) and
      defects after being exploited (CD) — what makes cooperation stable;
    * ``strict_tit_for_tat``: exactly TFT's majority actions — cooperate after the opponent
      cooperated (CC, DC), defect after it defected (CD, DD);
    * ``mutual_defection``: defects at the start and after DD, so play starts in and stays at DD;
    * ``all_cooperate``: cooperates in every state.
    """
    if probs.dim() != 3 or probs.shape[-1] != 5:
        raise ValueError(f"IPD classification needs probs of shape (B, N, 5), got {tuple(probs.shape)}")
    coop = probs > threshold
    start, cc, cd, dc, dd = coop.unbind(-1)
    return {
        "tit_for_tat": (cc & ~cd).all(-1),
        "strict_tit_for_tat": (cc & dc & ~cd & ~dd).all(-1),
        "mutual_defection": (~start & ~dd).all(-1),
        "all_cooperate": coop.all(-1).all(-1),
    }


def classify_imp(probs: torch.Tensor, tol: float = NASH_TOLERANCE) -> dict[str, torch.Tensor]:
    """Per seed, whether both final IMP policies are within ``tol`` of P(heads) = 0.5 in every state."""
    if probs.dim() != 3:
        raise ValueError(f"IMP classification needs probs of shape (B, N, S), got {tuple(probs.shape)}")
    return {"nash": ((probs - 0.5).abs() <= tol).flatten(1).all(-1)}


#: game id -> classifier of final policies; other games get rewards only.
CLASSIFIERS: dict[str, Callable[[torch.Tensor], dict[str, torch.Tensor]]] = {
    "ipd": classify_ipd,
    "imp": classify_imp,
}


def summarize(result: ExactResult) -> dict[str, Any]:
    """The paper's numbers for one experiment: reward per step per player and outcome shares."""
    cfg = result.config
    final = result.final_rewards
    players = {}
    for i, name in enumerate(cfg.learners):
        players[f"player_{i}"] = {
            "learner": name,
            "reward_mean": float(final[:, i].mean()),
            "reward_std": float(final[:, i].std(unbiased=False)),
        }
    out: dict[str, Any] = {
        "game": cfg.game,
        "setting": cfg.label(),
        "config": {**asdict(cfg), "gamma": cfg.discount},
        "players": players,
        "seconds": result.seconds,
    }
    classifier = CLASSIFIERS.get(cfg.game)
    if classifier is not None and result.final_probs.dim() == 3:
        out["shares"] = {k: float(v.double().mean()) for k, v in classifier(result.final_probs).items()}
    out["mean_final_policy"] = {
        f"player_{i}": dict(zip(result.state_labels, result.final_probs[:, i].mean(0).tolist()))
        for i in range(final.shape[1])
    } if result.final_probs.dim() == 3 else {}
    return out


def save_exact_outputs(
    results: Sequence[ExactResult], out_dir: str | Path, prefix: str, title: str = ""
) -> list[Path]:
    """Learning curves and final-policy plots (PNG) of experiments on one game; returns the paths."""
    from lola_zoo import plotting

    if not results:
        return []
    out_dir = Path(out_dir)
    game = results[0].config.game
    curves = {}
    policies = {}
    for r in results:
        for i, name in enumerate(r.config.learners):
            who = f"{r.config.label()}: player_{i} ({name.upper()})"
            curves[who] = r.rewards[:, :, i].numpy()
            if r.final_probs.dim() == 3:
                policies[who] = r.final_probs[:, i].numpy()
    reference = {"mutual cooperation": -1.0, "mutual defection": -2.0} if game == "ipd" else None
    paths = [
        plotting.plot_learning_curves(
            curves, out_dir / f"{prefix}-curves.png", title or f"{game}: exact-gradient learning", reference=reference
        )
    ]
    if policies:
        ylabel = "P(heads | state)" if game == "imp" else "P(cooperate | state)"
        paths.append(
            plotting.plot_policies(
                policies, results[0].state_labels, out_dir / f"{prefix}-policies.png",
                title=(title or game) + ": final policies", ylabel=ylabel,
            )
        )
    return paths
