"""The pieces the Coin Game search adds: LSTM / egocentric policies, a critic baseline, an entropy bonus,
a normalised anticipated opponent step.  Each reduces to today's behaviour at its default."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinCritic, CoinRecurrentPolicy, lstm_cell
from lola_zoo.agents.dice import dice_objective, discounts, leave_one_out_baseline, reward_to_go
from lola_zoo.agents.lola import LOLA, lola_gradient
from lola_zoo.agents.naive import (
    PolicyGradient,
    SeatBatch,
    naive_gradient,
    params_of,
    returns_to_go,
    trajectory_log_probs,
)
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.agents.stacked import StackedPolicy
from lola_zoo.envs.batched import Episodes, rollout
from lola_zoo.envs.batched_coin import BatchedCoinGame, RecordingCoinView


@pytest.fixture(autouse=True)
def float32_default():
    """Policies take torch's default dtype; another test module may leave it at float64 in this worker."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    yield
    torch.set_default_dtype(before)


def _coin_batch(make, runs: int = 2, episodes: int = 5, steps: int = 6, seed: int = 0):
    seats = [StackedPolicy(make, runs, seed=0), StackedPolicy(make, runs, seed=100)]
    env = RecordingCoinView(BatchedCoinGame((runs, episodes), max_steps=steps))
    return seats, rollout(env, seats, torch.Generator().manual_seed(seed + 1), seed=seed + 2)


def _close(a: dict, b: dict, **kw) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], **kw)


# --------------------------------------------------------------------------- defaults = today's behaviour
def test_policy_defaults_are_the_plain_gru_and_conv() -> None:
    gru = CoinRecurrentPolicy(seed=3)
    assert gru.cell == "gru" and not gru.egocentric and gru.state_size == gru.hidden_size
    assert {n.split(".")[0] for n, _ in gru.named_parameters()} == {"encoder", "gru", "head"}
    assert not CoinConvPolicy(seed=3).egocentric
    explicit = CoinRecurrentPolicy(seed=3, egocentric=False, cell="gru")
    obs, actions = torch.rand(2, 5, 4, 3, 3), torch.randint(4, (2, 5))
    torch.testing.assert_close(gru(obs, actions), explicit(obs, actions))


def test_policy_gradient_defaults_equal_the_plain_naive_gradient() -> None:
    make = lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=8, seed=s)  # noqa: E731
    seats, episodes = _coin_batch(make)
    learner = PolicyGradient(seats[0], lr=0.01, optimizer="adam")
    b = SeatBatch.from_episodes(episodes, 0)
    expected = naive_gradient(seats[0], params_of(seats[0]), b.own_observations, b.own_actions, b.own_rewards,
                              0.96, True)
    _close(learner.gradient(episodes, 0), expected)
    assert learner.critic is None and learner.entropy == 0.0 and "critic" not in learner.state_dict()


def test_lola_defaults_equal_the_plain_lola_gradient() -> None:
    make = lambda s: CoinConvPolicy(channels=4, features=8, seed=s)  # noqa: E731
    seats, episodes = _coin_batch(make)
    learner = LOLA(PolicyGradient(seats[0], lr=0.01, optimizer="adam"), seats[1], eta=0.7)
    assert learner.step_normalisation == "none"
    b = SeatBatch.from_episodes(episodes, 0)
    naive, corr = lola_gradient(seats[0], params_of(seats[0]), seats[1], params_of(seats[1]), b, 0.96, 0.7)
    _close(learner.gradient(episodes, 0), {k: naive[k] + corr[k] for k in naive})
    assert "second_moment" not in learner.state_dict()


