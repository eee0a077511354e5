"""Every registered dilemma passes PettingZoo's own test suites, in both APIs and both observation types."""

from __future__ import annotations

import numpy as np
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest

import lola_zoo
import lola_zoo.envs.iterated as iterated_module

# The AEC view observes NumPy arrays (a Discrete state as a 0-d array), so "Observation is not a NumPy
# array" must not come back; the start state is state 0, which PettingZoo's heuristic calls "all zeros".
pytestmark = [pytest.mark.filterwarnings("error:Observation is not a NumPy array"),
              pytest.mark.filterwarnings("ignore:Observation numpy array is all zeros")]

ALL_IDS = sorted(lola_zoo.registered())
MATRIX_IDS = [i for i in ALL_IDS if lola_zoo.spec(i).game is not None]


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_parallel_api(env_id: str) -> None:
    pzt.parallel_api_test(lola_zoo.make(env_id), num_cycles=300)


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_parallel_seed(env_id: str) -> None:
    pzt.parallel_seed_test(lambda: lola_zoo.make(env_id))


@pytest.mark.parametrize("env_id", ALL_IDS)
def test_aec_api_and_seed(env_id: str) -> None:
    pzt.api_test(lola_zoo.make(env_id, api="aec"), num_cycles=300)
    # parallel_seed_test only checks the first step; the AEC seed test plays whole episodes.
    pzt.seed_test(lambda: lola_zoo.make(env_id, api="aec"))


@pytest.mark.parametrize("env_id", MATRIX_IDS)
def test_onehot_observations_pass_api(env_id: str) -> None:
    pzt.parallel_api_test(lola_zoo.make(env_id, observation_type="onehot"), num_cycles=100)
    pzt.api_test(lola_zoo.make(env_id, api="aec", observation_type="onehot"), num_cycles=100)


def test_max_cycles_truncates_in_both_apis() -> None:
    pzt.max_cycles_test(iterated_module)


def test_custom_dilemma_registered_in_test_passes_api() -> None:
    # A 3x2 asymmetric game: the two seats have different action counts.
    payoffs = np.arange(12, dtype=float).reshape(2, 3, 2) - 5.0
    lola_zoo.register("test-asymmetric-3x2", payoffs=payoffs, description="test game", override=True)
    env = lola_zoo.make("test-asymmetric-3x2", max_steps=7)
    pzt.parallel_api_test(env, num_cycles=50)
    pzt.parallel_seed_test(lambda: lola_zoo.make("test-asymmetric-3x2"))
    pzt.api_test(lola_zoo.make("test-asymmetric-3x2", api="aec"), num_cycles=50)
    assert env.action_space("player_0").n == 3 and env.action_space("player_1").n == 2


@pytest.mark.parametrize("env_id", MATRIX_IDS)
def test_same_seed_gives_same_multi_step_trajectory(env_id: str) -> None:
    def play(seed: int) -> list:
        env = lola_zoo.make(env_id, max_steps=40)
        obs, _ = env.reset(seed=seed)
        trace = []
        while env.agents:
            actions = {a: env.action_space(a).sample() for a in env.agents}
            obs, rewards, *_ = env.step(actions)
            trace.append((tuple(actions.values()), tuple(rewards.values()), tuple(int(o) for o in obs.values())))
        return trace

    assert play(3) == play(3)
    assert play(3) != play(4)
