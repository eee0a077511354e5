"""Small Coin Game policies: a feed-forward conv net and a conv + GRU recurrent one (the paper's kind).

Both follow the policy-module interface of :mod:`lola_zoo.agents.policies`, so the
policy-gradient learners (NL-PG, LOLA-PG with DiCE, LOLA-OM) and
:func:`lola_zoo.envs.batched.rollout` use them unchanged:

* ``initial_state(batch_shape) -> hidden``: zeros ``(*batch_shape, hidden_size)`` for the
  recurrent policy, ``None`` for the feed-forward one;
* ``step(observation, hidden) -> (log_probs, hidden)``: one step, ``observation
  (*batch, 4, grid, grid)`` -> normalised logits ``(*batch, 4)`` (log-probabilities; usable
  directly as ``Categorical(logits=...)``) and the new hidden state;
* ``forward(observations, actions) -> log_probs``: ``log pi(a_t | o_<=t)`` of whole trajectories,
  ``observations (*batch, T, 4, grid, grid)``, ``actions (*batch, T)`` -> ``(*batch, T)``; the
  recurrent policy unrolls itself from ``initial_state``.

The convolutions pad circularly because the Coin Game grid wraps around: a coin one step to the
left across the edge looks the same to the filter as one in the middle of the grid.
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn

__all__ = ["CoinConvPolicy", "CoinRecurrentPolicy", "CoinCritic", "conv_encoder", "gru_cell", "lstm_cell"]


def conv_encoder(grid_size: int, in_channels: int, channels: int, features: int) -> nn.Sequential:
    """Two circular 3×3 convolutions and a linear layer: ``(M, C, g, g)`` -> ``(M, features)``.

    Weights are orthogonal with the ReLU gain √2 and biases zero (CleanRL's ``layer_init``): with
    torch's default init the sparse one-hot planes (3 lit cells of 36) reach the GRU ~20× weaker,
    and a recurrent policy then sits for hundreds of updates before it starts to use its memory.
    """
    encoder = nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1, padding_mode="circular"),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(channels * grid_size * grid_size, features),
        nn.ReLU(),
    )
    for layer in encoder:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.orthogonal_(layer.weight, gain=2**0.5)
            assert layer.bias is not None  # built with the default bias=True
            nn.init.zeros_(layer.bias)
    return encoder


def gru_cell(x: torch.Tensor, h: torch.Tensor, cell: nn.GRUCell) -> torch.Tensor:
    """``nn.GRUCell``'s update written out in plain ops, so ``torch.func.vmap`` batches it over runs.

    ``r = σ(W_ir x + W_hr h)``, ``z = σ(W_iz x + W_hz h)``, ``n = tanh(W_in x + r ⊙ W_hn h)``,
    ``h' = (1 − z) ⊙ n + z ⊙ h`` (biases included in each ``W·``; torch's gate order r, z, n).
    """
    gi = nn.functional.linear(x, cell.weight_ih, cell.bias_ih)
    gh = nn.functional.linear(h, cell.weight_hh, cell.bias_hh)
    i_r, i_z, i_n = gi.chunk(3, dim=-1)
    h_r, h_z, h_n = gh.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (h - n)


def lstm_cell(x: torch.Tensor, state: torch.Tensor, cell: nn.LSTMCell) -> torch.Tensor:
    """``nn.LSTMCell``'s update in plain ops (vmap-able); ``state`` is ``[h, c]`` concatenated, ``(M, 2H)``.

    One tensor rather than a ``(h, c)`` pair, so rollouts and :class:`StackedPolicy` carry an LSTM
    state exactly like a GRU state.  Gates in torch's order i, f, g, o.
    """
    h, c = state.chunk(2, dim=-1)
    gates = nn.functional.linear(x, cell.weight_ih, cell.bias_ih)
    gates = gates + nn.functional.linear(h, cell.weight_hh, cell.bias_hh)
    i, f, g, o = gates.chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h_new = torch.sigmoid(o) * torch.tanh(c_new)
    return torch.cat([h_new, c_new], dim=-1)


def _centred(flat: torch.Tensor) -> torch.Tensor:
    """The self-centred grid of ``(M, C, g, g)`` (see :func:`lola_zoo.agents.coin_linear.egocentric_view`)."""
    # Imported here: coin_linear imports this module, so a top-level import would be circular.
    from lola_zoo.agents.coin_linear import egocentric_view

    return egocentric_view(flat)


@contextlib.contextmanager
def _init_rng(seed: int | None) -> Iterator[None]:
    """Draw initial parameters from ``seed`` without touching the global RNG (``None``: the global RNG)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _batch_shape(batch_shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(batch_shape),) if isinstance(batch_shape, int) else tuple(int(b) for b in batch_shape)