# --------------------------------------------------------------------------- normalised anticipated step
def test_adam_normalised_step_equals_a_hand_computation() -> None:
    make = lambda s: CoinConvPolicy(channels=3, features=6, seed=s)  # noqa: E731
    seats = [StackedPolicy(make, 2, seed=0), StackedPolicy(make, 2, seed=100)]
    env = RecordingCoinView(BatchedCoinGame((2, 6), max_steps=5))
    batches = [rollout(env, seats, torch.Generator().manual_seed(k), seed=10 + k) for k in range(2)]
    beta2, eps, eta = 0.9, 1e-8, 0.3
    learner = LOLA(PolicyGradient(seats[0], lr=0.01, optimizer="adam"), seats[1], eta=eta,
                   step_normalisation="adam", beta2=beta2, eps=eps)
    learner.gradient(batches[0], 0)
    got = learner.gradient(batches[1], 0)
    # By hand: the opponent's naive gradients g1, g2; v = beta2 (1-beta2) g1^2 + (1-beta2) g2^2;
    # v_hat = v / (1 - beta2^2); step direction g2 / (sqrt(v_hat) + eps).
    g = []
    for ep in batches:
        b = SeatBatch.from_episodes(ep, 0)
        g.append(naive_gradient(seats[1], params_of(seats[1]), b.opp_observations, b.opp_actions, b.opp_rewards,
                                0.96, True))
    v_hat = {k: (beta2 * (1 - beta2) * g[0][k] ** 2 + (1 - beta2) * g[1][k] ** 2) / (1 - beta2**2) for k in g[0]}
    b = SeatBatch.from_episodes(batches[1], 0)
    naive, corr = lola_gradient(seats[0], params_of(seats[0]), seats[1], params_of(seats[1]), b, 0.96, eta,
                                normalise_step=lambda gr: {k: gr[k] / (v_hat[k].sqrt() + eps) for k in gr})
    _close(got, {k: naive[k] + corr[k] for k in naive})
    # The scale really changed the correction (not a no-op), and the state round-trips.
    plain = lola_gradient(seats[0], params_of(seats[0]), seats[1], params_of(seats[1]), b, 0.96, eta)[1]
    assert any(not torch.allclose(plain[k], corr[k]) for k in corr)
    state = learner.state_dict()
    again = LOLA(PolicyGradient(seats[0], lr=0.01, optimizer="adam"), seats[1], eta=eta,
                 step_normalisation="adam", beta2=beta2)
    again.load_state_dict(state)
    assert again._moment_steps == 2
    _close(again._second_moment, learner._second_moment)


def test_norm_normalised_step_is_eta_over_the_per_seed_gradient_norm() -> None:
    make = lambda s: CoinConvPolicy(channels=3, features=6, seed=s)  # noqa: E731
    seats, episodes = _coin_batch(make, runs=2)
    eta = 0.5
    got = LOLA(PolicyGradient(seats[0], lr=0.01, optimizer="adam"), seats[1], eta=eta, step_normalisation="norm",
               eps=0.0).gradient(episodes, 0)
    b = SeatBatch.from_episodes(episodes, 0)
    g = naive_gradient(seats[1], params_of(seats[1]), b.opp_observations, b.opp_actions, b.opp_rewards, 0.96, True)
    norms = torch.sqrt(sum(v.reshape(2, -1).pow(2).sum(-1) for v in g.values()))  # one per seed
    # The Taylor correction is linear in eta, so seed k's correction equals the raw one at eta / norm_k.
    for k in range(2):
        naive, corr = lola_gradient(seats[0], params_of(seats[0]), seats[1], params_of(seats[1]), b, 0.96,
                                    eta / float(norms[k]))
        for name in got:
            torch.testing.assert_close(got[name][k], naive[name][k] + corr[name][k])


# --------------------------------------------------------------------------- critic baseline, entropy
def test_a_given_baseline_equal_to_the_leave_one_out_one_gives_the_same_gradient() -> None:
    make = lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=8, seed=s)  # noqa: E731
    seats, episodes = _coin_batch(make)
    b = SeatBatch.from_episodes(episodes, 0)
    rewards = b.own_rewards
    loo = leave_one_out_baseline(reward_to_go(rewards * discounts(rewards.shape[-1], 0.96, rewards)))
    p = params_of(seats[0])
    _close(naive_gradient(seats[0], p, b.own_observations, b.own_actions, rewards, 0.96, loo),
           naive_gradient(seats[0], p, b.own_observations, b.own_actions, rewards, 0.96, True))
    naive_t, corr_t = lola_gradient(seats[0], p, seats[1], params_of(seats[1]), b, 0.96, 0.5, baseline=True)
    opp_loo = leave_one_out_baseline(reward_to_go(b.opp_rewards * discounts(rewards.shape[-1], 0.96, rewards)))
    naive_g, corr_g = lola_gradient(seats[0], p, seats[1], params_of(seats[1]), b, 0.96, 0.5, baseline=(loo, opp_loo))
    _close(naive_t, naive_g)
    _close(corr_t, corr_g)


