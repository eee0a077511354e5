"""NL-PG and LOLA-PG learners: unbiased gradients, seeds as a batch dimension, any policy module, outcomes."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lola_zoo.agents.lola import LOLA, lola_gradient
from lola_zoo.agents.naive import PolicyGradient, SeatBatch, params_of
from lola_zoo.agents.policies import Memory1Policy, as_memory1_probs
from lola_zoo.envs.batched import BatchedIteratedGame, Episodes, rollout
from lola_zoo.envs.exact import exact_value
from lola_zoo.envs.games import CANONICAL_GAMES


def test_naive_gradient_is_an_unbiased_estimate_of_the_exact_value_gradient() -> None:
    gen = torch.Generator().manual_seed(0)
    th1, th2 = torch.randn(5, generator=gen, dtype=torch.float64), torch.randn(5, generator=gen, dtype=torch.float64)
    runs = 30
    p1 = Memory1Policy(runs=runs, logits=th1.expand(runs, 5), dtype=torch.float64)
    p2 = Memory1Policy(runs=runs, logits=th2.expand(runs, 5), dtype=torch.float64)
    episodes = rollout(BatchedIteratedGame("imp", (runs, 500), 40, dtype=torch.float64), [p1, p2], gen)
    estimate = PolicyGradient(p1, gamma=0.7).gradient(episodes, seat=0)["logits"]
    a = th1.clone().requires_grad_()
    (exact,) = torch.autograd.grad(exact_value(CANONICAL_GAMES["imp"], [a[None], th2[None]], 0.7)[0, 0], a)
    se = estimate.std(0) / runs**0.5
    assert torch.all((estimate.mean(0) - exact).abs() < 4.5 * se + 1e-4)


def test_runs_dimension_gives_each_run_its_own_gradient() -> None:
    """Seeds are a batch dimension: the gradient of run k equals the gradient computed on run k alone."""
    gen = torch.Generator().manual_seed(3)
    p1, p2 = Memory1Policy(runs=3, generator=gen), Memory1Policy(runs=3, generator=gen)
    episodes = rollout(BatchedIteratedGame("ipd", (3, 16), 10), [p1, p2], gen)
    batched_naive, batched_corr = lola_gradient(p1, params_of(p1), p2, params_of(p2), SeatBatch.from_episodes(episodes, 1), 0.9, 1.0)
    for k in range(3):
        q1 = Memory1Policy(logits=p1.logits[k].detach())
        q2 = Memory1Policy(logits=p2.logits[k].detach())
        single = Episodes([o[k] for o in episodes.observations], episodes.actions[k], episodes.rewards[k])
        naive, corr = lola_gradient(q1, params_of(q1), q2, params_of(q2), SeatBatch.from_episodes(single, 1), 0.9, 1.0)
        assert torch.allclose(naive["logits"], batched_naive["logits"][k], atol=1e-5)
        assert torch.allclose(corr["logits"], batched_corr["logits"][k], atol=1e-5)


class UnrolledMemory1(nn.Module):
    """A 'recurrent' policy: carries the last state as a hidden tensor and unrolls through time in forward."""

    def __init__(self, table: Memory1Policy) -> None:
        super().__init__()
        self.table = table

    def initial_state(self, batch_shape):
        return torch.zeros(batch_shape, dtype=torch.long)

    def step(self, observation, hidden):
        return self.table.step(observation)[0], observation

    def forward(self, observations, actions):
        hidden = self.initial_state(observations.shape[:-1])
        out = []
        for t in range(observations.shape[-1]):
            log_probs, hidden = self.step(observations[..., t], hidden)
            out.append(log_probs.gather(-1, actions[..., t, None]).squeeze(-1))
        return torch.stack(out, dim=-1)


def test_learners_accept_any_policy_module_with_the_interface_including_recurrent_ones() -> None:
    gen = torch.Generator().manual_seed(4)
    t1, t2 = Memory1Policy(generator=gen), Memory1Policy(generator=gen)
    r1, r2 = UnrolledMemory1(Memory1Policy(logits=t1.logits.detach())), UnrolledMemory1(Memory1Policy(logits=t2.logits.detach()))
    episodes = rollout(BatchedIteratedGame("ipd", 64, 12), [r1, r2], gen)
    tab = LOLA(PolicyGradient(t1, gamma=0.9), t2).gradient(episodes, 0)
    rec = LOLA(PolicyGradient(r1, gamma=0.9), r2).gradient(episodes, 0)
    assert torch.allclose(rec["table.logits"], tab["logits"], atol=1e-5)
    om = LOLA(PolicyGradient(r1, gamma=0.9), r2, opponent="black-box").gradient(episodes, 0)
    assert torch.isfinite(om["table.logits"]).all()


def test_nl_pg_learns_to_defect_against_always_cooperate() -> None:
    runs = 8
    learner_policy = Memory1Policy(runs=runs, init_std=0.0)
    learner = PolicyGradient(learner_policy, lr=1.0, gamma=0.9)
    env = BatchedIteratedGame("ipd", (runs, 32), 20)
    gen = torch.Generator().manual_seed(0)
    allc = as_memory1_probs([1.0] * 5, runs=runs)
    for _ in range(15):
        learner.update(rollout(env, [learner_policy, allc], gen), seat=0)
    p_coop = learner_policy.probs()[:, [0, 1], 0]  # states the learner visits: start and CC
    assert (p_coop < 0.2).all()


def test_learner_arguments_are_checked() -> None:
    p = Memory1Policy()
    with pytest.raises(ValueError, match="gamma"):
        PolicyGradient(p, gamma=1.5)
    with pytest.raises(ValueError, match="optimizer"):
        PolicyGradient(p, optimizer="rmsprop")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="opponent"):
        LOLA(PolicyGradient(p), Memory1Policy(), opponent="grey-box")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sigmoid"):
        Memory1Policy(n_states=10, n_actions=3, form="sigmoid")
    with pytest.raises(ValueError, match="leading dimension"):
        Memory1Policy(runs=3).step(torch.zeros(4, dtype=torch.long))
    three = Episodes([torch.zeros(2, 3, dtype=torch.long)] * 3, torch.zeros(2, 3, 3, dtype=torch.long), torch.zeros(2, 3, 3))
    with pytest.raises(ValueError, match="two-player"):
        SeatBatch.from_episodes(three, 0)
