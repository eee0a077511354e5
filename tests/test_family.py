"""``reproduce --only family``: every rule of the LOLA family in self-play and against NL, one protocol."""

from __future__ import annotations

from pathlib import Path

from lola_zoo.paper import SectionContext
from lola_zoo.paper.family import FAMILY_RULES, family_section


def test_family_section_reports_every_rule_in_self_play_and_against_nl(tmp_path: Path) -> None:
    result = family_section(SectionContext(tmp_path, quick=True, progress=False, seeds=16))
    settings = {r["setting"] for r in result.rows}
    for _, label in FAMILY_RULES:
        assert f"{label} vs {label}" in settings
        if label != "NL":
            assert f"{label} vs NL" in settings
    assert "M-FOS vs NL" in settings
    for r in result.rows:
        assert r["game"] == "ipd" and isinstance(r["ours"], float)
        if r["metric"] in ("reward", "opponent_reward"):
            assert -3.0 <= r["ours"] <= 0.0  # IPD rewards per step lie in [-3, 0]
        if r["metric"] == "tit_for_tat":
            assert 0.0 <= r["ours"] <= 1.0
    nl = {r["metric"]: r["ours"] for r in result.rows if r["setting"] == "NL vs NL"}
    lola = {r["metric"]: r["ours"] for r in result.rows if r["setting"] == "LOLA vs LOLA"}
    assert lola["reward"] > nl["reward"] + 0.3  # even 30 updates separate shaping from naive learning
    assert result.summary["seeds"] == 16 and result.summary["cola_consistency_loss"] is not None
