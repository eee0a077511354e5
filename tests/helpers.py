"""Helpers several test files share: the one error line of a refused command, and the processes of a session."""

from __future__ import annotations

from pathlib import Path

import pytest

#: the smallest runs of each command, for tests of their input checks
EXACT = ["exact", "--seeds", "2", "--steps", "2", "--no-progress"]
TRAIN = ["train", "--updates", "1", "--runs", "1", "--episodes-per-batch", "2", "--episode-length", "3",
         "--no-progress", "--device", "cpu"]
SWEEP = ["sweep", "--kind", "exact-value", "--param", "n_pairs=2", "--seeds", "1", "--workers", "0", "--no-progress"]
TOURN = ["tournament", "--entrants", "TFT,AllD", "--runs", "2", "--rounds", "2", "--steps-per-round", "2",
         "--workers", "0", "--no-progress"]


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line a refused command printed (and nothing that looks like a traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


def session_processes(sid: int) -> list[str]:
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
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        state, session = fields[0], int(fields[3])
        if session == sid and state != "Z":
            alive.append(f"{entry.name} {state} {cmd[:120]}")
    return alive
