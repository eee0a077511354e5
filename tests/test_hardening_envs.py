"""Issue 15's audit of the library side: what the envs and the registry used to accept silently, or explain badly."""

from __future__ import annotations

import ast
import builtins
import pickle
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import pettingzoo
import pettingzoo.test as pzt  # imported as a module: pytest would collect test_save_obs otherwise
import pytest

import lola_zoo
from lola_zoo import registry
from lola_zoo.envs.games import MAX_ABS_PAYOFF, MatrixGame, symmetric_game
from lola_zoo.envs.iterated import IteratedMatrixGame

ROOT = Path(__file__).resolve().parent.parent
MATRIX_IDS = [i for i in sorted(lola_zoo.registered()) if lola_zoo.spec(i).game is not None]
DISCRETE_IDS = ["ipd", "rps", "public-goods-3", "coin-game", "in-the-matrix"]
CONTINUOUS_IDS = ["cournot", "fishery"]


@pytest.fixture
def scratch_ids():
    """Ids a test registers, removed afterwards so that other tests see the registry unchanged."""
    ids: list[str] = []
    yield ids
    for env_id in ids:
        registry._REGISTRY.pop(env_id, None)


# ------------------------------------------------------------------ 1. register() checks everything
@pytest.mark.parametrize("max_steps", [0, -3, True, 2.5, "10"])
def test_register_refuses_a_bad_max_steps_naming_it(max_steps, scratch_ids):
    scratch_ids.append("test-bad-steps")
    with pytest.raises(ValueError, match=f"max_steps must be a positive integer, got {re.escape(repr(max_steps))}"):
        lola_zoo.register("test-bad-steps", payoffs=[[3, 0], [5, 1]], max_steps=max_steps)
    with pytest.raises(ValueError, match="max_steps must be a positive integer"):
        lola_zoo.register("test-bad-steps", payoffs=[[3, 0], [5, 1]], kwargs={"max_steps": max_steps})
    assert "test-bad-steps" not in registry._REGISTRY


def test_register_refuses_unknown_kwargs_naming_them(scratch_ids):
    scratch_ids += ["test-typo", "test-typo-ep"]
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) \['max_step'\].*IteratedMatrixGame"):
        lola_zoo.register("test-typo", payoffs=[[3, 0], [5, 1]], kwargs={"max_step": 5})
    with pytest.raises(TypeError, match=r"unknown keyword argument\(s\) \['grid'\].*CoinGame"):
        lola_zoo.register("test-typo-ep", entry_point="lola_zoo.envs.coin_game:CoinGame", kwargs={"grid": 4})
    assert "test-typo" not in registry._REGISTRY and "test-typo-ep" not in registry._REGISTRY


@pytest.mark.parametrize("entry_point, match", [
    ("lola_zoo.envs.coin_game.CoinGame", "must look like 'module:attr'"),
    ("no_such_module_xyz:Env", "cannot import the module of entry point 'no_such_module_xyz:Env'"),
    ("lola_zoo.envs.coin_game:NoSuchEnv", "has no attribute 'NoSuchEnv'"),
    ("lola_zoo.envs.coin_game:MOVES", "'lola_zoo.envs.coin_game:MOVES' is a tuple, not callable"),
    (42, "entry_point must be a callable or 'module:attr', got 42"),
])
def test_register_refuses_a_bad_entry_point_at_register_not_at_make(entry_point, match, scratch_ids):
    scratch_ids.append("test-bad-entry")
    with pytest.raises((ValueError, TypeError), match=match):
        lola_zoo.register("test-bad-entry", entry_point=entry_point)
    assert "test-bad-entry" not in registry._REGISTRY


def test_a_callable_entry_point_with_kwargs_is_checked_against_its_signature(scratch_ids):
    scratch_ids += ["test-callable", "test-callable-any"]

    def build(max_steps: int = 3):
        return lola_zoo.make("ipd", max_steps=max_steps)

    lola_zoo.register("test-callable", entry_point=build, kwargs={"max_steps": 4})
    assert lola_zoo.make("test-callable").max_steps == 4
    with pytest.raises(TypeError, match=r"\['colour'\].*takes \['max_steps'\]"):
        lola_zoo.register("test-callable", entry_point=build, kwargs={"colour": 1}, override=True)
    # A **kwargs entry point takes anything: nothing to check before make.
    lola_zoo.register("test-callable-any", entry_point=lambda **kw: build(**kw), kwargs={"max_steps": 2})
    assert lola_zoo.make("test-callable-any").max_steps == 2


