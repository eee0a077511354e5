"""The registry: make, register (payoffs or entry point), registered, plugins, and its errors."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pettingzoo
import pytest

import lola_zoo
from lola_zoo import registry
from lola_zoo.envs.games import MatrixGame
from lola_zoo.envs.iterated import IteratedMatrixGame


def test_canonical_dilemmas_are_registered_with_descriptions() -> None:
    entries = lola_zoo.registered()
    for env_id in ["ipd", "imp", "stag-hunt", "chicken", "battle-of-the-sexes", "rps"]:
        assert env_id in entries and entries[env_id]
    assert lola_zoo.game("rps").n_actions == (3, 3)


def test_make_returns_parallel_by_default_and_aec_on_request() -> None:
    assert isinstance(lola_zoo.make("ipd"), pettingzoo.ParallelEnv)
    assert isinstance(lola_zoo.make("ipd", api="aec"), pettingzoo.AECEnv)
    assert lola_zoo.make("ipd", max_steps=17).max_steps == 17
    with pytest.raises(ValueError, match="api must be"):
        lola_zoo.make("ipd", api="gym")


def test_ids_are_mirrored_into_pettingzoos_registry() -> None:
    env = pettingzoo.make("parallel", "lola_zoo/ipd-v0", max_steps=3)
    assert isinstance(env, IteratedMatrixGame) and env.max_steps == 3


def test_unknown_id_suggests_the_closest_ids() -> None:
    with pytest.raises(KeyError, match="unknown dilemma id 'ipdd'.*did you mean 'ipd'"):
        lola_zoo.make("ipdd")


def test_register_from_a_square_matrix_builds_a_symmetric_game() -> None:
    lola_zoo.register("test-sym", payoffs=[[3, 0], [5, 1]], action_names=["C", "D"], override=True)
    game = lola_zoo.game("test-sym")
    assert game.payoffs[1, 0, 1] == 5 and game.payoffs[0, 0, 1] == 0
    env = lola_zoo.make("test-sym")
    env.reset()
    _, r, *_ = env.step({"player_0": 1, "player_1": 0})
    assert r == {"player_0": 5.0, "player_1": 0.0}


def test_register_with_an_entry_point_and_default_kwargs() -> None:
    lola_zoo.register(
        "test-short-ipd",
        entry_point="lola_zoo.envs.iterated:IteratedMatrixGame",
        kwargs={"game": "ipd", "max_steps": 2},
        description="two-round IPD",
        override=True,
    )
    assert lola_zoo.make("test-short-ipd").max_steps == 2
    assert lola_zoo.make("test-short-ipd", max_steps=5).max_steps == 5
    assert lola_zoo.registered()["test-short-ipd"] == "two-round IPD"


def test_duplicate_id_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        lola_zoo.register("ipd", payoffs=[[1, 0], [0, 1]])


@pytest.mark.parametrize(
    "payoffs, match",
    [
        ([1.0, 2.0], "shape"),
        ([[1, 2, 3], [4, 5, 6]], "square"),
        (np.zeros((3, 2, 2)), "one action axis per player"),
        ([[1.0, np.nan], [0.0, 1.0]], "finite"),
        ([[1.0, np.inf], [0.0, 1.0]], "finite"),
    ],
)
def test_malformed_payoffs_fail_with_a_clear_value_error(payoffs: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        lola_zoo.register("test-bad", payoffs=payoffs)
    assert "test-bad" not in lola_zoo.registered()


def test_register_needs_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of payoffs= or entry_point="):
        lola_zoo.register("test-none")


def test_matrix_game_rejects_mismatched_action_names() -> None:
    with pytest.raises(ValueError, match="action_names"):
        MatrixGame("x", np.zeros((2, 2, 2)), (("a", "b", "c"), ("a", "b")))


def test_third_party_entry_point_plugin_registers_its_dilemma(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake installed distribution: a dist-info folder with an entry_points.txt on sys.path.
    (tmp_path / "my_dilemmas.py").write_text(
        textwrap.dedent(
            """
            import lola_zoo
            from lola_zoo.envs.games import symmetric_game

            SNOWDRIFT = symmetric_game([[2, 1], [3, 0]], "snowdrift", ["C", "D"], "plugin snowdrift")

            def register_all():
                lola_zoo.register("plugin-harmony", payoffs=[[4, 3], [2, 1]], description="plugin harmony")
            """
        )
    )
    dist = tmp_path / "my_dilemmas-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-dilemmas\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[lola_zoo.dilemmas]\nplugin-snowdrift = my_dilemmas:SNOWDRIFT\nharmony = my_dilemmas:register_all\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        added = registry.load_plugins(force=True)
        assert set(added) == {"plugin-snowdrift", "plugin-harmony"}
        assert lola_zoo.registered()["plugin-snowdrift"] == "plugin snowdrift"
        env = lola_zoo.make("plugin-harmony")
        env.reset()
        _, r, *_ = env.step({"player_0": 0, "player_1": 0})
        assert r["player_0"] == 4.0
    finally:
        for env_id in ("plugin-snowdrift", "plugin-harmony"):
            registry._REGISTRY.pop(env_id, None)
        sys.modules.pop("my_dilemmas", None)


def test_a_broken_plugin_warns_instead_of_breaking_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[lola_zoo.dilemmas]\nbroken = no_such_module_xyz:thing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(UserWarning, match="plugin 'broken'.*failed to load"):
        registry.load_plugins(force=True)


def test_importing_lola_zoo_and_making_an_env_does_not_import_torch() -> None:
    # The PettingZoo envs are a thin facade: users dropping them into a loop should not pay torch's import.
    import subprocess

    code = "import sys, lola_zoo; env = lola_zoo.make('ipd'); env.reset(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