def test_critic_baseline_is_read_before_the_fit_and_the_fit_lowers_the_error() -> None:
    make = lambda s: CoinConvPolicy(channels=4, features=8, seed=s)  # noqa: E731
    seats, episodes = _coin_batch(make, episodes=8, steps=8)
    critic = StackedPolicy(lambda s: CoinCritic(hidden=16, seed=s), 2, seed=7)
    learner = PolicyGradient(seats[0], lr=0.01, optimizer="adam", critic=critic, critic_lr=0.05, critic_steps=1)
    b = SeatBatch.from_episodes(episodes, 0)
    with torch.no_grad():
        torch.nn.init.normal_(critic.head__weight, std=0.5)  # a non-trivial critic (it starts at zero)
        values = critic(b.own_observations, b.own_actions)
    scale = discounts(values.shape[-2], 0.96, values)
    expected = naive_gradient(seats[0], params_of(seats[0]), b.own_observations, b.own_actions, b.own_rewards, 0.96,
                              values[..., 0] * scale)
    _close(learner.gradient(episodes, 0), expected)  # also fits the critic once
    target = torch.stack([returns_to_go(b.own_rewards, 0.96), returns_to_go(b.opp_rewards, 0.96)], -1)
    before = (values - target).pow(2).mean()
    for _ in range(30):
        learner.fit_critic(b)
    with torch.no_grad():
        after = (critic(b.own_observations, b.own_actions) - target).pow(2).mean()
    assert after < 0.5 * before
    assert "critic" in learner.state_dict()


def test_returns_to_go_by_hand() -> None:
    r = torch.tensor([[1.0, 0.0, 2.0]])
    torch.testing.assert_close(returns_to_go(r, 0.5), torch.tensor([[1.5, 1.0, 2.0]]))


def _ipd_trajectories(steps: int):
    """Every trajectory of a ``steps``-round IPD between two memory-1 players, as one batch."""
    from lola_zoo.envs.batched import BatchedIteratedGame

    tables = BatchedIteratedGame("ipd", 1)
    joint = torch.tensor(list(itertools.product(range(4), repeat=steps)))  # (n, T) flat joint actions
    actions = torch.stack([joint // 2, joint % 2], dim=-1)  # player 0 is the high digit
    strides = tables._strides
    joint = (actions * strides).sum(-1)
    start = torch.zeros(joint.shape[0], 1, dtype=torch.long)
    obs = [torch.cat([start, tables.state_table[i][joint[:, :-1]]], dim=1) for i in range(2)]
    return Episodes(obs, actions, tables.payoff_table[joint].float())


@pytest.mark.parametrize("order", [1, 2])
def test_a_state_dependent_baseline_leaves_the_expected_dice_gradient_unchanged(order: int) -> None:
    # Exact expectation: weight every trajectory of a 3-round IPD by its (detached) probability.
    # A baseline that is any function of the observation at step t (a critic's value) must not change
    # the expected first derivative, nor the mixed second derivative LOLA uses.
    torch.set_default_dtype(torch.float64)
    g = torch.Generator().manual_seed(0)
    pols = [Memory1Policy(generator=g, dtype=torch.float64) for _ in range(2)]
    ep = _ipd_trajectories(3)
    params = [params_of(p) for p in pols]
    lps = [trajectory_log_probs(pols[i], params[i], ep.observations[i], ep.actions[..., i]) for i in range(2)]
    weight = (lps[0] + lps[1]).sum(-1).exp().detach()
    assert math.isclose(float(weight.sum()), 1.0, rel_tol=1e-9)
    values = torch.randn(5, generator=g, dtype=torch.float64)  # an arbitrary "critic" over the 5 states
    b = values[ep.observations[0]] * discounts(3, 0.96, values)
    rewards = ep.rewards[..., 0]

    def expected_derivative(baseline):
        objective = (weight * dice_objective(rewards, lps, 0.96, baseline)).sum()
        (d0,) = torch.autograd.grad(objective, [params[0]["logits"]], create_graph=True)
        if order == 1:
            return d0
        # d/dtheta_0 of (d/dtheta_1 V . u) for a fixed u: the mixed second derivative, contracted
        (d1,) = torch.autograd.grad(objective, [params[1]["logits"]], create_graph=True)
        u = torch.linspace(-1, 1, d1.numel(), dtype=d1.dtype).reshape(d1.shape)
        return torch.autograd.grad((d1 * u).sum(), [params[0]["logits"]], retain_graph=True)[0]

    with_critic, without = expected_derivative(b), expected_derivative(False)
    torch.testing.assert_close(with_critic, without)
    assert with_critic.abs().sum() > 0


def test_entropy_bonus_pushes_a_peaked_policy_towards_uniform() -> None:
    torch.set_default_dtype(torch.float64)
    pol = Memory1Policy(logits=torch.tensor([3.0, 0.0, 0.0, 0.0, 0.0]), dtype=torch.float64)
    opp = Memory1Policy(logits=torch.zeros(5), dtype=torch.float64)
    from lola_zoo.envs.batched import BatchedIteratedGame

    env = BatchedIteratedGame("ipd", (4000,), max_steps=1)
    ep = rollout(env, [pol, opp], torch.Generator().manual_seed(0))
    ep.rewards.zero_()  # only the bonus acts
    grad = PolicyGradient(pol, entropy=1.0).gradient(ep, 0)["logits"]
    assert grad[0] < -0.02  # lowering the start-state logit raises the entropy (p = sigmoid(3) > 1/2)
    assert PolicyGradient(pol, entropy=0.0).gradient(ep, 0)["logits"].abs().max() == 0


# --------------------------------------------------------------------------- LSTM / egocentric stacks
MEMBERS = {
    "lstm": lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=6, seed=s, cell="lstm"),
    "ego-gru": lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=6, seed=s, egocentric=True),
    "ego-lstm": lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=6, seed=s, egocentric=True,
                                              cell="lstm"),
    "ego-conv": lambda s: CoinConvPolicy(channels=4, features=8, seed=s, egocentric=True),
    "ego-gru-skip": lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=6, seed=s, egocentric=True,
                                                  skip=True),
}