@pytest.mark.parametrize("payoffs, match", [
    ([[1.0]], r"at least two actions; got action counts \(1, 1\)"),
    (np.zeros((2, 1, 2)), r"at least two actions; got action counts \(1, 2\)"),
    ([[True, False], [False, True]], r"real numbers.*found True \(bool\) at index \(0, 0\)"),
    ([[3, 0], [5, True]], r"real numbers.*found True \(bool\) at index \(1, 1\)"),
    ([["3", "0"], ["5", "1"]], r"real numbers.*found '3' \(str\) at index \(0, 0\)"),
    ([[3, 0], ["5", 1]], r"real numbers.*found '5' \(str\) at index \(1, 0\)"),
    ([[3, 0], [5, 1 + 2j]], r"real numbers.*found"),
    ([[3, 0], [1e308, 1]], r"\|payoff\| must be at most 1e\+09.*found 1e\+308 at index \(1, 0\)"),
    ([[3, 0], [-2e9, 1]], r"\|payoff\| must be at most 1e\+09.*found -2e\+09"),
    ([[3, 0], [np.inf, 1]], r"finite; found inf at index \(1, 0\)"),
])
def test_register_refuses_degenerate_or_non_numeric_payoffs_naming_the_value(payoffs, match, scratch_ids):
    scratch_ids.append("test-bad-payoffs")
    with pytest.raises(ValueError, match=match):
        lola_zoo.register("test-bad-payoffs", payoffs=payoffs)
    assert "test-bad-payoffs" not in registry._REGISTRY


def test_matrix_game_and_symmetric_game_refuse_the_same_payoffs_directly():
    with pytest.raises(ValueError, match=r"MatrixGame 'x'.*found True"):
        MatrixGame("x", np.array([[[1, 0], [0, 1]], [[1, 0], [0, True]]], dtype=object))
    with pytest.raises(ValueError, match=r"symmetric game 'y'.*found '1'"):
        symmetric_game([["1", "0"], ["0", "1"]], "y")
    with pytest.raises(ValueError, match=r"at most 1e\+09"):
        MatrixGame("z", np.full((2, 2, 2), 10 * MAX_ABS_PAYOFF))
    # Integers, NumPy integers and Fractions are numbers: accepted.
    from fractions import Fraction

    game = symmetric_game([[Fraction(1, 2), 0], [np.int64(2), 1]], "ok")
    assert game.payoffs[0, 0, 0] == 0.5 and game.payoffs.dtype == np.float64
    assert MatrixGame("edge", np.full((2, 2, 2), MAX_ABS_PAYOFF)).payoffs.max() == MAX_ABS_PAYOFF


