"""The in-loop policy-gradient agent: LOLA-PG / LOLA-OM / NL-PG as drop-in agents in a plain parallel loop."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import lola_zoo
from lola_zoo.agents import Agent, PolicyGradientAgent, TitForTat, make_pg_agent, observe_all
from lola_zoo.agents.base import Transition
from lola_zoo.agents.coin_policies import CoinRecurrentPolicy
from lola_zoo.agents.in_loop import MLPPolicy, SB3PolicyModule, torch_policy_of
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.envs.batched import Episodes
from lola_zoo.experiments.loop import play_episode, train

ROOT = Path(__file__).resolve().parent.parent


def _loop(env, agents, episodes, seed=0, record=None, learn=True):
    """The user's loop; ``record`` collects the dicts of every step (to build episodes by hand)."""
    for k in range(episodes):
        observations, infos = env.reset(seed=seed if k == 0 else None)
        for agent in agents.values():
            agent.reset()
        steps = []
        while env.agents:
            actions = {a: agents[a].act(observations[a]) for a in env.agents}
            next_obs, rewards, terminations, truncations, infos = env.step(actions)
            observe_all(agents, observations, actions, rewards, next_obs, terminations, truncations, infos)
            steps.append((observations, actions, rewards))
            observations = next_obs
        if record is not None:
            record.append(steps)
        metrics = {a: agent.update() for a, agent in agents.items()} if learn else {}
    return metrics


def _episodes_by_hand(record, names, float_obs=False) -> Episodes:
    obs = [torch.tensor(np.array([[s[0][n] for s in ep] for ep in record])) for n in names]
    if float_obs:
        obs = [o.float() for o in obs]
    actions = torch.tensor([[[s[1][n] for n in names] for s in ep] for ep in record])
    rewards = torch.tensor([[[float(s[2][n]) for n in names] for s in ep] for ep in record])
    return Episodes(obs, actions, rewards)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("observation_type", ["discrete", "onehot"])
def test_in_loop_gradient_equals_the_learners_gradient_on_episodes_built_by_hand(observation_type):
    env = lola_zoo.make("ipd", max_steps=6, observation_type=observation_type)
    lola = make_pg_agent("lola", env, "player_0", seed=0, episodes_per_update=3, gamma=0.9)
    naive = make_pg_agent("nl", env, "player_1", seed=1, episodes_per_update=3, gamma=0.9)
    lola.set_opponent(naive)
    assert isinstance(lola.policy, Memory1Policy if observation_type == "discrete" else MLPPolicy)
    record: list = []
    metrics = _loop(env, {"player_0": lola, "player_1": naive}, 3, record=record)
    assert metrics["player_0"] and metrics["player_1"]
    by_hand = _episodes_by_hand(record, ["player_0", "player_1"], float_obs=observation_type == "onehot")
    for agent, seat in ((lola, 0), (naive, 1)):
        built = agent.last_batch
        for a, b in zip(built.observations, by_hand.observations):
            assert torch.equal(a, b.to(a.dtype))
        assert torch.equal(built.actions, by_hand.actions)
        assert torch.equal(built.rewards, by_hand.rewards)
        expected = agent.learner.gradient(by_hand, seat)  # same parameters: the step is still pending
        for k, g in agent.pending_gradient.items():
            assert torch.allclose(g, expected[k], atol=1e-6), k
    assert metrics["player_0"]["correction_norm"] > 0  # white-box LOLA shaped through the NL learner


def test_learning_together_both_agents_compute_at_the_same_parameters():
    env = lola_zoo.make("ipd", max_steps=5)
    a0 = make_pg_agent("lola", env, "player_0", seed=3, episodes_per_update=2)
    a1 = make_pg_agent("lola", env, "player_1", opponent=a0, seed=4, episodes_per_update=2)
    a0.set_opponent(a1)
    before = [a0.policy.logits.detach().clone(), a1.policy.logits.detach().clone()]
    _loop(env, {"player_0": a0, "player_1": a1}, 2)
    # player_1 updated after player_0, but player_0's step waits: both saw the old parameters.
    assert torch.equal(a0.policy.logits.detach(), before[0])
    expected = LOLA(PolicyGradient(Memory1Policy(logits=before[0])), Memory1Policy(logits=before[1])).gradient(
        a0.last_batch, 0)
    assert torch.allclose(a0.pending_gradient["logits"], expected["logits"], atol=1e-6)
    a0.reset()
    assert torch.allclose(a0.policy.logits.detach(), before[0] + expected["logits"], atol=1e-6)


