"""``reproduce --only n-player``: NL and LOLA in 3-player public goods and the 3-player IPD, exact values."""

from __future__ import annotations

from pathlib import Path

from lola_zoo.paper import SectionContext
from lola_zoo.paper.n_player import n_player_section


def test_n_player_section_separates_lola_from_naive_learners(tmp_path: Path) -> None:
    result = n_player_section(SectionContext(tmp_path, quick=True, progress=False, seeds=32))
    games = {r["game"] for r in result.rows}
    assert games == {"public-goods-3", "ipd-3"}
    for game in games:
        checks = [r for r in result.rows if r["game"] == game and r["passed"] is not None]
        assert checks and all(r["passed"] for r in checks), checks
    pg = result.summary["games"]["public-goods-3"]
    assert pg["players"] == 3 and pg["LOLA"] > pg["NL"] + 0.3