def test_exact_values_stay_finite_at_the_payoff_bound():
    torch = pytest.importorskip("torch")
    from lola_zoo.envs.exact import exact_value

    game = symmetric_game(np.array([[-1.0, -3.0], [0.0, -2.0]]) * MAX_ABS_PAYOFF / 3, "big")
    params = [torch.zeros(1, game.n_states, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    values = exact_value(game, params, 0.99)
    grads = torch.autograd.grad(values[0].sum(), params, create_graph=True)
    assert all(bool(torch.isfinite(v).all()) for v in (*values, *grads))


@pytest.mark.parametrize("env_id", ["ipd", "public-goods-3"])
@pytest.mark.parametrize("key", ["max_steps", "max_cycles"])
def test_make_refuses_a_bool_as_max_steps(env_id, key):
    with pytest.raises(ValueError, match="max_steps must be a positive integer, got True"):
        lola_zoo.make(env_id, **{key: True})
    assert lola_zoo.make(env_id, **{key: np.int64(3)}).max_steps == 3


# ------------------------------------------------------------------ 1. step() takes integers only
@pytest.mark.parametrize("env_id", DISCRETE_IDS)
@pytest.mark.parametrize("action", [1.0, np.float64(1.0), np.float32(0.0), True, np.True_, np.array(True),
                                    np.array(1.0), "1", None, [1]])
def test_discrete_envs_refuse_floats_bools_and_text_as_actions(env_id, action):
    env = lola_zoo.make(env_id)
    env.reset(seed=0)
    actions = {agent: 0 for agent in env.possible_agents}
    actions["player_0"] = action
    with pytest.raises(ValueError, match=rf"invalid action {re.escape(repr(action))} for player_0: expected an integer"):
        env.step(actions)


@pytest.mark.parametrize("env_id", DISCRETE_IDS)
@pytest.mark.parametrize("action", [1, np.int64(1), np.int32(1), np.uint8(1), np.array(1)])
def test_discrete_envs_take_integers_and_integer_numpy_scalars(env_id, action):
    env = lola_zoo.make(env_id)
    env.reset(seed=0)
    env.step({agent: action for agent in env.possible_agents})


@pytest.mark.parametrize("env_id", CONTINUOUS_IDS)
@pytest.mark.parametrize("action", [True, np.True_, "0.5", np.array(["0.5"]), np.array([True])])
def test_continuous_envs_refuse_bools_and_text_as_quantities(env_id, action):
    env = lola_zoo.make(env_id)
    env.reset(seed=0)
    actions = {agent: np.array([0.1], dtype=np.float32) for agent in env.possible_agents}
    actions["player_0"] = action
    with pytest.raises(ValueError, match=re.escape(repr(action))):
        env.step(actions)


def test_discrete_action_accepts_torch_integer_scalars_only():
    torch = pytest.importorskip("torch")
    from lola_zoo.envs.base import discrete_action

    assert discrete_action(torch.tensor(1), 2) == 1
    assert discrete_action(torch.tensor(1.0), 2) is None
    assert discrete_action(torch.tensor(True), 2) is None


# ------------------------------------------------------------------ 2. clear messages
@pytest.mark.parametrize("env_id", DISCRETE_IDS + CONTINUOUS_IDS)
def test_step_with_no_dict_says_actions_must_be_a_dict(env_id):
    env = lola_zoo.make(env_id)
    env.reset(seed=0)
    for bad in (None, [0, 1], 0):
        with pytest.raises(TypeError, match="actions must be a dict mapping each agent to its action"):
            env.step(bad)


@pytest.mark.parametrize("env_id", DISCRETE_IDS + CONTINUOUS_IDS)
def test_step_before_reset_says_call_reset_first(env_id):
    env = lola_zoo.make(env_id)
    with pytest.raises(RuntimeError, match=r"step\(\) called before reset\(\); call reset\(\) first"):
        env.step({agent: 0 for agent in env.possible_agents})
    env.reset(seed=0)
    while env.agents:
        env.step({agent: env.action_space(agent).sample() for agent in env.agents})
    with pytest.raises(RuntimeError, match="after the episode ended"):
        env.step({agent: 0 for agent in env.possible_agents})


@pytest.mark.parametrize("env_id", ["coin-game", "in-the-matrix"])
def test_an_episode_started_by_set_game_state_ends_with_the_episode_ended_message(env_id):
    env = lola_zoo.make(env_id, max_steps=3)
    env.reset(seed=0)
    state = env.game_state()
    fresh = lola_zoo.make(env_id, max_steps=3)
    fresh.set_game_state(state)
    while fresh.agents:
        fresh.step({agent: 0 for agent in fresh.agents})
    with pytest.raises(RuntimeError, match="after the episode ended"):
        fresh.step({agent: 0 for agent in fresh.possible_agents})


# ------------------------------------------------------------------ 3. one env, one thread
@pytest.mark.parametrize("env_id", ["ipd", "coin-game"])
def test_stepping_one_env_from_two_threads_is_refused(env_id):
    env = lola_zoo.make(env_id, max_steps=100)
    env.reset(seed=0)
    inside, release = threading.Event(), threading.Event()
    original = env._observation if env_id == "coin-game" else None

    def slow_step_part(*args):
        inside.set()
        release.wait(5)
        return original(*args) if original is not None else None

    # Hold thread A inside step(): stub a helper step() calls, on this instance only.
    if env_id == "coin-game":
        env._observation = slow_step_part
    else:
        checked = env._checked_joint_action
        env._checked_joint_action = lambda actions: (slow_step_part(), checked(actions))[1]
    actions = {agent: 0 for agent in env.possible_agents}
    worker = threading.Thread(target=env.step, args=(actions,))
    worker.start()
    assert inside.wait(5)
    try:
        with pytest.raises(RuntimeError, match="not thread-safe: use one env per thread"):
            env.step(actions)
        with pytest.raises(RuntimeError, match="not thread-safe"):
            env.reset()
    finally:
        release.set()
        worker.join(5)
    env.step(actions)  # the lock was released: the same thread may go on


def test_free_running_threads_no_longer_produce_duplicate_rounds():
    env = lola_zoo.make("ipd", max_steps=10**6)
    env.reset(seed=0)
    rounds: list[int] = []
    refused = []

    def run():
        for _ in range(3000):
            try:
                rounds.append(env.step({"player_0": 0, "player_1": 1})[4]["player_0"]["round"])
            except RuntimeError as exc:
                refused.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(rounds) == len(set(rounds))  # every completed step has its own round number
    assert all("thread-safe" in str(e) for e in refused)


class _Logged(IteratedMatrixGame):
    """A subclass whose step calls the (guarded) step of its parent."""

    def step(self, actions):
        return super().step(actions)


def test_a_subclass_calling_super_step_is_not_refused_and_envs_still_pickle():
    env = _Logged("ipd", max_steps=3)
    env.reset(seed=0)
    env.step({"player_0": 0, "player_1": 0})
    copy = pickle.loads(pickle.dumps(env))
    assert copy._in_use is not env._in_use
    assert copy.step({"player_0": 1, "player_1": 0})[4]["player_0"]["round"] == 2


# ------------------------------------------------------------------ 5. AEC observations are arrays
@pytest.mark.parametrize("env_id", MATRIX_IDS)
def test_aec_observations_are_numpy_arrays_in_the_observation_space(env_id):
    env = lola_zoo.make(env_id, api="aec")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pzt.api_test(env, num_cycles=20)
    assert not [w for w in caught if "not a NumPy array" in str(w.message)]
    env.reset(seed=0)
    for agent in env.agent_iter(max_iter=2 * len(env.possible_agents)):
        obs, *_ = env.last()
        assert isinstance(obs, np.ndarray) and obs.shape == () and obs.dtype == np.int64
        assert env.observation_space(agent).contains(obs)
        env.step(env.action_space(agent).sample())
    # The parallel API keeps its hashable np.int64 states.
    parallel = lola_zoo.make(env_id)
    observations, _ = parallel.reset(seed=0)
    assert all(type(o) is np.int64 for o in observations.values())


def test_pettingzoo_module_constructors_observe_arrays_too():
    from lola_zoo.envs import iterated

    for build in (iterated.env, iterated.raw_env):
        env = build(game="ipd", max_steps=2)
        env.reset(seed=0)
        assert isinstance(env.observe("player_0"), np.ndarray)


# ------------------------------------------------------------------ 6. the PettingZoo mirror
@pytest.mark.parametrize("env_id", sorted(lola_zoo.registered()))
def test_every_registered_id_is_mirrored_for_both_pettingzoo_apis(env_id):
    parallel = pettingzoo.make("parallel", f"lola_zoo/{env_id}-v0")
    aec = pettingzoo.make("aec", f"lola_zoo/{env_id}-v0")
    assert isinstance(parallel, pettingzoo.ParallelEnv) and isinstance(aec, pettingzoo.AECEnv)
    assert type(aec.unwrapped) is type(parallel)


def test_every_family_size_is_mirrored_before_its_first_lookup():
    # Sizes other than 3 and 4 register in lola-zoo on first use, but the mirror has them all from the start.
    env = pettingzoo.make("aec", "lola_zoo/public-goods-7-v0", max_cycles=2)
    assert len(env.possible_agents) == 7 and env.unwrapped.max_steps == 2
    assert "lola_zoo/ipd-10-v0" in pettingzoo.parallel_registry
    assert "lola_zoo/ipd-11-v0" not in pettingzoo.parallel_registry  # families stop at 10 players


def test_plugin_ids_are_mirrored_as_soon_as_lola_zoo_is_imported(tmp_path):
    import subprocess
    import sys

    (tmp_path / "my_plugin.py").write_text(
        "from lola_zoo import register\n"
        "def register_all():\n"
        "    register('plugin-harmony-x', payoffs=[[4, 3], [2, 1]])\n"
    )
    dist = tmp_path / "my_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lola_zoo.dilemmas]\nharmony = my_plugin:register_all\n")
    code = (
        "import warnings; warnings.simplefilter('error')\n"
        "import lola_zoo, pettingzoo\n"
        "from lola_zoo import registry\n"
        "assert 'plugin-harmony-x' in registry._REGISTRY  # registered at import, before any lookup\n"
        "env = pettingzoo.make('aec', 'lola_zoo/plugin-harmony-x-v0')\n"
        "env.reset(seed=0)\n"
        "print(env.possible_agents)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "player_0" in proc.stdout


# ------------------------------------------------------------------ 8. docs code blocks stand alone
def _free_names(block: str) -> set[str]:
    """Names a code block reads at module level without defining or importing them itself."""
    tree = ast.parse(block)
    bound: set[str] = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - bound


SELF_CONTAINED_PAGES = ["integrations/sb3-supersuit.md", "integrations/single-agent-view.md", "integrations/axelrod.md"]


@pytest.mark.parametrize("page", SELF_CONTAINED_PAGES)
def test_each_docs_code_block_runs_on_its_own(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for k, block in enumerate(blocks):
        assert _free_names(block) == set(), f"{page} block {k + 1} needs names from an earlier block"


@pytest.mark.parametrize("page", ["integrations/sb3-supersuit.md", "integrations/single-agent-view.md"])
def test_torch_training_blocks_use_one_thread(page):
    # On a busy 2-core machine one block took 16.7 s with torch's default threads and 0.3 s with one.
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        if re.search(r"\b(PPO|A2C|DQN|make_sb3_agent)\b", block):
            assert "torch.set_num_threads(1)" in block, block[:200]
