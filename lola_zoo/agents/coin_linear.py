"""A linear softmax Coin Game policy on the (optionally self-centred) one-hot grid.

It follows the policy-module interface of :mod:`lola_zoo.agents.coin_policies`
(``initial_state`` / ``step`` / ``forward``), so NL-PG, LOLA-PG and LOLA-OM train it unchanged.
With few parameters (``4 * 4 * g * g + 4``) it learns in far fewer updates than the conv policy,
which makes it a cheap test bed for LOLA's second-order term.

A linear map of the raw one-hot planes cannot express "move towards the coin": that needs the
coin's position *relative* to one's own, a product of two one-hot inputs.  With
``egocentric=True`` the grid is first rolled (the Coin Game wraps around) so that the player's
own cell sits in the centre; every plane then reads relative positions, and one weight per
(plane, relative cell, action) is enough to chase or avoid each kind of coin.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lola_zoo.agents.coin_policies import _CoinPolicyBase, _init_rng

__all__ = ["CoinLinearPolicy", "egocentric_view"]


def egocentric_view(observation: torch.Tensor) -> torch.Tensor:
    """Roll each grid of ``(M, C, g, g)`` so the own-position plane (channel 0) has its 1 at the centre cell.

    ``out[m, c, i, j] = obs[m, c, (i + r_m - g//2) % g, (j + c_m - g//2) % g]`` with ``(r_m, c_m)`` the
    player's cell; written with ``argmax`` and ``gather`` so ``torch.func.vmap`` batches it.
    """
    m, channels, g, _ = observation.shape
    flat = observation.reshape(m, channels, g * g)
    pos = flat[:, 0].argmax(dim=-1)  # (M,) own cell
    row, col = pos // g, pos % g
    ii = torch.arange(g, device=observation.device)
    src_rows = (ii.view(1, g, 1) + row.view(m, 1, 1) - g // 2) % g  # (M, g, 1)
    src_cols = (ii.view(1, 1, g) + col.view(m, 1, 1) - g // 2) % g  # (M, 1, g)
    index = (src_rows * g + src_cols).reshape(m, 1, g * g).expand(m, channels, g * g)
    return flat.gather(2, index).reshape(m, channels, g, g)


class CoinLinearPolicy(_CoinPolicyBase):
    """Feed-forward linear softmax policy: ``pi(a | o) = softmax(W vec(o') + b)``, ``o'`` the (centred) grid.

    :param grid_size: side of the grid (the paper: 3).
    :param in_channels: observation planes (the Coin Game: 4).
    :param n_actions: number of moves (4).
    :param egocentric: roll the grid so the own cell is the centre (see the module docstring).
    :param init_std: standard deviation of the initial weights (biases start at zero); small, so
        the first policy is close to uniform.
    :param seed: seed of the parameter initialisation (global RNG untouched); ``None``: torch's global RNG.
    """

    def __init__(
        self,
        grid_size: int = 3,
        in_channels: int = 4,
        n_actions: int = 4,
        egocentric: bool = True,
        init_std: float = 0.01,
        seed: int | None = None,
    ) -> None:
        super().__init__(grid_size, in_channels, n_actions, seed)
        if not init_std >= 0:
            raise ValueError(f"init_std must be non-negative, got {init_std!r}")
        self.egocentric = bool(egocentric)
        with _init_rng(seed):
            self.head = nn.Linear(self.in_channels * self.grid_size**2, self.n_actions)
            nn.init.normal_(self.head.weight, std=float(init_std))
        nn.init.zeros_(self.head.bias)

    def initial_state(self, batch_shape: int | Sequence[int]) -> None:
        """A feed-forward policy carries no hidden state."""
        return None

    def step(self, observation: torch.Tensor, hidden: None = None) -> tuple[torch.Tensor, None]:
        """Log-probabilities ``(*batch, n_actions)`` for one observation ``(*batch, C, g, g)``."""
        lead, flat = self._split(observation)
        if self.egocentric:
            flat = egocentric_view(flat)
        logits = self.head(flat.reshape(flat.shape[0], -1))
        return torch.log_softmax(logits, dim=-1).reshape(*lead, self.n_actions), None

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | o_t)``: ``(*batch, T, C, g, g)``, actions ``(*batch, T)`` -> ``(*batch, T)``."""
        log_probs, _ = self.step(observations)
        return self._log_prob_of(log_probs, actions)
