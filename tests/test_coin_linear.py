"""CoinLinearPolicy: shapes, the self-centred view, exact gradients, and vmap over stacked seeds."""

from __future__ import annotations

import pytest
import torch

from lola_zoo.agents.coin_linear import CoinLinearPolicy, egocentric_view
from lola_zoo.agents.stacked import StackedPolicy
from lola_zoo.envs.batched_coin import BatchedCoinGame


@pytest.fixture(autouse=True)
def float32_default():
    """Policies take torch's default dtype; another test module may leave it at float64 in this worker."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


def _game_observations(n: int, grid: int = 3, seed: int = 0) -> torch.Tensor:
    """Real Coin Game observations ``(n * 2, 4, grid, grid)`` (both seats) after a few random moves."""
    game = BatchedCoinGame((n,), grid, 10)
    obs = game.reset(seed=seed)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(3):
        obs, _, _ = game.step(torch.randint(4, (n, 2), generator=gen))
    return obs.reshape(n * 2, 4, grid, grid)


@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_step_and_forward_shapes_and_normalised_log_probs(batch: tuple) -> None:
    policy = CoinLinearPolicy(grid_size=4, seed=0)
    assert policy.initial_state(batch) is None
    log_probs, hidden = policy.step(torch.rand(*batch, 4, 4, 4))
    assert log_probs.shape == (*batch, 4) and hidden is None
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(batch))
    out = policy(torch.rand(*batch, 7, 4, 4, 4), torch.randint(4, (*batch, 7)))
    assert out.shape == (*batch, 7) and (out <= 0).all()


@pytest.mark.parametrize("grid", [3, 4, 5])
def test_egocentric_view_puts_own_cell_in_the_centre_and_keeps_relative_offsets(grid: int) -> None:
    obs = _game_observations(64, grid)
    centred = egocentric_view(obs)
    centre = (grid // 2) * grid + grid // 2
    assert (centred[:, 0].reshape(-1, grid * grid).argmax(-1) == centre).all()
    assert torch.equal(centred.sum(dim=(2, 3)), obs.sum(dim=(2, 3)))  # a permutation of cells per plane
    # Every lit cell of every plane keeps its wrapped offset from the own cell.
    for o, c in zip(obs, centred):
        own = o[0].nonzero()[0]
        for ch in range(1, 4):
            for cell in o[ch].nonzero():
                moved = (cell - own + grid // 2) % grid
                assert c[ch, moved[0], moved[1]] == 1


def test_bad_observation_shape_and_mismatched_actions_raise() -> None:
    policy = CoinLinearPolicy(seed=0)
    with pytest.raises(ValueError, match="observations must end in"):
        policy.step(torch.rand(5, 3, 3, 3))
    with pytest.raises(ValueError, match="actions"):
        policy(torch.rand(5, 6, 4, 3, 3), torch.randint(4, (5, 7)))
    with pytest.raises(ValueError, match="grid_size"):
        CoinLinearPolicy(grid_size=0)


def test_log_prob_gradient_matches_the_softmax_formula() -> None:
    """d log pi(a|o) / dW = (onehot(a) - pi(.|o)) x vec(o'), with o' the centred grid."""
    policy = CoinLinearPolicy(seed=3, init_std=0.5)
    obs = _game_observations(8)
    actions = torch.randint(4, (obs.shape[0],), generator=torch.Generator().manual_seed(1))
    policy(obs.unsqueeze(1), actions.unsqueeze(1)).sum().backward()
    x = egocentric_view(obs).reshape(obs.shape[0], -1)
    probs = torch.softmax(x @ policy.head.weight.detach().T + policy.head.bias.detach(), -1)
    residual = torch.nn.functional.one_hot(actions, 4).float() - probs
    torch.testing.assert_close(policy.head.weight.grad, residual.T @ x)
    torch.testing.assert_close(policy.head.bias.grad, residual.sum(0))


def test_stacked_seeds_under_vmap_equal_each_member_alone() -> None:
    stacked = StackedPolicy(lambda s: CoinLinearPolicy(seed=s, init_std=0.3), runs=3, seed=10)
    obs = _game_observations(3 * 5 * 2 // 2).reshape(3, 5, 2, 4, 3, 3)
    actions = torch.randint(4, (3, 5, 2), generator=torch.Generator().manual_seed(2))
    together = stacked(obs, actions)
    for k in range(3):
        torch.testing.assert_close(together[k], stacked.member(k)(obs[k], actions[k]))
