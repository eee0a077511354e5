"""Killing and resuming: no worker outlives a killed driver; a resumed sweep or tournament equals an uninterrupted one byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="process sessions and /proc: Linux")

# A cell that marks its start and then sleeps far longer than the test: only a kill ends it.
SLEEPY_KIND = """
import os, time

def run(config):
    open(os.path.join(os.environ["MARKS"], f"started-{config['seed']}"), "w").close()
    time.sleep(float(os.environ.get("SLEEPY_SECONDS", "600")))
    return {"slept": 1.0}
"""


def _session_processes(sid: int) -> list[str]:
    """Live (non-zombie) processes of session ``sid``, as 'pid state cmdline' lines."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            alive.append(f"{entry.name} {state} {cmd[:120]}")
    return alive


def _start_sleepy(tmp_path: Path, argv: list[str]) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "sleepy_kind.py").write_text(SLEEPY_KIND)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "MARKS": str(marks)}
    proc = subprocess.Popen([sys.executable, "-m", "lola_zoo.cli", *argv], env=env, start_new_session=True,
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
    left = _session_processes(sid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = _session_processes(sid)
    return left


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_sweep_leaves_no_worker_forkserver_or_tracker_behind(tmp_path, sig):
    argv = ["sweep", "--kind", "sleepy_kind:run", "--seeds", "4", "--workers", "2", "--out", str(tmp_path / "S"),
            "--no-progress"]
    proc, _ = _start_sleepy(tmp_path, argv)
    try:
        assert len(_session_processes(proc.pid)) >= 4  # driver, 2 workers, forkserver (+ resource tracker)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        left = _wait_session_empty(proc.pid, 8.0)
        assert not left, f"still running {8} s after {sig.name} of the driver:\n" + "\n".join(left)
        if sig == signal.SIGTERM:  # the graceful path: one line, the usual status, no traceback
            err = proc.stderr.read().decode()  # type: ignore[union-attr]
            assert proc.returncode == 128 + signal.SIGTERM, err
            assert "Traceback" not in err and "terminated" in err
    finally:
        for line in _session_processes(proc.pid):  # never leave sleepers behind, even on failure
            os.kill(int(line.split()[0]), signal.SIGKILL)


def test_killed_tournament_leaves_no_worker_behind(tmp_path):
    # Leagues long enough to be running when the kill comes; the pool is the sweep's, so is the fix.
    argv = ["tournament", "--entrants", "NL-Ex,LOLA-Ex,TFT", "--runs", "64", "--rounds", "100000", "--workers", "2",
            "--cells", "2", "--out", str(tmp_path / "T"), "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "lola_zoo.cli", *argv], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while len(_session_processes(proc.pid)) < 5:  # driver, tracker, forkserver, 2 workers
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
            assert time.monotonic() < deadline, _session_processes(proc.pid)
            time.sleep(0.05)
        time.sleep(1.0)  # let the workers get into their leagues
        proc.kill()
        proc.wait(timeout=30)
        left = _wait_session_empty(proc.pid, 8.0)
        assert not left, "still running 8 s after SIGKILL of the tournament:\n" + "\n".join(left)
    finally:
        for line in _session_processes(proc.pid):
            os.kill(int(line.split()[0]), signal.SIGKILL)