def test_old_constructor_and_transition_only_loop_build_the_same_batches():
    env = lola_zoo.make("ipd", max_steps=4)
    policy = Memory1Policy(generator=torch.Generator().manual_seed(0))
    new = PolicyGradientAgent(PolicyGradient(policy), episodes_per_update=100)
    old_style = PolicyGradientAgent(PolicyGradient(policy), seat=0, game="ipd", episodes_per_update=100)
    other = TitForTat()
    for k in range(3):
        observations, _ = env.reset(seed=k)
        while env.agents:
            actions = {"player_0": new.act(observations["player_0"]), "player_1": other.act(observations["player_1"])}
            next_obs, rewards, terms, truncs, infos = env.step(actions)
            observe_all({"player_0": new, "player_1": other}, observations, actions, rewards, next_obs, terms,
                        truncs, infos)
            old_style.observe(Transition(observations["player_0"], actions["player_0"], rewards["player_0"],
                                         next_obs["player_0"], terms["player_0"], truncs["player_0"],
                                         infos["player_0"]))
            observations = next_obs
    a, b = new.episodes(), old_style.episodes()
    assert all(torch.equal(x, y) for x, y in zip(a.observations, b.observations))
    assert torch.equal(a.actions, b.actions) and torch.equal(a.rewards, b.rewards)
    with pytest.raises(TypeError, match="observe_all"):
        new.observe(Transition(0, 0, 0.0, 0))
    with pytest.raises(TypeError, match="opponent_id"):
        PolicyGradientAgent(PolicyGradient(Memory1Policy()), 0, "ipd")  # the old positional form


def test_observe_all_gives_plain_agents_their_own_transition_and_play_episode_uses_it():
    class Recorder(Agent):
        def __init__(self):
            self.seen = []

        def act(self, observation):
            return 0

        def observe(self, transition):
            self.seen.append(transition)

    env = lola_zoo.make("ipd", max_steps=3)
    r0, r1 = Recorder(), Recorder()
    play_episode(env, {"player_0": r0, "player_1": TitForTat()}, seed=0)
    assert [t.reward for t in r0.seen] == [-1.0, -1.0, -1.0]
    assert r0.seen[-1].truncated and r0.seen[-1].info["joint_action"] == (0, 0)
    with pytest.raises(KeyError, match="player_1"):
        observe_all({"player_0": r1}, {"player_0": 0, "player_1": 0}, {"player_0": 0, "player_1": 0},
                    {"player_0": 0.0, "player_1": 0.0}, {}, {"player_0": False}, {"player_0": False}, {})


# --------------------------------------------------------------------------- acting


