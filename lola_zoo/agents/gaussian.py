"""A Gaussian policy for one-dimensional ``Box`` actions, clipped to the box (a censored Gaussian).

The policy draws ``u ~ N(mu(o), sigma^2)`` and plays ``a = clip(u, low, high)``.  Clipping (not a
sigmoid squash) keeps the mean in action units wherever the box does not bind, and lets a policy
reach the bounds themselves (the fishery's greedy effort 1 is a bound).  The log-probability used
by the learners is that of the *censored* distribution, consistent with the clipping:

* ``low < a < high``: the Gaussian density ``log N(a; mu, sigma^2)``;
* ``a == low``: the mass ``log P(u <= low) = log Phi((low − mu) / sigma)``;
* ``a == high``: the mass ``log P(u >= high) = log Phi((mu − high) / sigma)``.

It is a density with respect to Lebesgue measure plus a point mass at each bound — a reference
measure free of the parameters, so its score ``grad log pi(a)`` is the right one for REINFORCE
and DiCE, and the learners' estimators stay unbiased.

Parameters are in **box units** (fractions of ``high − low``), so one learning rate suits a
quantity in ``[0, 100]`` and an effort in ``[0, 1]`` alike:

    mu(o)  = low + (high − low) · (loc + weight · o)       (``weight`` only if ``state_dependent``)
    sigma  = (high − low) · exp(log_std)                    (a parameter only if ``learn_std``)

The module follows the interface of :mod:`lola_zoo.agents.policies` where it carries over to
continuous actions: ``initial_state`` (``None``: memoryless) and ``forward(observations, actions)
-> log pi(a_t | o_t)`` ``(*batch, T)``, which is all :class:`~lola_zoo.agents.naive.PolicyGradient`
and :class:`~lola_zoo.agents.lola.LOLA` call (through ``torch.func.functional_call``).  There is no
``step`` returning a vector of log-probabilities over actions; ``sample`` draws an action instead.
Like :class:`~lola_zoo.agents.policies.Memory1Policy`, it can hold ``runs`` independent copies of
its parameters, so many seeds train as one batched tensor program.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

__all__ = ["GaussianPolicy"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class GaussianPolicy(nn.Module):
    """Censored Gaussian policy on ``[low, high]``, optionally ``runs`` independent copies.

    :param obs_dim: length of the observation vector (its last dimension).
    :param low: lower bound of the action box.
    :param high: upper bound of the action box (``> low``).
    :param runs: if given, every parameter has a leading dimension of independent runs (seeds),
        and every observation tensor must have the same leading dimension.
    :param mean: initial ``loc``, as a fraction of the box (0.5: its middle); a number, or a tensor ``(runs,)``.
    :param mean_spread: ``loc`` is perturbed by ``N(0, mean_spread^2)`` per run (0: no perturbation).
    :param std: action noise ``sigma`` as a fraction of the box width.
    :param learn_std: make ``log_std`` a parameter (default: a fixed buffer, so the noise cannot
        collapse and the score-function gradients keep a bounded variance).
    :param state_dependent: let the mean depend linearly on the observation (``weight``, initialised to 0).
    :param generator: torch generator for ``mean_spread``.
    :param dtype: floating dtype of the parameters.
    """

    def __init__(
        self,
        obs_dim: int,
        low: float,
        high: float,
        runs: int | None = None,
        mean: float | torch.Tensor = 0.5,
        mean_spread: float = 0.0,
        std: float = 0.1,
        learn_std: bool = False,
        state_dependent: bool = False,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if isinstance(obs_dim, bool) or int(obs_dim) != obs_dim or obs_dim < 0:
            raise ValueError(f"obs_dim must be a non-negative integer, got {obs_dim!r}")
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ValueError(f"the action box needs finite bounds with high > low, got low={low!r}, high={high!r}")
        if runs is not None and (isinstance(runs, bool) or int(runs) != runs or runs < 1):
            raise ValueError(f"runs must be a positive integer or None, got {runs!r}")
        if not (std > 0 and math.isfinite(std)):
            raise ValueError(f"std must be a positive number, got {std!r}")
        if mean_spread < 0:
            raise ValueError(f"mean_spread must be non-negative, got {mean_spread!r}")
        self.obs_dim, self.low, self.high, self.runs = int(obs_dim), float(low), float(high), runs
        self.state_dependent, self.learn_std = bool(state_dependent), bool(learn_std)
        shape: tuple[int, ...] = (runs,) if runs is not None else ()
        loc = torch.as_tensor(mean, dtype=dtype).expand(shape).clone()
        if mean_spread > 0:
            loc = loc + mean_spread * torch.randn(shape, generator=generator, dtype=dtype)
        self.loc = nn.Parameter(loc)
        if self.state_dependent:
            self.weight = nn.Parameter(torch.zeros(*shape, self.obs_dim, dtype=dtype))
        log_std = torch.full(shape, math.log(std), dtype=dtype)
        if self.learn_std:
            self.log_std = nn.Parameter(log_std)
        else:
            self.register_buffer("log_std", log_std)

    # ------------------------------------------------------------------ distribution
    def _per_run(self, param: torch.Tensor, batch_dims: int) -> torch.Tensor:
        """``param (*runs)`` shaped to broadcast against ``batch_dims`` batch dimensions (runs first)."""
        if self.runs is None:
            return param
        return param.reshape(self.runs, *([1] * (batch_dims - 1)))

    def _check_observations(self, observations: torch.Tensor) -> None:
        if observations.dim() < 1 or observations.shape[-1] != self.obs_dim:
            raise ValueError(f"observations must end in obs_dim={self.obs_dim}, got shape {tuple(observations.shape)}")
        if self.runs is not None and (observations.dim() < 2 or observations.shape[0] != self.runs):
            raise ValueError(f"this policy holds {self.runs} runs: observations need a leading dimension of "
                             f"{self.runs}, got shape {tuple(observations.shape)}")

    def distribution(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and standard deviation of the unclipped Gaussian, in action units, ``(*batch,)`` each."""
        self._check_observations(observations)
        batch_dims = observations.dim() - 1
        fraction = self._per_run(self.loc, batch_dims)
        if self.state_dependent:
            weight = self.weight if self.runs is None else self.weight.reshape(self.runs, *([1] * (batch_dims - 1)), self.obs_dim)
            fraction = fraction + (observations.to(self.loc.dtype) * weight).sum(-1)
        else:
            fraction = fraction.expand(observations.shape[:-1])
        width = self.high - self.low
        mu = self.low + width * fraction
        sigma = (width * self._per_run(self.log_std, batch_dims).exp()).expand_as(mu)
        return mu, sigma

    def initial_state(self, batch_shape: Sequence[int]) -> None:
        """Memoryless: no recurrent state (the policy interface's first method)."""
        return None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_t)`` of the censored Gaussian: observations ``(*batch, T, obs_dim)``, actions ``(*batch, T)``."""
        mu, sigma = self.distribution(observations)
        a = actions.to(mu.dtype)
        if a.shape != mu.shape:
            raise ValueError(f"actions must have shape {tuple(mu.shape)} (one number per observation), got {tuple(actions.shape)}")
        z = (a - mu) / sigma
        density = -0.5 * z * z - sigma.log() - _LOG_SQRT_2PI
        # The bounds in the actions' own dtype: a float32 rollout clips to float32(high) exactly.
        at_low = actions <= torch.tensor(self.low, dtype=actions.dtype)
        at_high = actions >= torch.tensor(self.high, dtype=actions.dtype)
        # log_ndtr stays finite far in the tails, where log(Phi) would underflow to -inf.
        mass_low = torch.special.log_ndtr((self.low - mu) / sigma)
        mass_high = torch.special.log_ndtr((mu - self.high) / sigma)
        return torch.where(at_low, mass_low, torch.where(at_high, mass_high, density))

    def log_prob(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Alias of :meth:`forward`: log-probabilities of taken actions."""
        return self.forward(observations, actions)

    @torch.no_grad()
    def sample(self, observation: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One action per observation ``(*batch, obs_dim)`` -> ``(*batch,)``, clipped to ``[low, high]``."""
        mu, sigma = self.distribution(observation)
        u = mu + sigma * torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return u.clamp(self.low, self.high)

    @torch.no_grad()
    def mean_action(self, observation: torch.Tensor) -> torch.Tensor:
        """Expected action ``E[clip(u, low, high)]`` per observation ``(*batch, obs_dim)`` -> ``(*batch,)`` (closed form)."""
        mu, sigma = self.distribution(observation)
        alpha, beta = (self.low - mu) / sigma, (self.high - mu) / sigma
        cdf_a, cdf_b = torch.special.ndtr(alpha), torch.special.ndtr(beta)
        pdf_a, pdf_b = (-0.5 * alpha**2).exp() / math.sqrt(2 * math.pi), (-0.5 * beta**2).exp() / math.sqrt(2 * math.pi)
        # The censored normal's mean: the bounds' masses plus the truncated middle part.
        return self.low * cdf_a + self.high * (1 - cdf_b) + mu * (cdf_b - cdf_a) + sigma * (pdf_a - pdf_b)

    def extra_repr(self) -> str:
        return (f"obs_dim={self.obs_dim}, box=[{self.low:g}, {self.high:g}], runs={self.runs}, "
                f"state_dependent={self.state_dependent}, learn_std={self.learn_std}")
