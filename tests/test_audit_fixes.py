"""Fixes from re-running issue 15's audit (scripts/audit_inputs.py): each bad input is refused, naming the value or flag."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import EXACT, SWEEP, TOURN, TRAIN, error_line

import lola_zoo
from lola_zoo.cli import main
from lola_zoo.experiments import sweep as sw


@pytest.mark.parametrize("argv, message", [
    # exact: a learner's option with no such learner playing, conflicting and malformed grid flags
    ([*EXACT, "--sos-a", "0.3"], "--sos-a applies to sos learners"),
    ([*EXACT, "--order", "3"], "--order applies to hola learners"),
    ([*EXACT, "--pola-prox", "2"], "--pola-prox applies to pola learners"),
    ([*EXACT, "--cola-steps", "5"], "--cola-steps applies to cola learners"),
    ([*EXACT, "--hidden", "4"], "--hidden sizes the mlp policy"),
    ([*EXACT, "--grid-lr", "1,,2"], "--grid-lr '1,,2' has an empty item"),
    ([*EXACT, "--grid-gamma", "0.5,,0.9"], "--grid-gamma '0.5,,0.9' has an empty item"),
    ([*EXACT, "--grid-lr", "1,1"], "--grid-lr '1,1' repeats 1"),
    ([*EXACT, "--grid-gamma", "0.5,0.9", "--gamma", "0.9"], "give --gamma or --grid-gamma, not both"),
    ([*EXACT, "--grid-lr", "0.5,1", "--lr", "2"], "give --lr or --grid-lr, not both"),
    # --out '' used to fall back to the default folder under runs/
    ([*EXACT, "--out", ""], "argument --out: must name a folder"),
    ([*TRAIN, "--out", ""], "argument --out: must name a folder"),
    ([*SWEEP, "--out", ""], "argument --out: must name a folder"),
    ([*TOURN, "--out", ""], "argument --out: must name a folder"),
    (["reproduce", "--only", "ipd-exact", "--out", ""], "argument --out: must name a folder"),
    # reproduce: flags that would change nothing
    (["reproduce", "--list", "--only", "nosuch"], "--list lists every section"),
    (["reproduce", "--only", "ipd-exact", "--policy", "gru", "--quick", "--no-progress"], "--policy gru applies to the Coin Game"),
    # train
    ([*TRAIN, "--env-kwarg", "max_steps=3", "--env-kwarg", "max_steps=4"], "--env-kwarg max_steps is given twice"),
    ([*TRAIN, "--env-kwarg", "max_steps=0"], "set the episode length with episode_length"),
    ([*TRAIN, "--game", "coin-game", "--env-kwarg", "grid_size=x"], "grid_size must be an integer >= 2, got 'x'"),
    ([*TRAIN, "--agents", "axelrod:TitForTat", "lola-om", "--game", "rps"], "'rock paper scissors' has actions (3, 3)"),
    ([*TRAIN, "--agents", "axelrod:TitForTat", "lola-om", "--game", "coin-game"], "not 'coin-game'"),
    ([*TRAIN, "--agents", "axelrod:NoSuchStrategy", "lola-om"], "unknown axelrod strategy 'nosuchstrategy'"),
    # sweep: spec mistakes and a parameter every cell gets wrong are one error before any cell runs
    ([*SWEEP, "--grid", "gamma=0.5", "--grid", "gamma=0.9"], "--grid gamma=... is given twice"),
    ([*SWEEP, "--grid", "gamma=0.5,0.5"], "grid axis 'gamma' repeats 0.5"),
    ([*SWEEP, "--param", "gamma=0.5", "--grid", "gamma=0.6,0.7"], "'gamma' is both a fixed param and a grid axis"),
    ([*SWEEP, "--ray-address", "127.0.0.1:1"], "--ray-address 127.0.0.1:1 is for --backend ray"),
    ([*SWEEP, "--grid", "gamma=0.5,2"], 'exact-value (cell {"gamma": 2}): exact-value: gamma must be a number in (0, 1), got 2'),
    ([*SWEEP, "--param", "nosuch=1"], "unknown parameter(s) ['nosuch']"),
    ([*SWEEP, "--param", "logit_std=-1"], "logit_std must be a finite number >= 0, got -1"),
    (["sweep", "--kind", "exact", "--param", 'learners=["foo"]', "--workers", "0", "--no-progress"], "unknown learner 'foo'"),
    (["sweep", "--kind", "exact", "--grid", "lr=NaN,1", "--param", "steps=1", "--workers", "0", "--no-progress"],
     'exact (cell {"lr": NaN}): '),
    (["sweep", "--kind", "train", "--param", 'agents=["foo","lola"]', "--workers", "0", "--no-progress"],
     "unknown agent kind 'foo'"),
    # tournament
    ([*TOURN, "--entrants", "TFT,,AllD"], "--entrants 'TFT,,AllD' has an empty name"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v))
def test_cli_input_the_audit_found_accepted_or_unclear_is_oneerror_line(tmp_path, capsys, argv, message):
    out = tmp_path / "out"
    argv = [*argv, "--out", str(out)] if "--out" not in argv and argv[0] != "report" else argv
    with pytest.raises(SystemExit) as exit_info:  # argparse exits; main() returns for the others
        raise SystemExit(main(argv))
    assert exit_info.value.code == 2
    assert message in error_line(capsys)
    assert not (out / "results.jsonl").exists() and not (out / "summary.json").exists()


def test_a_report_on_a_file_says_it_is_a_file(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x")
    assert main(["report", str(tmp_path / "a-file")]) == 2
    assert "is a file, not a folder" in error_line(capsys)


def test_an_axelrod_seat_gets_the_game_it_plays(monkeypatch):
    """engine.py passes game= to AxelrodAgent, so the agent itself refuses a non-2x2 game too."""
    pytest.importorskip("axelrod")
    from lola_zoo.agents import axelrod_adapter
    from lola_zoo.experiments.engine import TrainConfig, Trainer

    seen = []
    original = axelrod_adapter.AxelrodAgent.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("game"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(axelrod_adapter.AxelrodAgent, "__init__", spy)
    Trainer(TrainConfig(agents=("axelrod:TitForTat", "lola-om"), runs=1, updates=1, episodes_per_batch=2,
                        episode_length=3, device="cpu"))
    assert seen == ["ipd"]


# ------------------------------------------------------------------ the API
@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), ("a", TypeError), (True, TypeError),
                                         ([1], TypeError)])
@pytest.mark.parametrize("game", ["ipd", "coin-game"])
def test_reset_refuses_a_bad_seed_with_a_standard_error_naming_it(game, seed, error):
    with pytest.raises(error, match="seed must be a non-negative integer or None"):
        lola_zoo.make(game).reset(seed=seed)
    lola_zoo.make(game).reset(seed=np.int64(3))  # NumPy integers are seeds


def test_aec_step_refuses_a_bad_action_at_once():
    env = lola_zoo.make("ipd", api="aec")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 7 for player_0"):
        env.step(7)
    env.step(0)
    env.step(1)  # still usable
    assert env.rewards == {"player_0": -3.0, "player_1": 0.0}


def test_matrix_game_checks_players_joint_actions_and_names():
    ipd = lola_zoo.game("ipd")
    for call in (lambda: ipd.payoff(5, (0, 0)), lambda: ipd.perspective(9), lambda: ipd.state_labels(-1)):
        with pytest.raises(ValueError, match="player must be a seat index in 0..1"):
            call()
    for joint in ((0, 7), (0,), "ab"):
        with pytest.raises(ValueError, match="joint_action must be 2 action indices"):
            ipd.payoff(0, joint)
    assert ipd.payoff(0, (np.int64(1), 0)) == ipd.payoff(0, (1, 0))
    with pytest.raises(TypeError, match="name must be a string, got int 3"):
        lola_zoo.MatrixGame(3, np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="description must be a string"):
        lola_zoo.MatrixGame("x", np.zeros((2, 2, 2)), description=3)
    with pytest.raises(TypeError, match="action_names must be one sequence of names per player"):
        lola_zoo.MatrixGame("x", np.zeros((2, 2, 2)), action_names="ab")
    with pytest.raises(TypeError, match="description must be a string"):
        lola_zoo.register("audit-test-id", payoffs=[[3, 0], [5, 1]], description=3)
    assert "audit-test-id" not in lola_zoo.registered()


def test_exact_value_names_a_bad_game_or_gamma():
    from lola_zoo.envs.exact import exact_value

    p = torch.zeros(1, 5)
    with pytest.raises(TypeError, match="game must be a MatrixGame"):
        exact_value("ipd", [p, p], 0.9)
    for gamma, error in (("0.9", TypeError), (None, TypeError), (True, TypeError), (torch.tensor([0.5, 0.9]), ValueError)):
        with pytest.raises(error, match="gamma must"):
            exact_value(lola_zoo.game("ipd"), [p, p], gamma)
    assert exact_value(lola_zoo.game("ipd"), [p, p], torch.tensor(0.9)).shape == (1, 2)


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": float("nan")}, "lr must be a positive finite number"),
    ({"gamma": 1.0}, "gamma must lie in"),
    ({"eta": -1.0}, "eta must be a finite number >= 0"),
    ({"init_std": -1.0}, "init_std must be a finite number >= 0"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"episodes_per_update": 0}, "episodes_per_update must be a positive integer, got 0"),
    ({"device": "tpu"}, "tpu"),
])
def test_make_pg_agent_refuses_bad_numbers_by_name(kwargs, match):
    from lola_zoo.agents.in_loop import make_pg_agent

    with pytest.raises(ValueError, match=match):
        make_pg_agent("lola", "ipd", "player_0", **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"game": "rps", "agents": ("axelrod:TitForTat", "lola")}, "'rock paper scissors' has actions"),
    ({"game": "coin-game", "agents": ("axelrod:TitForTat", "lola")}, "not 'coin-game'"),
    ({"baseline": "no"}, "baseline must be True or False"),
    ({"env_kwargs": {"max_steps": 0}}, "episode_length"),
    ({"env_kwargs": {"nosuch": 1}}, "nosuch"),
    ({"policy_kwargs": {"channels": 3}}, "the memory-1 table takes none"),
    ({"lr": "x"}, "lr must be a number, got str 'x'"),
    ({"seed": "x"}, "seed must be a number"),
])
def test_train_config_refuses_what_it_used_to_accept(kwargs, match):
    from lola_zoo.experiments.engine import TrainConfig

    if "axelrod" in str(kwargs):
        pytest.importorskip("axelrod")
    with pytest.raises((ValueError, TypeError, KeyError), match=match):
        TrainConfig(**kwargs)


def test_trainer_checks_its_arguments_up_front(tmp_path):
    from lola_zoo.experiments.engine import TrainConfig, Trainer

    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        Trainer({"game": "ipd"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"unknown logger\(s\) \['foo'\]"):
        Trainer(TrainConfig(), loggers=["foo"])
    trainer = Trainer(TrainConfig(updates=1, runs=1, episodes_per_batch=2, episode_length=2, device="cpu"))
    with pytest.raises(ValueError, match="stop_after must be a non-negative integer or None, got -1"):
        trainer.run(stop_after=-1)
    with pytest.raises(TypeError, match="takes a mapping"):
        TrainConfig.from_dict([1])  # type: ignore[arg-type]


@pytest.mark.parametrize("data, match", [
    ({"kind": "exact-value", "seeds": [-1]}, "seeds must be integers >= 0"),
    ({"kind": "exact-value", "seeds": {"count": 0}}, "count must be a positive integer"),
    ({"kind": "exact-value", "seeds": {"count": "x"}}, "count must be a positive integer, got 'x'"),
    ({"kind": "exact-value", "seeds": {"start": -1, "count": 2}}, "start must be an integer >= 0"),
    ({"kind": "exact-value", "seeds": {"count": 2, "stop": 3}}, "takes 'count' and optionally 'start'"),
    ({"kind": "exact-value", "params": [1]}, "params must map parameter names to values"),
    ({"kind": "exact-value", "name": {"a": 1}}, "name must be a non-empty string"),
    ({"kind": "exact-value", "grid": {"gamma": [0.5, 0.5]}}, "repeats 0.5"),
    ({"kind": "exact-value", "params": {"gamma": 0.5}, "grid": {"gamma": [0.6]}}, "both a fixed param and a grid axis"),
])
def test_spec_from_dict_refuses_what_it_used_to_accept(data, match):
    with pytest.raises(ValueError, match=match):
        sw.spec_from_dict(data)


def test_run_sweep_checks_its_arguments_and_every_cell_before_running(tmp_path):
    spec = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 2}})
    with pytest.raises(TypeError, match="spec must be a SweepSpec"):
        sw.run_sweep({"kind": "exact-value"}, tmp_path, workers=0, progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="workers must be a non-negative integer, got 'x'"):
        sw.run_sweep(spec, tmp_path, workers="x", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ray_address"):
        sw.run_sweep(spec, tmp_path, workers=0, progress=False, ray_address="127.0.0.1:1")
    bad = sw.spec_from_dict({"kind": "exact-value", "grid": {"logit_std": [1.0, -1.0]}, "seeds": 2})
    with pytest.raises(ValueError, match=r'\(cell \{"logit_std": -1.0\}\).*logit_std must be a finite number >= 0'):
        sw.run_sweep(bad, tmp_path, workers=0, progress=False)
    assert not (tmp_path / sw.RESULTS_JSONL).exists()  # nothing ran


def test_strategies_and_the_axelrod_adapter_name_the_bad_value():
    from lola_zoo.agents.strategies import Memory1Strategy

    with pytest.raises(ValueError, match=r"row 0 is \[2.0, -1.0\]"):
        Memory1Strategy([2.0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="found nan"):
        Memory1Strategy([float("nan")] * 5)
    with pytest.raises(ValueError, match=r"shape \(1, 2\); a memory-1 table has 1 \+ n_actions"):
        Memory1Strategy([0.5])
    pytest.importorskip("axelrod")
    from lola_zoo.agents import axelrod_adapter as ax

    with pytest.raises(TypeError, match="got int 3"):
        ax.AxelrodAgent(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="match_length must be positive or None, got 'x'"):
        ax.AxelrodAgent("TitForTat", match_length="x")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"got shape \(2, 2\) from \[0.5, 2.0\]"):
        ax.as_axelrod_player([0.5, 2.0])


def test_tournament_config_refuses_a_string_of_entrants_and_a_negative_seed():
    from lola_zoo.experiments.tournament import TournamentConfig

    with pytest.raises(TypeError, match="got the string 'TFT,AllD'"):
        TournamentConfig(entrants="TFT,AllD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        TournamentConfig(seed=-1)


def test_the_whole_audit_finds_no_traceback_no_silent_acceptance_and_no_unclear_message(tmp_path):
    """Issue 15's done-when: re-running the audit of 711 bad inputs (about 10 s) finds none of the three."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "audit_inputs.py"
    out = tmp_path / "audit.json"
    proc = subprocess.run([sys.executable, str(script), "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = json.loads(out.read_text())["counts"]
    assert counts["traceback"] == counts["silent"] == counts["unclear"] == 0, counts
    assert sum(counts.values()) >= 700  # the audit did run its cases