def _one_hot_obs(runs: int, episodes: int, steps: int, g: torch.Generator) -> torch.Tensor:
    # Real observations have exactly one own cell (the egocentric roll reads it).
    cells = torch.rand(runs, episodes, steps, 9, generator=g).argsort(-1)[..., :3]
    obs = torch.zeros(runs, episodes, steps, 4, 9)
    obs.scatter_(-1, cells[..., None, :1].expand(-1, -1, -1, 1, 1), 1.0)
    obs[..., 1, :].scatter_(-1, cells[..., 1:2], 1.0)
    obs[..., 2, :].scatter_(-1, cells[..., 2:3], 1.0)
    return obs.reshape(runs, episodes, steps, 4, 3, 3)


@pytest.mark.parametrize("name", sorted(MEMBERS))
def test_stacked_policy_acts_and_scores_like_each_separate_member(name: str) -> None:
    make, runs, episodes, steps = MEMBERS[name], 3, 2, 5
    stacked = StackedPolicy(make, runs, seed=10)
    g = torch.Generator().manual_seed(0)
    obs, actions = _one_hot_obs(runs, episodes, steps, g), torch.randint(4, (runs, episodes, steps), generator=g)
    together = stacked(obs, actions)
    hidden = stacked.initial_state((runs, episodes))
    first_step, _ = stacked.step(obs[:, :, 0], hidden)
    for k in range(runs):
        alone = make(10 + k)
        torch.testing.assert_close(together[k], alone(obs[k], actions[k]))
        torch.testing.assert_close(first_step[k], alone.step(obs[k, :, 0], alone.initial_state(episodes))[0])
        torch.testing.assert_close(stacked.member(k)(obs[k], actions[k]), together[k])
        # forward equals stepping through the trajectory (the recurrent state is carried right)
        h, stepped = alone.initial_state(episodes), []
        for t in range(steps):
            lp, h = alone.step(obs[k, :, t], h)
            stepped.append(lp.gather(-1, actions[k, :, t, None]).squeeze(-1))
        torch.testing.assert_close(torch.stack(stepped, 1), together[k])


def test_egocentric_policy_is_invariant_to_shifting_the_whole_grid() -> None:
    policy = CoinRecurrentPolicy(channels=4, features=8, hidden_size=6, seed=1, egocentric=True)
    obs = _one_hot_obs(1, 3, 4, torch.Generator().manual_seed(2))[0]
    actions = torch.randint(4, (3, 4))
    shifted = obs.roll(shifts=(1, 2), dims=(-2, -1))
    torch.testing.assert_close(policy(obs, actions), policy(shifted, actions))


