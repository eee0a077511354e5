"""The single-agent view: gymnasium's and SB3's env checks, learning outcomes, learning opponents."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from gymnasium.utils.env_checker import check_env  # noqa: E402
from stable_baselines3 import A2C, DQN, PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402
from stable_baselines3.common.env_util import make_vec_env  # noqa: E402

import lola_zoo  # noqa: E402
from lola_zoo.agents import Agent, AlwaysDefect, RandomStrategy, TitForTat  # noqa: E402
from lola_zoo.agents.base import Transition  # noqa: E402
from lola_zoo.agents.sb3 import SingleAgentView, make_sb3_agent, policy_table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(4)
pytestmark = pytest.mark.filterwarnings("ignore:.*(spec|render).*:UserWarning")




class CountingLearner(Agent):
    """A learner stand-in that records the protocol calls it receives."""

    name = "counting"

    def __init__(self) -> None:
        self.observed: list[Transition] = []
        self.updates = 0
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, observation) -> int:
        return int(self._rng.integers(2))

    def observe(self, transition: Transition) -> None:
        self.observed.append(transition)

    def update(self) -> dict[str, float]:
        self.updates += 1
        return {"updates": float(self.updates)}


@pytest.mark.parametrize(
    "opponent",
    [TitForTat, AlwaysDefect, lambda: RandomStrategy(2), CountingLearner],
    ids=["tft", "alld", "random", "learner"],
)
def test_view_passes_gymnasium_and_sb3_env_checkers(opponent):
    view = SingleAgentView("ipd", "player_1", {"player_0": opponent()}, env_kwargs={"max_steps": 20})
    check_env(view, skip_render_check=True)
    sb3_check_env(view, warn=False)


def test_view_of_the_coin_game_passes_the_env_checker():
    if "coin-game" not in lola_zoo.registered():
        pytest.skip("lola_zoo.envs.coin_game is not registered yet")
    view = SingleAgentView("coin-game", 0, RandomStrategy(4), env_kwargs={"max_steps": 10})
    check_env(view, skip_render_check=True)


def test_seeded_resets_repeat_episodes_including_a_random_opponent():
    view = SingleAgentView("ipd", 0, RandomStrategy(2), env_kwargs={"max_steps": 30})

    def episode(seed: int) -> list[float]:
        view.reset(seed=seed)
        return [view.step(0)[1] for _ in range(30)]

    assert episode(5) == episode(5)
    assert episode(5) != episode(6)


def _ppo_p_cooperate(opponent_class, gamma: float, seed: int) -> np.ndarray:
    venv = make_vec_env(lambda: SingleAgentView("ipd", 0, opponent_class(), env_kwargs={"max_steps": 50}),
                        n_envs=8, seed=seed)
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-3,
                gamma=gamma, seed=seed, policy_kwargs={"net_arch": [32]})
    model.learn(total_timesteps=20_000)
    return policy_table(model, range(5))[:, 0]  # P(cooperate) at start, CC, CD, DC, DD


def test_ppo_learns_to_defect_against_always_defect_over_seeds():
    # States met against AllD: start, CD (own C, other D), DD.
    p = np.array([_ppo_p_cooperate(AlwaysDefect, 0.96, s)[[0, 2, 4]] for s in SEEDS])
    assert (p < 0.5).all(), p  # every seed defects greedily in every state it meets
    assert p.mean() < 0.15, p


def test_ppo_learns_to_cooperate_with_tit_for_tat_when_gamma_is_high_over_seeds():
    # Cooperating forever earns -1/(1-g), defecting forever -2g/(1-g): cooperate iff g > 1/2.
    p = np.array([_ppo_p_cooperate(TitForTat, 0.96, s)[[0, 1]] for s in SEEDS])  # start and CC
    assert (p > 0.5).all(), p
    assert p.mean() > 0.9, p


def test_ppo_defects_against_tit_for_tat_when_gamma_is_low():
    p = np.array([_ppo_p_cooperate(TitForTat, 0.3, s)[[0, 4]] for s in SEEDS[:2]])  # start and DD
    assert (p < 0.5).all(), p


@pytest.mark.parametrize("algo, kwargs", [(A2C, dict(n_steps=8, learning_rate=3e-3)),
                                          (DQN, dict(learning_starts=500, exploration_fraction=0.3,
                                                     target_update_interval=250, learning_rate=1e-3))])
def test_a2c_and_dqn_train_on_the_view_and_defect_against_always_defect(algo, kwargs):
    venv = make_vec_env(lambda: SingleAgentView("ipd", 0, AlwaysDefect(), env_kwargs={"max_steps": 50}),
                        n_envs=8, seed=0)
    model = algo("MlpPolicy", venv, gamma=0.96, seed=0, policy_kwargs={"net_arch": [32]}, **kwargs)
    model.learn(total_timesteps=10_000)
    greedy = [int(model.predict(np.int64(s), deterministic=True)[0]) for s in (0, 2, 4)]
    assert greedy == [1, 1, 1]


def test_opponents_observe_every_step_and_update_after_every_episode():
    learner = CountingLearner()
    view = SingleAgentView("ipd", 0, {"player_1": learner}, env_kwargs={"max_steps": 7})
    for episode in range(3):
        view.reset(seed=episode)
        done = False
        while not done:
            _, reward, terminated, truncated, info = view.step(1)
            done = terminated or truncated
        assert truncated and not terminated
        assert info["opponent_metrics"] == {"player_1": {"updates": float(episode + 1)}}
    assert len(learner.observed) == 21 and learner.updates == 3 and learner.resets == 3
    last = learner.observed[-1]
    assert last.truncated and last.info["joint_action"][0] == 1
    # The opponent's reward is its own payoff for the joint action it saw.
    game = lola_zoo.game("ipd")
    assert all(t.reward == game.payoff(1, t.info["joint_action"]) for t in learner.observed)


def test_an_sb3_learner_keeps_learning_as_the_opponent_of_another_sb3_learner():
    opponent = make_sb3_agent("ppo", "ipd", "player_1", seed=1, n_steps=64, batch_size=64)
    before = policy_table(opponent, range(5))
    view = SingleAgentView("ipd", 0, opponent, env_kwargs={"max_steps": 32})
    PPO("MlpPolicy", view, n_steps=64, batch_size=64, seed=0).learn(total_timesteps=256)
    assert opponent.model.num_timesteps == 256
    assert not np.allclose(policy_table(opponent, range(5)), before)


def test_view_rejects_bad_seats_and_opponents():
    with pytest.raises(KeyError, match=r"missing \['player_1'\]"):
        SingleAgentView("ipd", 0, {})
    with pytest.raises(KeyError, match=r"unexpected \['player_0'\]"):
        SingleAgentView("ipd", 0, {"player_0": TitForTat(), "player_1": TitForTat()})
    with pytest.raises(KeyError, match="unknown seat"):
        SingleAgentView("ipd", "player_9", TitForTat())
    with pytest.raises(TypeError, match="must be an Agent"):
        SingleAgentView("ipd", 0, {"player_1": "tft"})
    with pytest.raises(RuntimeError, match="before reset"):
        SingleAgentView("ipd", 0, TitForTat()).step(0)


def test_docs_single_agent_view_page_code_runs(run_doc_page, tmp_path, monkeypatch):
    ns = run_doc_page("integrations/single-agent-view.md")
    assert ns["learner"].model.num_timesteps == 256


def test_example_single_agent_view_runs(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["single_agent_view.py", "--opponent", "alld", "--algo", "a2c",
                                      "--timesteps", "800"])
    runpy.run_path(str(ROOT / "examples" / "single_agent_view.py"), run_name="__main__")
    assert "A2C vs alld" in capsys.readouterr().out