def test_tabulated_actions_follow_policy_step_exactly_and_refresh_after_a_step():
    env = lola_zoo.make("rps", max_steps=5)  # 10 memory-1 states, 3 actions: the softmax table
    agent = make_pg_agent("nl", env, "player_0", seed=7, episodes_per_update=2)
    agent.seed(0)
    with torch.no_grad():
        probs = agent.policy.step(torch.arange(10))[0].exp().double()
    n = 6000
    for state in (0, 4, 9):
        counts = np.bincount([agent.act(np.int64(state)) for _ in range(n)], minlength=3)
        expected = probs[state].numpy() * n
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        assert chi2 < 18.4, (state, counts, expected)  # chi-square, 2 dof, p = 1e-4
    assert np.allclose(agent._cdf, probs.cumsum(-1).numpy(), atol=1e-6)
    _loop(env, {"player_0": agent, "player_1": make_pg_agent("nl", env, "player_1", seed=8, episodes_per_update=2)}, 2)
    agent.act(np.int64(0))  # applies the pending step; the table follows the new parameters
    with torch.no_grad():
        new_probs = agent.policy.step(torch.arange(10))[0].exp().double()
    assert not torch.allclose(new_probs, probs)
    assert np.allclose(agent._cdf, new_probs.cumsum(-1).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        agent.act(np.int64(10))


def test_box_observations_are_sampled_from_policy_step_and_the_cache_follows_the_parameters():
    env = lola_zoo.make("ipd", max_steps=5, observation_type="onehot")
    agent = make_pg_agent("nl", env, "player_0", seed=1, episodes_per_update=2, lr=5.0)
    agent.seed(1)
    obs = np.eye(5, dtype=np.float32)[2]
    with torch.no_grad():
        p = agent.policy.step(torch.from_numpy(obs)[None])[0][0].exp().double().numpy()
    counts = np.bincount([agent.act(obs) for _ in range(4000)], minlength=2)
    assert abs(counts[0] / 4000 - p[0]) < 4 * math.sqrt(p[0] * p[1] / 4000) + 1e-9
    with torch.no_grad():
        agent.policy.head.bias.add_(torch.tensor([3.0, -3.0]))  # an in-place change must not be missed
    counts = np.bincount([agent.act(obs) for _ in range(500)], minlength=2)
    assert counts[0] > 0.8 * 500


def test_recurrent_policy_plays_the_coin_game_with_its_state_carried_and_reset():
    env = lola_zoo.make("coin-game", max_steps=8)
    small = dict(channels=4, features=8, hidden_size=8)
    # Seeded action sampling: unseeded, a run can pick no coin in its 16 steps (seen once in CI).
    red = make_pg_agent("lola", env, "player_0", policy=CoinRecurrentPolicy(seed=0, **small), episodes_per_update=2,
                        seed=0)
    blue = make_pg_agent("nl", env, "player_1", policy=CoinRecurrentPolicy(seed=1, **small), episodes_per_update=2,
                         seed=1)
    red.set_opponent(blue)
    assert red._n_obs is None and red._memo is None  # recurrent: no table, no cache

    stepped = []
    original_step = red.policy.step

    def recording_step(observation, hidden):
        out = original_step(observation, hidden)
        stepped.append(out[0][0])
        return out

    red.policy.step = recording_step
    metrics = _loop(env, {"player_0": red, "player_1": blue}, 2, seed=5)
    del red.policy.step
    batch = red.last_batch
    assert batch.observations[0].shape == (2, 8, 4, 3, 3)
    assert batch.rewards.abs().sum() > 0  # coins were picked up: there is something to shape
    assert math.isfinite(metrics["player_0"]["grad_norm"]) and metrics["player_0"]["correction_norm"] > 0
    # What the agent acted on, step by step, is what forward() unrolls from the initial state.
    with torch.no_grad():
        unrolled = red.policy(batch.observations[0], batch.actions[..., 0])
    acted = torch.stack(stepped).reshape(2, 8, 4).gather(-1, batch.actions[..., 0].unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(acted, unrolled, atol=1e-5)


def test_a_recurrent_policy_without_initial_state_gets_a_clear_error():
    class NoState(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(2))

        def step(self, observation, hidden):
            return torch.log_softmax(self.w.expand(*observation.shape[:1], 2), -1), hidden

        def forward(self, observations, actions):
            return torch.zeros(actions.shape)

    with pytest.raises(TypeError, match="initial_state"):
        PolicyGradientAgent(PolicyGradient(NoState()))
    with pytest.raises(TypeError, match="initial_state"):
        make_pg_agent("nl", "ipd", "player_0", policy=NoState())


# --------------------------------------------------------------------------- labels and errors


def test_labels_say_what_runs():
    env = lola_zoo.make("ipd", max_steps=3)
    other = make_pg_agent("nl", env, "player_1")
    assert other.label == other.name == "NL-PG"
    assert make_pg_agent("lola", env, "player_0", opponent=other).label == "LOLA-PG"
    assert make_pg_agent("lola-om", env, "player_0").label == "LOLA-OM"
    assert make_pg_agent("LOLA", env, "player_0", opponent=other, correction="lookahead").label == "LOLA-PG (lookahead)"
    assert make_pg_agent("lola-om", env, "player_0", name="mine").name == "mine"


def test_bad_input_gets_a_clear_error():
    env = lola_zoo.make("ipd", max_steps=3)
    with pytest.raises(ValueError, match="lola-om"):
        make_pg_agent("lola", env, "player_0", opponent=TitForTat())
    with pytest.raises(ValueError, match="action space"):
        make_pg_agent("nl", lola_zoo.make("ipd", observation_type="onehot"), "player_0", policy=MLPPolicy((5,), 3))
    with pytest.raises(ValueError, match="did you mean 'lola'"):
        make_pg_agent("lolla", env, "player_0")
    with pytest.raises(KeyError, match="player_7"):
        make_pg_agent("nl", env, "player_7")
    with pytest.raises(ValueError, match="runs=None"):
        PolicyGradientAgent(PolicyGradient(Memory1Policy(runs=3)))
    waiting = make_pg_agent("lola", env, "player_0", episodes_per_update=1)  # opponent to come
    with pytest.raises(RuntimeError, match="set_opponent"):
        _loop(env, {"player_0": waiting, "player_1": TitForTat()}, 1)


# --------------------------------------------------------------------------- opponents


def _biased_ppo(env, seat):
    pytest.importorskip("stable_baselines3")
    from lola_zoo.agents.sb3 import make_sb3_agent

    ppo = make_sb3_agent("ppo", env, seat, seed=0, n_steps=32, batch_size=16, n_epochs=1, device="cpu")
    with torch.no_grad():  # a PPO that defects 88% of the time, so a model can be seen to learn it
        ppo.model.policy.action_net.bias.copy_(torch.tensor([-1.0, 1.0]))
    return ppo


def _axelrod(name):
    pytest.importorskip("axelrod")
    from lola_zoo.agents.axelrod_adapter import AxelrodAgent

    return AxelrodAgent(name)


@pytest.mark.parametrize("opponent", ["ppo", "axelrod", "tft"])
def test_lola_om_fits_a_model_of_any_opponent_from_the_loop_dicts(opponent):
    env = lola_zoo.make("ipd", max_steps=10)
    other = {"ppo": lambda: _biased_ppo(env, "player_1"), "axelrod": lambda: _axelrod("Alternator"),
             "tft": TitForTat}[opponent]()
    agent = make_pg_agent("lola-om", env, "player_0", opponent=other, seed=0, episodes_per_update=4)
    model = agent.learner.opponent
    assert model.method == "counts"  # memory-1 observations: the closed-form fit
    fits = []
    for _ in range(2):
        metrics = _loop(env, {"player_0": agent, "player_1": other}, 4)
        fits.append(metrics["player_0"]["om_log_likelihood"])
    uniform = math.log(0.5)
    # the model explains the opponent's actions better than the uniform model it started from
    assert all(f > uniform + 0.15 for f in fits), fits
    if opponent == "tft":  # TFT copies the agent's last move: P(C | CC) high, P(C | DC...) low
        probs = model.probs()[:, 0]
        assert probs[1] > 0.5 and probs[0] > 0.5


def test_lola_om_with_a_network_model_on_box_observations_improves_its_fit():
    env = lola_zoo.make("ipd", max_steps=10, observation_type="onehot")
    agent = make_pg_agent("lola-om", env, "player_0", opponent=TitForTat(), seed=0, episodes_per_update=4,
                          om_fit_steps=50)
    model = agent.learner.opponent
    assert model.method == "gradient" and isinstance(model.policy, MLPPolicy)
    metrics = _loop(env, {"player_0": agent, "player_1": TitForTat()}, 4)
    assert metrics["player_0"]["om_log_likelihood"] > math.log(0.5) + 0.3


def test_white_box_lola_reads_ppos_actor_through_sb3_policy_module():
    env = lola_zoo.make("ipd", max_steps=8)
    ppo = _biased_ppo(env, "player_1")
    module = torch_policy_of(ppo)
    assert isinstance(module, SB3PolicyModule)
    obs = torch.tensor([[0, 1, 2], [3, 4, 0]])
    actions = torch.tensor([[0, 1, 1], [1, 0, 0]])
    _, expected, _ = ppo.model.policy.evaluate_actions(obs.reshape(-1), actions.reshape(-1))
    assert torch.allclose(module(obs, actions), expected.reshape(2, 3), atol=1e-6)
    assert torch.allclose(module.step(obs)[0].exp().sum(-1), torch.ones(2, 3))

    agent = make_pg_agent("lola", env, "player_0", opponent=ppo, seed=0, episodes_per_update=4)
    assert isinstance(agent.learner.opponent.policy, SB3PolicyModule)
    metrics = _loop(env, {"player_0": agent, "player_1": ppo}, 4)
    assert metrics["player_0"]["correction_norm"] > 0  # the shaping term went through PPO's parameters
    with pytest.raises(TypeError, match="lola-om|LOLA-OM"):
        SB3PolicyModule(object())


def test_sb3_and_axelrod_agents_keep_working_in_play_episode():
    env = lola_zoo.make("ipd", max_steps=40)
    ppo = _biased_ppo(env, "player_0")
    records = train(env, {"player_0": ppo, "player_1": _axelrod("Grudger")}, episodes=2, seed=0)
    assert records[0]["steps"] == 40 and ppo.model.num_timesteps == 80
    assert records[1]["metrics"]["player_0"]  # PPO trained on the 32-step rollouts it observed


# --------------------------------------------------------------------------- learning outcome


@pytest.mark.slow
def test_own_loop_example_lola_cooperates_more_than_nl():
    example = runpy.run_path(str(ROOT / "examples" / "own_loop.py"))
    results = example["main"](seeds=2, verbose=False)
    lola, nl = results["LOLA-PG vs LOLA-PG"], results["NL-PG vs NL-PG"]
    assert nl["mean"] < -1.8
    assert lola["mean"] > nl["mean"] + 0.4


@pytest.mark.parametrize("kind, label", [("aa", "AA-PG"), ("pola", "POLA-DiCE"), ("pola-om", "POLA-OM"),
                                         ("loqa", "LOQA-PG")])
def test_the_newer_shapers_learn_in_a_users_own_loop(kind: str, label: str) -> None:
    """AA, POLA and LOQA are drop-in agents too: against TFT in the plain loop their table moves every update."""
    env = lola_zoo.make("ipd", max_steps=20)
    options = {"aa": {"aa_beta": 2.0}, "pola": {"pola_inner_steps": 1}, "loqa": {"loqa_scale": 2.0}}.get(kind)
    agent = make_pg_agent(kind, env, "player_0", episodes_per_update=4, seed=0, learner_kwargs=options)
    opponent = make_pg_agent("nl", env, "player_1", episodes_per_update=4, seed=1)
    agent.set_opponent(opponent)
    assert agent.name == label
    before = agent.learner.policy.logits.detach().clone()
    for episode in range(8):
        play_episode(env, {"player_0": agent, "player_1": opponent}, seed=episode)
    agent.reset()  # applies the pending second step
    assert (agent.learner.policy.logits - before).abs().max() > 1e-3
    if kind in ("pola", "loqa"):  # white-box: it reads the opponent's own policy module after set_opponent
        assert agent.learner.opponent.policy is opponent.learner.policy


def test_newer_shaper_options_are_refused_where_they_do_not_apply() -> None:
    env = lola_zoo.make("ipd")
    with pytest.raises(ValueError, match=r"learner_kwargs \['aa_beta'\] apply to the aa"):
        make_pg_agent("lola", env, "player_0", learner_kwargs={"aa_beta": 1.0})
    with pytest.raises(ValueError, match="white-box 'loqa' reads the opponent's policy"):
        make_pg_agent("loqa", env, "player_0", opponent=TitForTat())
    with pytest.raises(ValueError, match="unknown learner option"):
        make_pg_agent("pola", env, "player_0", learner_kwargs={"pola_steps": 2})