class _CoinPolicyBase(nn.Module):
    """Shared checks and helpers of the Coin Game policies (conv, recurrent, linear).

    ``widths`` are further layer sizes a subclass has (``channels``, ``features``), checked alike.
    """

    head: nn.Linear  # every subclass builds one

    def __init__(
        self, grid_size: int, in_channels: int, n_actions: int, seed: int | None, **widths: int
    ) -> None:
        super().__init__()
        for name, value in (
            ("grid_size", grid_size),
            ("in_channels", in_channels),
            ("n_actions", n_actions),
            *widths.items(),
        ):
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.grid_size, self.in_channels, self.n_actions = int(grid_size), int(in_channels), int(n_actions)
        self.obs_shape = (self.in_channels, self.grid_size, self.grid_size)
        self._seed = None if seed is None else int(seed) + 1  # the head's own stream

    def _shrink_head(self) -> None:
        """A small head, so the first policy is close to uniform over the moves."""
        with _init_rng(self._seed):
            nn.init.orthogonal_(self.head.weight, gain=0.01)
        nn.init.zeros_(self.head.bias)

    def _split(self, observation: torch.Tensor, extra_dims: int = 0) -> tuple[tuple[int, ...], torch.Tensor]:
        """Check the trailing observation shape; flatten the batch (and time) dimensions."""
        if observation.dim() < 3 + extra_dims or tuple(observation.shape[-3:]) != self.obs_shape:
            raise ValueError(
                f"observations must end in {self.obs_shape} (channels, grid, grid), "
                f"got {tuple(observation.shape)}"
            )
        lead = tuple(observation.shape[:-3])
        return lead, observation.reshape(-1, *self.obs_shape)

    @staticmethod
    def _log_prob_of(log_probs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        if actions.shape != log_probs.shape[:-1]:
            raise ValueError(
                f"actions {tuple(actions.shape)} must match the observations' batch and time dimensions "
                f"{tuple(log_probs.shape[:-1])}"
            )
        return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


class CoinConvPolicy(_CoinPolicyBase):
    """Feed-forward policy: circular conv encoder and a linear head; it sees only the current grid.

    :param grid_size: side of the grid (the paper: 3).
    :param in_channels: observation planes (the Coin Game: 4).
    :param n_actions: number of moves (4).
    :param channels: filters per convolution.
    :param features: width of the linear layer after the convolutions.
    :param seed: seed of the parameter initialisation (global RNG untouched); ``None``: torch's global RNG.
    :param egocentric: roll the grid so the own cell is the centre before the convolutions (the
        linear layer after them then reads positions relative to the player).
    """

    def __init__(
        self,
        grid_size: int = 3,
        in_channels: int = 4,
        n_actions: int = 4,
        channels: int = 16,
        features: int = 32,
        seed: int | None = None,
        egocentric: bool = False,
    ) -> None:
        super().__init__(grid_size, in_channels, n_actions, seed, channels=channels, features=features)
        self.egocentric = bool(egocentric)
        with _init_rng(seed):
            self.encoder = conv_encoder(self.grid_size, self.in_channels, int(channels), int(features))
            self.head = nn.Linear(int(features), self.n_actions)
        self._shrink_head()

    def initial_state(self, batch_shape: int | Sequence[int]) -> None:
        """A feed-forward policy carries no hidden state."""
        return None

    def step(self, observation: torch.Tensor, hidden: None = None) -> tuple[torch.Tensor, None]:
        """Log-probabilities ``(*batch, n_actions)`` for one observation ``(*batch, C, g, g)``."""
        lead, flat = self._split(observation)
        if self.egocentric:
            flat = _centred(flat)
        logits = self.head(self.encoder(flat))
        return torch.log_softmax(logits, dim=-1).reshape(*lead, self.n_actions), None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_t)``: ``(*batch, T, C, g, g)``, actions ``(*batch, T)`` -> ``(*batch, T)``."""
        log_probs, _ = self.step(observations)
        return self._log_prob_of(log_probs, actions)


class CoinRecurrentPolicy(_CoinPolicyBase):
    """Recurrent policy: circular conv encoder, a GRU (or LSTM) cell carrying memory across steps, a linear head.

    :param grid_size: side of the grid (the paper: 3).
    :param in_channels: observation planes (the Coin Game: 4).
    :param n_actions: number of moves (4).
    :param channels: filters per convolution.
    :param features: width of the linear layer after the convolutions.
    :param hidden_size: size of the GRU state (of ``h`` for the LSTM).
    :param seed: seed of the parameter initialisation (global RNG untouched); ``None``: torch's global RNG.
    :param egocentric: roll the grid so the own cell is the centre before the convolutions.
    :param cell: ``"gru"`` or ``"lstm"`` (the reference code's core).  The LSTM state is ``[h, c]``
        concatenated, ``(*batch, 2 * hidden_size)``; the head reads ``h``.
    :param skip: add a linear map of the (centred) grid straight to the logits, beside the
        recurrent path: the policy can then "step towards my coin" with one layer, as the linear
        policy does, and the recurrent core adds memory on top.
    """

    def __init__(
        self,
        grid_size: int = 3,
        in_channels: int = 4,
        n_actions: int = 4,
        channels: int = 16,
        features: int = 32,
        hidden_size: int = 32,
        seed: int | None = None,
        egocentric: bool = False,
        cell: str = "gru",
        skip: bool = False,
    ) -> None:
        super().__init__(grid_size, in_channels, n_actions, seed, channels=channels, features=features)
        if isinstance(hidden_size, bool) or int(hidden_size) != hidden_size or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if cell not in ("gru", "lstm"):
            raise ValueError(f"cell must be 'gru' or 'lstm', got {cell!r}")
        self.hidden_size = int(hidden_size)
        self.egocentric, self.cell = bool(egocentric), cell
        self.state_size = self.hidden_size * (2 if cell == "lstm" else 1)
        with _init_rng(seed):
            self.encoder = conv_encoder(self.grid_size, self.in_channels, int(channels), int(features))
            # The GRU keeps its attribute name, so existing checkpoints still load.
            if cell == "gru":
                self.gru = nn.GRUCell(int(features), self.hidden_size)
            else:
                self.lstm = nn.LSTMCell(int(features), self.hidden_size)
            self.head = nn.Linear(self.hidden_size, self.n_actions)
            self.skip = nn.Linear(self.in_channels * self.grid_size**2, self.n_actions) if skip else None
        self._shrink_head()
        if self.skip is not None:
            with _init_rng(None if seed is None else int(seed) + 2):
                nn.init.normal_(self.skip.weight, std=0.01)  # as CoinLinearPolicy: start near uniform
            nn.init.zeros_(self.skip.bias)

    def _logits(self, state: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        """Head on ``h`` (plus the skip path on the grid ``flat`` ``(M, C, g, g)``, same rows)."""
        logits = self.head(self._out(state))
        if self.skip is not None:
            logits = logits + self.skip(flat.reshape(flat.shape[0], -1))
        return logits

    @property
    def input_size(self) -> int:
        """Width of the features entering the recurrent cell."""
        return (self.gru if self.cell == "gru" else self.lstm).input_size

    def _cell(self, x: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return gru_cell(x, state, self.gru) if self.cell == "gru" else lstm_cell(x, state, self.lstm)

    def _out(self, state: torch.Tensor) -> torch.Tensor:
        """The part of the state the head reads (``h``)."""
        return state[..., : self.hidden_size]

    def initial_state(self, batch_shape: int | Sequence[int]) -> torch.Tensor:
        """Zeros ``(*batch_shape, state_size)`` on the parameters' device and dtype."""
        p = self.head.weight
        return torch.zeros(*_batch_shape(batch_shape), self.state_size, device=p.device, dtype=p.dtype)

    def step(
        self, observation: torch.Tensor, hidden: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: observation ``(*batch, C, g, g)``, hidden ``(*batch, H)`` -> log-probs, new hidden."""
        lead, flat = self._split(observation)
        if self.egocentric:
            flat = _centred(flat)
        if hidden is None:
            hidden = self.initial_state(lead)
        if tuple(hidden.shape) != (*lead, self.state_size):
            raise ValueError(f"hidden must have shape {(*lead, self.state_size)}, got {tuple(hidden.shape)}")
        new_hidden = self._cell(self.encoder(flat), hidden.reshape(-1, self.state_size))
        log_probs = torch.log_softmax(self._logits(new_hidden, flat), dim=-1)
        return log_probs.reshape(*lead, self.n_actions), new_hidden.reshape(*lead, self.state_size)

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_<=t)`` from ``initial_state``: ``(*batch, T, C, g, g)`` -> ``(*batch, T)``."""
        if observations.dim() < 4:
            raise ValueError(f"observations must be (*batch, T, C, g, g), got {tuple(observations.shape)}")
        lead, flat = self._split(observations, extra_dims=1)
        batch, n_steps = lead[:-1], lead[-1]
        if self.egocentric:
            flat = _centred(flat)
        # The encoder sees every frame at once; only the recurrent cell runs step by step.
        features = self.encoder(flat).reshape(-1, n_steps, self.input_size)
        hidden = self.initial_state(features.shape[0])
        outputs = []
        for t in range(n_steps):
            hidden = self._cell(features[:, t], hidden)
            outputs.append(hidden)
        states = torch.stack(outputs, dim=1).reshape(-1, self.state_size)  # rows in flat's (batch, T) order
        log_probs = torch.log_softmax(self._logits(states, flat), dim=-1)
        return self._log_prob_of(log_probs.reshape(*batch, n_steps, self.n_actions), actions)


class CoinCritic(_CoinPolicyBase):
    """A learned value baseline: both players' expected discounted return-to-go from one seat's view.

    ``forward(observations, actions=None) -> (*batch, T, 2)``: column 0 estimates the seat's own
    return from step t on, ``G_t = sum_{k>=t} gamma^(k-t) r_k``, column 1 its opponent's.  It reads
    the self-centred grid (the Coin Game state is fully observed, so this suffices for a baseline)
    and the fraction of the episode left (finite episodes: the return shrinks towards the end).
    ``actions`` is accepted and ignored so that :class:`~lola_zoo.agents.stacked.StackedPolicy`
    stacks a critic per seed exactly like a policy.  The value at step t never depends on the
    action of step t, which is what keeps a DiCE baseline unbiased.

    :param grid_size: side of the grid.
    :param in_channels: observation planes (4).
    :param hidden: width of the two hidden layers.
    :param seed: seed of the initialisation (global RNG untouched).
    :param egocentric: centre the grid on the player first.
    """

    def __init__(
        self, grid_size: int = 3, in_channels: int = 4, hidden: int = 64, seed: int | None = None,
        egocentric: bool = True,
    ) -> None:
        super().__init__(grid_size, in_channels, 2, seed, hidden=hidden)
        self.egocentric = bool(egocentric)
        with _init_rng(seed):
            self.body = nn.Sequential(
                nn.Linear(in_channels * grid_size * grid_size + 1, int(hidden)), nn.ReLU(),
                nn.Linear(int(hidden), int(hidden)), nn.ReLU(),
            )
            self.head = nn.Linear(int(hidden), 2)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # starts at V = 0: the first baseline is "none", never a wild one

    def forward(self, observations: torch.Tensor, actions: torch.Tensor | None = None) -> torch.Tensor:
        """Values ``(*batch, T, 2)`` (own, opponent) of observations ``(*batch, T, C, g, g)``."""
        if observations.dim() < 4:
            raise ValueError(f"observations must be (*batch, T, C, g, g), got {tuple(observations.shape)}")
        lead, flat = self._split(observations, extra_dims=1)
        n_steps = lead[-1]
        if self.egocentric:
            flat = _centred(flat)
        left = 1.0 - torch.arange(n_steps, device=flat.device, dtype=flat.dtype) / n_steps
        left = left.repeat(flat.shape[0] // n_steps).unsqueeze(-1)
        x = torch.cat([flat.reshape(flat.shape[0], -1), left], dim=-1)
        return self.head(self.body(x)).reshape(*lead, 2)
