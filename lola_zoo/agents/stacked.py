"""Independent copies of one policy network trained as a single module with a leading runs dimension.

Seeds become a batch dimension: every parameter is stacked to ``(runs, *shape)`` and the member's
``step``/``forward`` are ``torch.func.vmap``-ed over it, so the unchanged learners of
:mod:`lola_zoo.agents` (which sum their objectives over leading batch dimensions) train every seed
in one graph, second derivatives of LOLA included.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence, cast

import torch
from torch import nn
from torch.func import functional_call, vmap

__all__ = ["StackedPolicy"]


class StackedPolicy(nn.Module):
    """``runs`` independent copies of one policy network as a single module with a leading runs dimension.

    Every parameter of the member network appears here with shape ``(runs, *shape)``; ``step`` and
    ``forward`` are ``torch.func.vmap`` of the member's own methods over that dimension and over
    the leading dimension of the observations (and hidden states).  Nothing is shared between runs,
    so the gradient of an objective summed over runs is each run's own gradient — which is how the
    learners in :mod:`lola_zoo.agents` already treat a leading batch dimension — and Adam, being
    elementwise, steps each run as if it were alone.

    :param make: ``seed -> nn.Module`` building one member policy (the three-method policy interface).
    :param runs: number of independent copies.
    :param seed: member ``k`` is built with seed ``seed + k``.
    """

    def __init__(self, make: Callable[[int], nn.Module], runs: int, seed: int = 0) -> None:
        super().__init__()
        if isinstance(runs, bool) or int(runs) != runs or runs < 1:
            raise ValueError(f"runs must be a positive integer, got {runs!r}")
        members = [make(int(seed) + k) for k in range(int(runs))]
        # Kept in a list so it is not a registered submodule: only the stacked copies are parameters.
        self._template = [members[0]]
        self._names = [n for n, _ in members[0].named_parameters()]
        for name in self._names:
            stacked = torch.stack([dict(m.named_parameters())[name].detach() for m in members])
            self.register_parameter(name.replace(".", "__"), nn.Parameter(stacked.clone()))
        self.runs = int(runs)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> "StackedPolicy":
        # .to(device) must move the template too: its initial_state allocates on its own device.
        self._template[0]._apply(fn, *args, **kwargs)
        return super()._apply(fn, *args, **kwargs)

    def member_parameters(self) -> dict[str, torch.Tensor]:
        """The stacked parameters under the member network's own names."""
        return {n: getattr(self, n.replace(".", "__")) for n in self._names}

    def member(self, run: int) -> nn.Module:
        """A standalone copy of run ``run``'s network (e.g. to play it in the PettingZoo env)."""
        net = copy.deepcopy(self._template[0])
        with torch.no_grad():
            for name, p in net.named_parameters():
                p.copy_(self.member_parameters()[name][run])
        return net

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() == 0 or x.shape[0] != self.runs:
            raise ValueError(f"this policy holds {self.runs} runs: inputs need a leading dimension of "
                             f"{self.runs}, got shape {tuple(x.shape)}")

    def initial_state(self, batch_shape: int | Sequence[int]) -> Any:
        """The member's initial state for ``batch_shape`` (which starts with the runs dimension)."""
        return cast(Any, self._template[0]).initial_state(batch_shape)

    def step(self, observation: torch.Tensor, hidden: Any = None) -> tuple[torch.Tensor, Any]:
        """Log-probabilities ``(runs, *batch, n_actions)`` and the new hidden state, every run at once."""
        self._check(observation)
        stepper = _StepCall(self._template[0])
        params = {f"net.{k}": v for k, v in self.member_parameters().items()}
        if hidden is None:  # vmap cannot return None: map the log-probabilities only
            one = lambda p, o: functional_call(stepper, p, (o, None))[0]  # noqa: E731
            return vmap(one)(params, observation), None
        one_recurrent = lambda p, o, h: functional_call(stepper, p, (o, h))  # noqa: E731
        return vmap(one_recurrent)(params, observation, hidden)

    def forward(self, observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a_t | history_t)`` ``(runs, *batch, T)`` of whole trajectories, every run at once."""
        self._check(observations)
        net = self._template[0]
        one = lambda p, o, a: functional_call(net, p, (o, a))  # noqa: E731
        return vmap(one)(self.member_parameters(), observations, actions)

    def extra_repr(self) -> str:
        return f"runs={self.runs}, member={type(self._template[0]).__name__}"


class _StepCall(nn.Module):
    """Exposes a policy's ``step`` as ``forward``, so ``functional_call`` can substitute its parameters."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, observation: torch.Tensor, hidden: Any) -> tuple[torch.Tensor, Any]:
        return cast(Any, self.net).step(observation, hidden)
