"""The plain PettingZoo loop runs any mix of agents; in-loop PG learners see the same data as batched ones."""

from __future__ import annotations

import pytest
import torch

import lola_zoo
from lola_zoo.agents.in_loop import PolicyGradientAgent
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.agents.strategies import AlwaysCooperate, AlwaysDefect, TitForTat
from lola_zoo.experiments.loop import play_episode, train


def test_fixed_strategies_earn_their_exact_scores_in_the_loop() -> None:
    env = lola_zoo.make("ipd", max_steps=10)
    records = train(env, {"player_0": TitForTat(), "player_1": AlwaysDefect()}, episodes=3, seed=0)
    assert len(records) == 3
    for r in records:
        assert r["steps"] == 10
        assert r["returns"] == {"player_0": -3.0 - 2.0 * 9, "player_1": 0.0 - 2.0 * 9}
        assert r["metrics"] == {"player_0": {}, "player_1": {}}


class RecordingAgent(PolicyGradientAgent):
    """Keeps what the env gave it, to compare with the episodes it records from the loop's dicts."""

    def observe_parallel(self, agent_id, observations, actions, rewards, *rest):
        self.seen = getattr(self, "seen", []) + [(int(observations[agent_id]), float(rewards[agent_id]))]
        super().observe_parallel(agent_id, observations, actions, rewards, *rest)


def test_in_loop_agent_rebuilds_both_players_views_exactly() -> None:
    env = lola_zoo.make("ipd", max_steps=7)
    me = RecordingAgent(PolicyGradient(Memory1Policy(generator=torch.Generator().manual_seed(0))), seat=1,
                        episodes_per_update=100)
    me.seed(0)
    other = RecordingAgent(PolicyGradient(Memory1Policy(generator=torch.Generator().manual_seed(1))), seat=0,
                           episodes_per_update=100)
    other.seed(1)
    train(env, {"player_0": other, "player_1": me}, episodes=4, seed=3)
    for agent, seat in ((me, 1), (other, 0)):
        episodes = agent.episodes()
        assert episodes.actions.shape == (4, 7, 2)
        obs = torch.tensor([o for o, _ in agent.seen]).reshape(4, 7)
        rew = torch.tensor([r for _, r in agent.seen]).reshape(4, 7)
        assert torch.equal(episodes.observations[seat], obs)
        assert torch.equal(episodes.rewards[..., seat], rew)
    # Each agent's rebuilt view of the *other* seat matches what the other agent was shown.
    assert torch.equal(me.episodes().observations[0], other.episodes().observations[0])


def test_in_loop_learner_updates_once_per_batch_of_episodes() -> None:
    env = lola_zoo.make("ipd", max_steps=5)
    policy = Memory1Policy(generator=torch.Generator().manual_seed(2))
    agent = PolicyGradientAgent(PolicyGradient(policy, gamma=0.9), seat=0, episodes_per_update=3)
    agent.seed(0)
    before = policy.logits.detach().clone()
    records = train(env, {"player_0": agent, "player_1": TitForTat()}, episodes=6, seed=0)
    learned = [bool(r["metrics"]["player_0"]) for r in records]
    assert learned == [False, False, True, False, False, True]
    assert not torch.equal(before, policy.logits.detach())


def test_nl_pg_in_a_plain_loop_learns_to_defect_against_always_cooperate() -> None:
    env = lola_zoo.make("ipd", max_steps=20)
    policy = Memory1Policy(init_std=0.0)
    agent = PolicyGradientAgent(PolicyGradient(policy, lr=1.0, gamma=0.9), seat=0, episodes_per_update=16)
    agent.seed(0)
    train(env, {"player_0": agent, "player_1": AlwaysCooperate()}, episodes=160, seed=0)
    assert (policy.probs()[[0, 1], 0] < 0.3).all()  # start and CC: the states it visits


def test_lola_and_nl_learners_share_one_loop_and_checkpoint() -> None:
    env = lola_zoo.make("ipd", max_steps=10)
    p0, p1 = Memory1Policy(generator=torch.Generator().manual_seed(0)), Memory1Policy(generator=torch.Generator().manual_seed(1))
    lola = PolicyGradientAgent(LOLA(PolicyGradient(p0, gamma=0.9), p1), seat=0, episodes_per_update=4)
    naive = PolicyGradientAgent(PolicyGradient(p1, gamma=0.9), seat=1, episodes_per_update=4)
    lola.seed(0)
    naive.seed(1)
    before = p0.logits.detach().clone()
    records = train(env, {"player_0": lola, "player_1": naive}, episodes=4, seed=0)
    assert "correction_norm" in records[3]["metrics"]["player_0"]
    # Learning together: the LOLA step waits until the next episode, so the NL learner updated after it
    # computed its gradient at the same parameters the LOLA learner saw.
    assert torch.equal(p0.logits.detach(), before)
    expected = LOLA(PolicyGradient(Memory1Policy(logits=before), gamma=0.9), p1).gradient(lola.last_batch, 0)
    lola.reset()
    assert torch.allclose(p0.logits.detach(), before + expected["logits"])
    state = lola.state_dict()
    fresh = PolicyGradientAgent(LOLA(PolicyGradient(Memory1Policy(), gamma=0.9), p1), seat=0)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.policy.logits, p0.logits)


def test_loop_reports_missing_agents() -> None:
    env = lola_zoo.make("ipd", max_steps=3)
    with pytest.raises(KeyError, match="player_1"):
        play_episode(env, {"player_0": TitForTat()})
    with pytest.raises(ValueError, match="episodes"):
        train(env, {"player_0": TitForTat(), "player_1": TitForTat()}, episodes=0)
