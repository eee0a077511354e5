"""The documentation site: builds with --strict, generated pages are current, its code runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lola_zoo
from lola_zoo.envs.games import CANONICAL_GAMES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _python(code: str, tmp_path: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter: registering dilemmas must not leak into other tests."""
    env = dict(os.environ)
    if extra_path is not None:
        env["PYTHONPATH"] = f"{extra_path}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)


def _code_blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_docs_build_strict_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(site)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr, proc.stderr[-3000:]
    assert (site / "envs" / "ipd" / "index.html").is_file()
    assert (site / "img" / "ipd.png").is_file()
    assert not list(site.rglob("*.py")), "generator scripts must not be published as pages"


def test_cli_reference_is_generated_from_the_current_parser():
    proc = subprocess.run([sys.executable, str(DOCS / "gen_cli.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    from lola_zoo.cli import build_parser

    _, commands = build_parser()
    for name in commands:
        assert f"\n## {name}\n" in text


def test_nav_lists_every_page_that_exists():
    proc = subprocess.run([sys.executable, str(DOCS / "gen_nav.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _payoff_table(page: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Column names, row names and the (2, n, m) payoffs of the Markdown table on an env page."""
    lines = [ln for ln in page.read_text(encoding="utf-8").splitlines() if ln.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "player_0 \\ player_1"
    rows, cells = [], []
    for ln in lines[1:]:
        parts = [c.strip() for c in ln.strip("|").split("|")]
        if not parts[0].startswith("**"):
            continue
        rows.append(parts[0].strip("*"))
        cells.append([[float(x) for x in c.split(",")] for c in parts[1:]])
    return header[1:], rows, np.moveaxis(np.array(cells), -1, 0)


@pytest.mark.parametrize("game_id", sorted(CANONICAL_GAMES))
def test_env_page_payoff_table_and_picture_match_the_registered_game(game_id):
    page = DOCS / "envs" / f"{game_id}.md"
    assert page.is_file(), f"no page for {game_id}"
    game = lola_zoo.game(game_id)
    cols, rows, payoffs = _payoff_table(page)
    assert rows == list(game.action_names[0]) and cols == list(game.action_names[1])
    np.testing.assert_array_equal(payoffs, game.payoffs)
    text = page.read_text(encoding="utf-8")
    assert f"](../img/{game_id}.png)" in text and (DOCS / "img" / f"{game_id}.png").is_file()
    assert f'lola_zoo.make("{game_id}"' in text


@pytest.mark.parametrize("page", ["getting-started.md", "registering.md", "training.md"])
def test_python_examples_on_the_page_run(page, tmp_path):
    blocks = [b for b in _code_blocks(page, "python") if not b.startswith("# my_dilemmas.py")]
    assert blocks
    proc = _python("\n".join(blocks), tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_entry_point_example_registers_through_installed_metadata(tmp_path):
    """Install the page's plugin module the way pip would (a dist-info with entry_points.txt)."""
    module = next(b for b in _code_blocks("registering.md", "python") if b.startswith("# my_dilemmas.py"))
    (tmp_path / "my_dilemmas.py").write_text(module)
    toml = _code_blocks("registering.md", "toml")[0]
    assert '[project.entry-points."lola_zoo.dilemmas"]' in toml
    entries = re.findall(r'^([\w-]+) = "([\w.:]+)"$', toml, flags=re.M)
    assert len(entries) == 2
    dist = tmp_path / "my_dilemmas-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-dilemmas\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[lola_zoo.dilemmas]\n" + "".join(f"{name} = {value}\n" for name, value in entries))
    check = (
        "import lola_zoo\n"
        "ids = lola_zoo.registered()\n"
        "assert 'harmony' in ids and 'pure-coordination' in ids, sorted(ids)\n"
        "env = lola_zoo.make('harmony')\n"
        "env.reset(seed=0)\n"
        "_, rewards, *_ = env.step({'player_0': 1, 'player_1': 0})\n"
        "assert rewards == {'player_0': 2.0, 'player_1': 3.0}, rewards\n"
        "assert lola_zoo.game('pure-coordination').payoff(1, (1, 1)) == 1.0\n"
    )
    proc = _python(check, tmp_path, extra_path=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "failed to load" not in proc.stderr
