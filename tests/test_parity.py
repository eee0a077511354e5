"""The parity table: every claimed outcome of the default reproduce sections holds at a quick size."""

from __future__ import annotations

import pytest

from lola_zoo import paper
from lola_zoo.paper.parity import CLAIMS, Claim, check_claims, format_parity_markdown


def _row(section, setting, metric, ours, target="", passed=None):
    return {"section": section, "game": "ipd", "setting": setting, "metric": metric, "ours": ours, "ours_text": f"{ours}",
            "target": target, "passed": passed}


def test_claims_are_checked_by_range_by_the_rows_target_or_reported_as_not_run() -> None:
    claims = (Claim("s", "ipd", "A", "reward", -2.0, -1.8), Claim("s", "ipd", "B", "reward", relative=True),
              Claim("s", "ipd", "C", "reward", low=0.5))
    rows = [_row("s", "A", "reward", -1.5), _row("s", "B", "reward", -1.0, "> A", True)]
    status = {r["setting"]: r["status"] for r in check_claims(rows, claims)}
    assert status == {"A": "not reproduced", "B": "reproduced", "C": "not run"}
    text = format_parity_markdown(check_claims(rows, claims))
    assert "✗ not reproduced" in text and "| [-2, -1.8] |" in text and "– not run" in text


def test_every_claim_names_a_registered_section() -> None:
    names = {s.name for s in paper.SECTIONS}
    assert {c.section for c in CLAIMS} <= names


@pytest.mark.slow
def test_the_default_sections_reproduce_every_claimed_outcome_at_a_quick_size(tmp_path) -> None:
    summary = paper.reproduce(out_dir=tmp_path, quick=True, only="exact,pg", seeds=64, progress=False, echo=None,
                              device="cpu")
    run = {"ipd-exact", "imp-exact", "ipd-exploit", "ipd-pg", "imp-pg"}
    checked = [p for p in summary["parity"] if p["section"] in run]
    assert checked and all(p["status"] == "reproduced" for p in checked), [
        (p["setting"], p["metric"], p["ours_text"], p["expected"]) for p in checked if p["status"] != "reproduced"]
    assert (tmp_path / "parity.csv").read_text().startswith("section,game,setting,metric,expected,ours,status")


def test_the_tournament_section_is_opt_in_and_carries_figure_4_from_the_secondary_source() -> None:
    assert "tournament" not in [s.name for s in paper.select_sections(None)]  # minutes: --only / --full
    assert [s.name for s in paper.select_sections("figure4")] == ["tournament"]
    lola = paper.paper_number("ipd", "LOLA-Ex", "tournament_reward")
    assert lola is not None and lola.value == -1.1 and lola.verified == "secondary"
