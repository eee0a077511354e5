"""Killing and resuming: no worker outlives a killed driver; a resumed sweep or tournament equals an uninterrupted one byte for byte."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import session_processes

from lola_zoo.cli import main
from lola_zoo.experiments import sweep as sw

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process sessions and /proc: Linux")

# A cell that marks its start and then sleeps far longer than the test: only a kill ends it.
SLEEPY_KIND = """
import os, time

def run(config):
    open(os.path.join(os.environ["MARKS"], f"started-{config['seed']}"), "w").close()
    time.sleep(float(os.environ.get("SLEEPY_SECONDS", "600")))
    return {"slept": 1.0}
"""




# The CLI as a terminal starts it: a process started in the background by a non-interactive shell
# (nohup, `cmd &`, some CI runners) inherits SIGINT ignored, and Python then keeps ignoring it.
CLI_WITH_CTRL_C = [sys.executable, "-c", "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "sys.argv[0] = 'lola-zoo'; runpy.run_module('lola_zoo.cli', run_name='__main__')"]


def _start_sleepy(tmp_path: Path, argv: list[str]) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "sleepy_kind.py").write_text(SLEEPY_KIND)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MARKS": str(marks), "PYTHONFAULTHANDLER": "1"}
    proc = subprocess.Popen([*CLI_WITH_CTRL_C, *argv], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    while len(list(marks.iterdir())) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the workers never started: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    return proc, marks


def _wait_session_empty(sid: int, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    left = session_processes(sid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = session_processes(sid)
    return left


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_sweep_leaves_no_worker_forkserver_or_tracker_behind(tmp_path, sig):
    argv = ["sweep", "--kind", "sleepy_kind:run", "--seeds", "4", "--workers", "2", "--out", str(tmp_path / "S"),
            "--no-progress"]
    proc, _ = _start_sleepy(tmp_path, argv)
    try:
        assert len(session_processes(proc.pid)) >= 4  # driver, 2 workers, forkserver (+ resource tracker)
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # Ctrl-C in a terminal reaches the whole process group
        else:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # show where the driver is stuck: faulthandler dumps every thread
            proc.send_signal(signal.SIGABRT)
            proc.wait(timeout=10)
            pytest.fail(f"the driver did not exit 30 s after {sig.name}:\n" + proc.stderr.read().decode()[-6000:])  # type: ignore[union-attr]
        left = _wait_session_empty(proc.pid, 8.0)
        assert not left, f"still running {8} s after {sig.name} of the driver:\n" + "\n".join(left)
        if sig != signal.SIGKILL:  # the graceful paths: one line, the usual status, no traceback
            err = proc.stderr.read().decode()  # type: ignore[union-attr]
            assert proc.returncode == (128 + signal.SIGTERM if sig == signal.SIGTERM else 130), err
            assert "Traceback" not in err and ("terminated" in err or "interrupted" in err), err
    finally:
        for line in session_processes(proc.pid):  # never leave sleepers behind, even on failure
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_killed_tournament_leaves_no_worker_behind(tmp_path):
    # Leagues long enough to be running when the kill comes; the pool is the sweep's, so is the fix.
    argv = ["tournament", "--entrants", "NL-Ex,LOLA-Ex,TFT", "--runs", "64", "--rounds", "100000", "--workers", "2",
            "--cells", "2", "--out", str(tmp_path / "T"), "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "lola_zoo.cli", *argv], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while len(session_processes(proc.pid)) < 5:  # driver, tracker, forkserver, 2 workers
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, session_processes(proc.pid)
            time.sleep(0.05)
        time.sleep(1.0)  # let the workers get into their leagues
        proc.kill()
        proc.wait(timeout=30)
        left = _wait_session_empty(proc.pid, 8.0)
        assert not left, "still running 8 s after SIGKILL of the tournament:\n" + "\n".join(left)
    finally:
        for line in session_processes(proc.pid):
            os.kill(int(line.split()[0]), signal.SIGKILL)


SPEC = {"name": "t", "kind": "exact-value", "params": {"n_pairs": 8},
        "grid": {"game": ["ipd", "imp"], "gamma": [0.9, 0.96]}, "seeds": 3}


def test_resumed_sweep_csv_is_byte_identical_despite_duplicates_and_an_earlier_sweep(tmp_path):
    spec = sw.spec_from_dict(SPEC)
    sw.run_sweep(spec, tmp_path / "reference", workers=0, progress=False)
    out = tmp_path / "resumed"
    # An earlier, different sweep in the same folder: its rows must not become this sweep's rows.
    earlier = sw.run_sweep(sw.spec_from_dict({**SPEC, "params": {"n_pairs": 4}, "seeds": 1}), out, workers=0,
                           progress=False)
    # "Interrupted": the first seeds only; their rows are read back from results.jsonl on resume.
    sw.run_sweep(sw.spec_from_dict({**SPEC, "seeds": 2}), out, workers=0, progress=False)
    results = out / sw.RESULTS_JSONL
    lines = results.read_bytes().splitlines(keepends=True)
    results.write_bytes(b"".join(lines) + lines[-1] + lines[-1][:20])  # a copied line, then half a line
    resumed = sw.run_sweep(spec, out, workers=0, progress=False)
    assert (resumed.ran, resumed.skipped, resumed.other) == (4, 8, earlier.total)
    assert [r["cell_id"] for r in resumed.rows] == [c.id for c in sw.expand_cells(spec)]
    assert (out / sw.RESULTS_CSV).read_bytes() == (tmp_path / "reference" / sw.RESULTS_CSV).read_bytes()


def test_csv_columns_do_not_depend_on_the_order_of_config_keys(tmp_path):
    a = {"cell_id": "a", "kind": "k", "config": {"z": 1, "a": 2, "seed": 0}, "metrics": {"m": 1.5, "a": [1, 2]}}
    b = {"cell_id": "b", "kind": "k", "config": {"seed": 1, "a": 2, "z": 1}, "metrics": {"a": [1, 2], "m": 0.5}}
    sw.write_csv([a, b], tmp_path / "x.csv")
    sw.write_csv([b, a, b], tmp_path / "y.csv")
    text = (tmp_path / "x.csv").read_text()
    assert text == (tmp_path / "y.csv").read_text()
    assert text.splitlines()[0] == "cell_id,kind,a,seed,z,metric.a,m"
    assert len(text.splitlines()) == 3


TOURNAMENT = ["tournament", "--entrants", "NL-Ex,LOLA-Ex,TFT,AllD", "--runs", "4", "--rounds", "300", "--cells", "3",
              "--workers", "0", "--no-progress"]


def test_killed_tournament_resumes_to_the_same_files_byte_for_byte(tmp_path, capsys):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "lola_zoo.cli", *TOURNAMENT, "--out", str(out)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    results = out / sw.RESULTS_JSONL
    try:
        deadline = time.monotonic() + 120
        while not (results.exists() and results.read_bytes().count(b"\n") >= 1):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    done = len(sw.read_results(results))
    assert 1 <= done < 3, "the tournament must have been killed between leagues"
    assert main([*TOURNAMENT, "--out", str(out)]) == 0
    assert main([*TOURNAMENT, "--out", str(tmp_path / "reference")]) == 0
    capsys.readouterr()
    for name in ("results.csv", "matrix.csv", "ranking.csv", "summary.json"):
        assert (out / name).read_bytes() == (tmp_path / "reference" / name).read_bytes(), name
    assert json.loads((out / "summary.json").read_text())["matrix"]


def test_sigterm_of_train_writes_a_checkpoint_that_resumes_to_the_uninterrupted_run(tmp_path, capsys):
    argv = ["train", "--runs", "2", "--episodes-per-batch", "4", "--episode-length", "5", "--window", "5",
            "--no-progress", "--device", "cpu"]
    out = tmp_path / "terminated"
    proc = subprocess.Popen([sys.executable, "-m", "lola_zoo.cli", *argv, "--updates", "1000000", "--out", str(out)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while not (out / "checkpoint.pt").exists():  # the first periodic checkpoint: training is under way
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.terminate()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "continue with --resume" in err and "Traceback" not in err
    done = len(json.loads((out / "metrics.json").read_text())["history"])
    assert done >= 10
    total = str(done + 3)  # the resume finishes inside the last window of 5
    assert main([*argv, "--updates", total, "--out", str(out), "--resume"]) == 0
    assert main([*argv, "--updates", total, "--out", str(tmp_path / "straight")]) == 0
    capsys.readouterr()
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (tmp_path / "straight", out))
    assert b["history"] == a["history"] and b["summary"] == a["summary"]
