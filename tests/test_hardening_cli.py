"""Hardening of the CLI and its files: bad input ends in one ``error:`` line and exit status 2, never a traceback or a silent default."""

from __future__ import annotations

import os
import stat
import sys

import pytest

from lola_zoo.io import atomic_torch_save, atomic_write_json, atomic_write_text, prepare_out_dir


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line a refused command printed (and nothing that looks like a traceback)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_atomic_writes_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    old = os.umask(0o022)
    try:
        paths = [atomic_write_text(tmp_path / "a.txt", "x"), atomic_write_json(tmp_path / "b.json", {"a": 1}),
                 atomic_torch_save(tmp_path / "c.pt", {"a": 1})]
        os.umask(0o027)
        paths.append(atomic_write_text(tmp_path / "d.txt", "x"))
    finally:
        os.umask(old)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in paths]
    assert modes == [0o644, 0o644, 0o644, 0o640]


def test_prepare_out_dir_refuses_a_file_and_a_read_only_folder(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="exists and is not a folder"):
        prepare_out_dir(tmp_path / "file")
    assert prepare_out_dir(tmp_path / "new" / "deep").is_dir()
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(ValueError, match="is not writable"):
                prepare_out_dir(ro)
        finally:
            ro.chmod(0o755)
