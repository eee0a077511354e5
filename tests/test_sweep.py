"""Sweeps: cells and ids, resuming after a SIGKILL, failures, locking, backends agreeing, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lola_zoo.cli import main
from lola_zoo.experiments import sweep as sw

SPEC = {
    "name": "test",
    "kind": "exact-value",
    "params": {"n_pairs": 16},
    "grid": {"game": ["ipd", "imp", "stag-hunt"], "gamma": [0.9, 0.96]},
    "seeds": 3,
}

# A kind that sleeps before each cell when SLOW_KIND_SLEEP is set: the killed run is slow enough
# to be killed half-way, while its configs (hence cell ids and results) stay those of SPEC.
SLOW_KIND = """
import os, time
from lola_zoo.experiments.sweep import exact_value_cell

def run(config):
    time.sleep(float(os.environ.get("SLOW_KIND_SLEEP", "0")))
    return exact_value_cell(config)
"""


def _rows_without_timing(path: Path) -> list[dict]:
    rows = sw.read_results(path)
    for r in rows:
        r.pop("elapsed_s")
    return sorted(rows, key=lambda r: r["cell_id"])


def test_cells_are_grid_product_times_seeds_with_stable_distinct_ids():
    spec = sw.spec_from_dict(SPEC)
    cells = sw.expand_cells(spec)
    assert len(cells) == 3 * 2 * 3
    assert len({c.id for c in cells}) == len(cells)
    assert {c.config["seed"] for c in cells} == {0, 1, 2}
    assert all(c.config["n_pairs"] == 16 for c in cells)
    # Ids depend on the config only: same spec -> same ids; key order does not matter.
    reordered = sw.spec_from_dict({**SPEC, "grid": {"gamma": [0.9, 0.96], "game": ["ipd", "imp", "stag-hunt"]}})
    assert {c.id for c in sw.expand_cells(reordered)} == {c.id for c in cells}
    changed = sw.spec_from_dict({**SPEC, "params": {"n_pairs": 17}})
    assert not {c.id for c in sw.expand_cells(changed)} & {c.id for c in cells}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({**SPEC, "grid": {"seed": [1, 2]}}, "seed"),
        ({**SPEC, "grid": {"gamma": []}}, "empty"),
        ({**SPEC, "seeds": 0}, "positive"),
        ({**SPEC, "seeds": [1, 1]}, "distinct"),
        ({**SPEC, "colour": "red"}, "colour"),
        ({k: v for k, v in SPEC.items() if k != "kind"}, "kind"),
    ],
)
def test_bad_specs_fail_naming_the_problem(bad, message):
    with pytest.raises(ValueError, match=message):
        sw.spec_from_dict(bad)


def test_unknown_kind_fails_listing_the_registered_kinds():
    with pytest.raises(KeyError, match="exact-value"):
        sw.spec_from_dict({**SPEC, "kind": "exakt"})


def test_yaml_and_json_specs_give_the_same_cells(tmp_path):
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.json").write_text(json.dumps(SPEC))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SPEC))
    a = sw.expand_cells(sw.load_spec(tmp_path / "s.json"))
    b = sw.expand_cells(sw.load_spec(tmp_path / "s.yaml"))
    assert [c.id for c in a] == [c.id for c in b]


def test_exact_value_cell_is_a_function_of_its_config():
    a = sw.exact_value_cell({"game": "ipd", "n_pairs": 8, "seed": 3})
    b = sw.exact_value_cell({"game": "ipd", "n_pairs": 8, "seed": 3})
    c = sw.exact_value_cell({"game": "ipd", "n_pairs": 8, "seed": 4})
    assert a == b and a != c
    # Per-step IPD values lie between the worst (-3) and best (0) payoff.
    assert -3.0 <= a["value_0"] <= 0.0 and abs(a["welfare"] - a["value_0"] - a["value_1"]) < 1e-12


def test_killed_sweep_resumes_to_the_same_results_as_an_uninterrupted_run(tmp_path):
    (tmp_path / "slow_kind.py").write_text(SLOW_KIND)
    spec = {**SPEC, "kind": "slow_kind:run"}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "SLOW_KIND_SLEEP": "0.25"}
    cmd = [sys.executable, "-m", "lola_zoo.cli", "sweep", str(tmp_path / "spec.json"), "--out", str(out),
           "--workers", "2", "--no-progress"]
    # Own session: the kill reaches the driver and its pool workers at once, like a lost machine.
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    results = out / sw.RESULTS_JSONL
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if results.exists() and results.read_bytes().count(b"\n") >= 4:
                break
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done_before = len(sw.read_results(results))
    n_cells = len(sw.expand_cells(sw.spec_from_dict(spec)))
    assert 4 <= done_before < n_cells, "the sweep must have been killed half-way"
    # A kill during a write leaves half a line; resuming must drop it, not choke on it or keep it.
    with open(results, "ab") as fh:
        fh.write(b'{"cell_id": "0000000000000000", "kind": "slow_ki')

    resumed = subprocess.run(cmd, env={**env, "SLOW_KIND_SLEEP": "0"}, capture_output=True, text=True,
                             timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{n_cells - done_before} cell(s) run, {done_before} already done" in resumed.stdout

    reference = tmp_path / "reference"
    sys.path.insert(0, str(tmp_path))
    try:
        sw.run_sweep(sw.spec_from_dict(spec), reference, workers=0, progress=False)
    finally:
        sys.path.remove(str(tmp_path))
    ids = [r["cell_id"] for r in sw.read_results(results)]
    assert len(ids) == len(set(ids)) == n_cells  # no duplicated, no lost rows
    assert results.read_bytes().endswith(b"\n")
    assert _rows_without_timing(results) == _rows_without_timing(reference / sw.RESULTS_JSONL)
    assert (out / sw.RESULTS_CSV).read_bytes() == (reference / sw.RESULTS_CSV).read_bytes()


def test_process_pool_and_in_process_runs_write_identical_csv(tmp_path):
    spec = sw.spec_from_dict(SPEC)
    pooled = sw.run_sweep(spec, tmp_path / "pool", workers=2, progress=False)
    serial = sw.run_sweep(spec, tmp_path / "serial", workers=0, progress=False)
    assert pooled.ran == serial.ran == 18 and not pooled.failed
    assert (tmp_path / "pool" / sw.RESULTS_CSV).read_bytes() == (tmp_path / "serial" / sw.RESULTS_CSV).read_bytes()


def test_adding_seeds_runs_only_the_new_cells(tmp_path):
    first = sw.run_sweep(sw.spec_from_dict(SPEC), tmp_path, workers=0, progress=False)
    more = sw.run_sweep(sw.spec_from_dict({**SPEC, "seeds": 4}), tmp_path, workers=0, progress=False)
    again = sw.run_sweep(sw.spec_from_dict({**SPEC, "seeds": 4}), tmp_path, workers=0, progress=False)
    assert (first.ran, more.ran, more.skipped, again.ran) == (18, 6, 18, 0)
    assert len(sw.read_results(tmp_path / sw.RESULTS_JSONL)) == 24


def test_failed_cells_are_logged_not_recorded_and_retried_on_resume(tmp_path, monkeypatch):
    # Without the up-front check (a kind without one), the bad cells fail inside the run instead.
    monkeypatch.delitem(sw.CHECKS, "exact-value")
    spec = sw.spec_from_dict({"kind": "exact-value", "grid": {"n_pairs": [4, 0]}, "seeds": 2})
    result = sw.run_sweep(spec, tmp_path, workers=0, progress=False)
    assert result.ran == 2 and len(result.failed) == 2
    assert all("n_pairs must be a positive integer" in msg for _, msg in result.failed)
    rows = sw.read_results(tmp_path / sw.RESULTS_JSONL)
    assert {r["config"]["n_pairs"] for r in rows} == {4}
    assert len((tmp_path / sw.ERRORS_JSONL).read_text().splitlines()) == 2
    retry = sw.run_sweep(spec, tmp_path, workers=0, progress=False)
    assert (retry.ran, retry.skipped, len(retry.failed)) == (0, 2, 2)


def test_corrupt_line_before_the_end_is_an_error_not_silently_dropped(tmp_path):
    path = tmp_path / sw.RESULTS_JSONL
    path.write_text('{"cell_id": "a", "config": {}, "metrics": {}}\nnot json\n{"cell_id": "b"}\n')
    with pytest.raises(ValueError, match="line 2"):
        sw.read_results(path)


def test_a_second_driver_on_the_same_folder_is_refused(tmp_path):
    pytest.importorskip("fcntl")
    with sw._FolderLock(tmp_path):
        with pytest.raises(RuntimeError, match="another sweep"):
            sw.run_sweep(sw.spec_from_dict(SPEC), tmp_path, workers=0, progress=False)


def test_registered_kind_by_name_and_clash_detection(tmp_path):
    sw.register_kind("exact-value-alias", "lola_zoo.experiments.sweep:exact_value_cell")
    try:
        spec = sw.spec_from_dict({**SPEC, "kind": "exact-value-alias", "seeds": 1})
        result = sw.run_sweep(spec, tmp_path, workers=0, progress=False)
        assert result.ran == 6 and not result.failed
        with pytest.raises(ValueError, match="already registered"):
            sw.register_kind("exact-value-alias", "lola_zoo.experiments.sweep:exact_cell")
    finally:
        sw.KINDS.pop("exact-value-alias")


def test_cli_sweep_from_flags_then_resume_from_the_saved_spec(tmp_path, capsys):
    out = str(tmp_path / "cli")
    args = ["sweep", "--kind", "exact-value", "--grid", "game=ipd,imp", "--param", "n_pairs=8",
            "--seeds", "2", "--out", out, "--workers", "0", "--no-progress"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "4 cell(s) run, 0 already done" in first and "| game |" in first
    assert main(["sweep", "--out", out, "--workers", "0", "--no-progress"]) == 0
    assert "0 cell(s) run, 4 already done" in capsys.readouterr().out
    saved = json.loads((tmp_path / "cli" / sw.SPEC_JSON).read_text())
    assert saved["grid"] == {"game": ["ipd", "imp"]} and saved["params"] == {"n_pairs": 8}


def test_cli_bad_input_exits_2_with_one_error_line(tmp_path, capsys):
    assert main(["sweep", "--out", str(tmp_path), "--kind", "nope"]) == 2
    assert "unknown sweep kind 'nope'" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "missing.json"), "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["sweep", "--out", str(tmp_path / "empty")]) == 2
    assert "sweep.json" in capsys.readouterr().err


def test_exact_kind_cell_is_the_exact_experiment_with_seed_and_runs_mapped():
    exact = pytest.importorskip("lola_zoo.experiments.exact")
    config = {"game": "ipd", "learners": "lola,nl", "runs": 6, "steps": 15, "seed": 3}
    metrics = sw.exact_cell(config)
    summary = exact.summarize(exact.run_exact(exact.ExactConfig(
        game="ipd", learners=("lola", "nl"), seeds=6, steps=15, seed=3)))
    assert metrics["reward_0"] == summary["players"]["player_0"]["reward_mean"]
    assert metrics["reward_1"] == summary["players"]["player_1"]["reward_mean"]
    assert metrics["share_tit_for_tat"] == summary["shares"]["tit_for_tat"]
    assert metrics["policy_1.DD"] == summary["mean_final_policy"]["player_1"]["DD"]
    assert "seconds" not in metrics  # wall time would make identical cells differ
    with pytest.raises(ValueError, match="runs"):
        sw.exact_cell({**config, "seeds": 5})
    with pytest.raises(ValueError, match="unknown parameter"):
        sw.exact_cell({**config, "learning_rate": 1.0})


def test_exact_sweep_on_the_process_pool_matches_in_process(tmp_path):
    pytest.importorskip("lola_zoo.experiments.exact")
    spec = sw.spec_from_dict({"kind": "exact", "params": {"game": "imp", "runs": 4, "steps": 10},
                              "grid": {"learners": ["lola", "nl"]}, "seeds": 2})
    pooled = sw.run_sweep(spec, tmp_path / "pool", workers=2, progress=False)
    serial = sw.run_sweep(spec, tmp_path / "serial", workers=0, progress=False)
    assert pooled.ran == serial.ran == 4 and not pooled.failed and not serial.failed
    assert (tmp_path / "pool" / sw.RESULTS_CSV).read_bytes() == (tmp_path / "serial" / sw.RESULTS_CSV).read_bytes()
    assert all("share_nash" in r["metrics"] for r in pooled.rows)


BATCH_SPEC = {
    "kind": "exact",
    "params": {"runs": 6, "steps": 40},
    "grid": {"lr": [0.5, 1.0], "eta": [0.5, 1.5], "gamma": [0.9, 0.96], "learners": ["lola", "nl,lola", "sos"]},
    "seeds": 2,
}


def test_batched_exact_cells_write_the_same_csv_byte_for_byte(tmp_path):
    """Cells differing only in lr, eta, gamma, seed run as one batch per learner pair; the results do not change."""
    spec = sw.spec_from_dict(BATCH_SPEC)
    units = sw.group_cells("exact", sw.expand_cells(spec))
    sizes = sorted(len(u) for u in units)
    # lola and (nl, lola): one batch of 16 cells each; SOS's criterion takes η as a number: one batch per η
    assert sizes == [8, 8, 16, 16]
    batched = sw.run_sweep(spec, tmp_path / "batched", workers=0, progress=False)
    alone = sw.run_sweep(spec, tmp_path / "alone", workers=0, progress=False, batch=False)
    assert batched.ran == alone.ran == 48 and not batched.failed and not alone.failed
    assert (tmp_path / "batched" / sw.RESULTS_CSV).read_bytes() == (tmp_path / "alone" / sw.RESULTS_CSV).read_bytes()


def test_batched_sweep_resumed_with_other_groups_gives_the_same_csv(tmp_path):
    """A resume regroups the remaining cells; every row stays what it would have been."""
    spec = sw.spec_from_dict({**BATCH_SPEC, "grid": {**BATCH_SPEC["grid"], "learners": ["lola"]}})
    partial = sw.spec_from_dict({**BATCH_SPEC, "grid": {**BATCH_SPEC["grid"], "learners": ["lola"], "eta": [1.5]},
                                 "seeds": [1]})
    sw.run_sweep(partial, tmp_path / "resumed", workers=0, progress=False)
    resumed = sw.run_sweep(spec, tmp_path / "resumed", workers=2, progress=False)
    fresh = sw.run_sweep(spec, tmp_path / "fresh", workers=0, progress=False)
    assert resumed.skipped == 4 and resumed.ran == 12 and fresh.ran == 16
    assert (tmp_path / "resumed" / sw.RESULTS_CSV).read_bytes() == (tmp_path / "fresh" / sw.RESULTS_CSV).read_bytes()


def test_batches_respect_the_row_cap_and_keep_unbatchable_cells_alone():
    """No batch holds more runs than asked; other games, HOLA and MLP policies run one cell at a time."""
    from lola_zoo.experiments.grid import batch_exact_cells, exact_cells_key

    configs = [{"learners": "lola", "lr": lr, "runs": 30, "seed": 0} for lr in (0.1, 0.2, 0.3, 0.4, 0.5)]
    groups = batch_exact_cells(configs, max_rows=70)
    assert sorted(map(len, groups)) == [1, 2, 2] and sorted(i for g in groups for i in g) == list(range(5))
    assert sorted(map(len, batch_exact_cells(configs[:4], parts=2))) == [2, 2]  # one batch per worker
    assert exact_cells_key({"learners": "lola", "game": "rps"}) is None
    assert exact_cells_key({"learners": "hola"}) is None
    assert exact_cells_key({"learners": "lola", "policy": "mlp"}) is None
    assert exact_cells_key({"learners": "lola", "lr": 1}) == exact_cells_key({"learners": "lola", "lr": 2, "seed": 4})
    assert exact_cells_key({"learners": "lola", "steps": 10}) != exact_cells_key({"learners": "lola", "steps": 20})


def test_a_batch_reports_a_failing_cell_without_losing_the_others(tmp_path):
    """A cell whose values become non-finite fails alone (logged, retried on resume); its batch-mates are recorded."""
    # in float32, gamma = 0.99999999 rounds to 1: the chain's discounted sum diverges
    spec = sw.spec_from_dict({"kind": "exact", "params": {"runs": 4, "steps": 30, "dtype": "float32"},
                              "grid": {"learners": ["lola"], "gamma": [0.9, 0.99999999]}, "seeds": 1})
    result = sw.run_sweep(spec, tmp_path / "s", workers=0, progress=False)
    assert result.ran == 1 and len(result.failed) == 1 and "non-finite" in result.failed[0][1]
