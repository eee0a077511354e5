"""SB3 through SuperSuit (parameter sharing) and SB3 models as Agents in the MARL loop."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")
pytest.importorskip("supersuit")

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

import lola_zoo  # noqa: E402
from lola_zoo.agents import AlwaysDefect, TitForTat  # noqa: E402
from lola_zoo.agents.base import Transition  # noqa: E402
from lola_zoo.agents.sb3 import SB3Agent, make_sb3_agent, policy_table, sb3_vec_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MATRIX_GAMES = [i for i in lola_zoo.registered() if lola_zoo.spec(i).game is not None]




def _parameters(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.policy.parameters()])


def _small_ppo(venv, seed: int = 0, **kwargs) -> PPO:
    return PPO("MlpPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=seed,
               policy_kwargs={"net_arch": [16]}, **kwargs)


@pytest.mark.parametrize("env_id", MATRIX_GAMES)
def test_shared_ppo_trains_on_every_registered_matrix_game(env_id):
    venv = sb3_vec_env(env_id, n_envs=2, max_steps=8)
    game = lola_zoo.game(env_id)
    assert venv.num_envs == 2 * game.n_players
    model = _small_ppo(venv).learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    episodes = list(model.ep_info_buffer)
    assert episodes and all(int(e["l"]) == 8 for e in episodes)
    # Each monitored return is 8 rounds of stage payoffs of one seat.
    lo, hi = game.payoffs.min() * 8, game.payoffs.max() * 8
    assert all(lo - 1e-6 <= float(e["r"]) <= hi + 1e-6 for e in episodes)


def test_shared_ppo_trains_on_the_coin_game():
    if "coin-game" not in lola_zoo.registered():
        pytest.skip("lola_zoo.envs.coin_game is not registered yet")
    venv = sb3_vec_env("coin-game", n_envs=2, max_steps=10)
    assert venv.num_envs == 4
    model = _small_ppo(venv).learn(total_timesteps=256)
    assert model.num_timesteps >= 256 and len(model.ep_info_buffer) >= 4


def test_ppo_seed_is_forwarded_so_reruns_are_bit_identical():
    def train(seed: int) -> torch.Tensor:
        return _parameters(_small_ppo(sb3_vec_env("ipd", n_envs=2, max_steps=8), seed=seed).learn(256))

    first, again, other = train(3), train(3), train(4)
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_vec_env_copies_receive_distinct_seeds():
    if "coin-game" not in lola_zoo.registered():
        pytest.skip("lola_zoo.envs.coin_game is not registered yet (the matrix games have no randomness)")
    venv = sb3_vec_env("coin-game", n_envs=6, max_steps=10, monitor=False)
    venv.seed(0)
    first = venv.reset()
    # cloudpickled clones share one RNG state unless each copy gets its own seed: their starts would match.
    per_game = first.reshape(6, 2, -1)[:, 0]
    assert len({row.tobytes() for row in per_game}) > 1
    venv.seed(0)
    assert np.array_equal(venv.reset(), first)


def test_time_limit_reaches_sb3_as_a_truncation_with_terminal_observation():
    venv = sb3_vec_env("ipd", n_envs=1, max_steps=3, monitor=False)
    venv.seed(0)
    venv.reset()
    for step in range(3):
        _, _, dones, infos = venv.step(np.zeros(venv.num_envs, dtype=np.int64))
    assert dones.all()
    assert all(info["TimeLimit.truncated"] for info in infos)
    assert all("terminal_observation" in info for info in infos)


def test_sb3_vec_env_rejects_bad_input():
    with pytest.raises(ValueError, match="n_envs"):
        sb3_vec_env("ipd", n_envs=0)
    with pytest.raises(KeyError, match="unknown dilemma id"):
        sb3_vec_env("no-such-game")
    with pytest.raises(TypeError, match="ParallelEnv"):
        sb3_vec_env(object())


# -- SB3 models as Agents ----------------------------------------------------------------------


def _play(agents: dict, env, episodes: int) -> dict[str, float]:
    """The plain MARL loop: act, step, observe, update at the end of every episode."""
    metrics: dict[str, float] = {}
    for episode in range(episodes):
        observations, _ = env.reset(seed=episode)
        for agent in agents.values():
            agent.reset()
        while env.agents:
            actions = {a: agents[a].act(observations[a]) for a in env.agents}
            nxt, rewards, terms, truncs, infos = env.step(actions)
            for a, agent in agents.items():
                agent.observe(
                    Transition(observations[a], actions[a], rewards[a], nxt[a], terms[a], truncs[a], infos[a])
                )
            observations = nxt
        for agent in agents.values():
            metrics.update(agent.update())
    return metrics


@pytest.mark.parametrize(
    "algo, kwargs",
    [
        ("ppo", dict(n_steps=256, batch_size=64, learning_rate=3e-3)),
        ("a2c", dict(n_steps=16, learning_rate=1e-2)),
        ("dqn", dict(learning_starts=200, exploration_fraction=0.3, target_update_interval=200,
                     learning_rate=1e-3)),
    ],
)
def test_sb3_agent_learns_to_defect_against_always_defect_inside_the_marl_loop(algo, kwargs):
    env = lola_zoo.make("ipd", max_steps=50)
    learner = make_sb3_agent(algo, env, "player_0", seed=0, gamma=0.96, total_timesteps=4000,
                             policy_kwargs={"net_arch": [32]}, **kwargs)
    before = policy_table(learner, range(5))[[0, 2, 4], 1]
    metrics = _play({"player_0": learner, "player_1": AlwaysDefect()}, env, episodes=80)
    assert learner.model.num_timesteps == 4000
    assert any(k.startswith("train/") for k in metrics), metrics  # SB3 trained on its own schedule
    # Defect in the states met against AllD: start, CD (own C, other D) and DD.
    after = policy_table(learner, range(5))[[0, 2, 4], 1]
    assert (after > 0.5).all() and after.mean() > 0.85, (before, after)  # greedy best response everywhere


def test_sb3_agent_plays_beside_fixed_agents_and_checkpoints_round_trip(tmp_path):
    env = lola_zoo.make("ipd", max_steps=20)
    trained = make_sb3_agent("ppo", env, 1, seed=0, n_steps=64, batch_size=64)
    _play({"player_0": TitForTat(), "player_1": trained}, env, episodes=4)
    copy = make_sb3_agent("ppo", env, 1, seed=5, learn=False)
    assert not np.allclose(policy_table(copy, range(5)), policy_table(trained, range(5)))
    copy.load_state_dict(trained.state_dict())
    assert np.allclose(policy_table(copy, range(5)), policy_table(trained, range(5)))
    # A saved model loads through path= too.
    trained.model.save(tmp_path / "ppo.zip")
    loaded = make_sb3_agent("ppo", env, 1, path=tmp_path / "ppo.zip", learn=False, deterministic=True)
    assert np.allclose(policy_table(loaded, range(5)), policy_table(trained, range(5)))
    greedy = policy_table(trained, range(5)).argmax(-1)
    assert [loaded.act(np.int64(s)) for s in range(5)] == greedy.tolist()


def test_make_sb3_agent_rejects_bad_names_seats_and_arguments():
    with pytest.raises(ValueError, match="unknown SB3 algorithm 'sac'"):
        make_sb3_agent("sac", "ipd", 0)
    with pytest.raises(KeyError, match="unknown seat 'player_7'"):
        make_sb3_agent("ppo", "ipd", "player_7")
    with pytest.raises(ValueError, match="seat index 2 out of range"):
        make_sb3_agent("ppo", "ipd", 2)
    with pytest.raises(ValueError, match="bad keyword argument for PPO"):
        make_sb3_agent("ppo", "ipd", 0, no_such_option=1)
    with pytest.raises(TypeError, match="stable-baselines3 algorithm"):
        SB3Agent(object())


def test_docs_sb3_supersuit_page_code_runs(run_doc_page, tmp_path, monkeypatch):
    ns = run_doc_page("integrations/sb3-supersuit.md")
    assert ns["p_cooperate"].shape == (5,)
    assert np.all((ns["p_cooperate"] >= 0) & (ns["p_cooperate"] <= 1))
    # The in-loop DQN page example ends defecting against always-defect.
    assert ns["greedy"].act(np.int64(0)) == 1 and ns["greedy"].act(np.int64(2)) == 1


def test_example_sb3_parameter_sharing_runs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["sb3_parameter_sharing.py", "--timesteps", "512", "--max-steps", "8"])
    runpy.run_path(str(ROOT / "examples" / "sb3_parameter_sharing.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "shared PPO after" in out and "P(action |    CC)" in out


def test_importing_lola_zoo_and_the_sb3_bridge_does_not_import_axelrod():
    import subprocess

    code = "import sys, lola_zoo, lola_zoo.agents, lola_zoo.agents.sb3; assert 'axelrod' not in sys.modules"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr  # axelrod's import costs 10-20 s: only the adapter pays it