def test_written_out_lstm_equals_torchs_lstm_cell() -> None:
    cell = nn.LSTMCell(5, 7)
    x, h, c = torch.randn(3, 5), torch.randn(3, 7), torch.randn(3, 7)
    h_ref, c_ref = cell(x, (h, c))
    out = lstm_cell(x, torch.cat([h, c], -1), cell)
    torch.testing.assert_close(out, torch.cat([h_ref, c_ref], -1))


@pytest.mark.parametrize("kind", ["nl-critic-entropy", "lola-adam-critic"])
def test_each_seed_of_a_stacked_run_gets_exactly_its_own_gradient(kind: str) -> None:
    runs = 3
    make = MEMBERS["ego-lstm"]
    seats = [StackedPolicy(make, runs, seed=0), StackedPolicy(make, runs, seed=100)]
    env = RecordingCoinView(BatchedCoinGame((runs, 6), max_steps=7))
    episodes = rollout(env, seats, torch.Generator().manual_seed(1), seed=2)

    def make_critic(s: int) -> CoinCritic:
        critic = CoinCritic(hidden=8, seed=s)
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            nn.init.normal_(critic.head.weight, std=0.3)  # non-trivial values (it starts at zero)
        return critic

    def learner(own, other, critic_seed, n):
        critic = StackedPolicy(make_critic, n, seed=critic_seed)
        base = PolicyGradient(own, lr=0.01, gamma=0.96, optimizer="adam", critic=critic,
                              entropy=0.1 if kind.startswith("nl") else 0.0)
        return base if kind.startswith("nl") else LOLA(base, other, "white-box", eta=0.5, step_normalisation="adam")

    together = learner(seats[0], seats[1], 50, runs).gradient(episodes, 0)
    k = 1
    singles = [StackedPolicy(make, 1, seed=0 + k), StackedPolicy(make, 1, seed=100 + k)]
    sliced = Episodes([o[k : k + 1] for o in episodes.observations], episodes.actions[k : k + 1],
                      episodes.rewards[k : k + 1])
    alone = learner(singles[0], singles[1], 50 + k, 1).gradient(sliced, 0)
    for name, g in together.items():
        assert g[k].abs().sum() > 0
        # float32: batched and single matmuls round differently, and Adam-normalised corrections
        # amplify that (measured up to 7.5e-4 of the gradient's scale over 21 rollouts); a seed
        # leaking into another would differ at the scale itself.
        scale = float(alone[name].abs().max())
        torch.testing.assert_close(g[k : k + 1], alone[name], rtol=1e-4, atol=max(1e-6, 2e-3 * scale))


# --------------------------------------------------------------------------- anticipating part of the opponent
def test_the_taylor_correction_is_additive_over_a_partition_of_the_anticipated_parameters() -> None:
    """The shaping scalar sums over opponent parameters, so corrections over disjoint sets add up to the full one."""
    make = lambda s: CoinRecurrentPolicy(channels=4, features=8, hidden_size=8, egocentric=True, skip=True,  # noqa: E731
                                         seed=s)
    seats, episodes = _coin_batch(make)
    b = SeatBatch.from_episodes(episodes, 0)
    args = (seats[0], params_of(seats[0]), seats[1], params_of(seats[1]), b, 0.96, 0.7)
    _, full = lola_gradient(*args)
    _, everything = lola_gradient(*args, anticipate=["encoder", "gru", "head", "skip"])
    _, skip = lola_gradient(*args, anticipate=["skip"])
    _, rest = lola_gradient(*args, anticipate=["encoder", "gru", "head"])
    _close(everything, full)
    _close({k: skip[k] + rest[k] for k in full}, full, atol=1e-5, rtol=1e-4)
    assert any(float((skip[k] - full[k]).abs().max()) > 1e-6 for k in full)  # a real restriction


def test_anticipate_must_name_opponent_parameters() -> None:
    make = lambda s: CoinConvPolicy(channels=4, features=8, seed=s)  # noqa: E731
    seats, _ = _coin_batch(make)
    with pytest.raises(ValueError, match="names none of the opponent's parameters"):
        LOLA(PolicyGradient(seats[0]), seats[1], anticipate=["skip"])
