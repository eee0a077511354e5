"""The policy-gradient rows of `lola-zoo reproduce`: they run, carry the paper's numbers and write curves."""

from __future__ import annotations

import json

from lola_zoo import paper


def test_pg_sections_are_registered_and_selected_by_tag() -> None:
    names = [s.name for s in paper.select_sections("pg")]
    assert names == ["ipd-pg", "imp-pg"]


def test_pg_rows_sit_beside_the_papers_numbers(tmp_path) -> None:
    summary = paper.reproduce(out_dir=tmp_path, only="imp-pg", quick=True, seeds=3, progress=False, echo=None)
    rows = {(r["setting"], r["metric"]): r for r in summary["rows"]}
    lola = rows[("LOLA-PG vs LOLA-PG", "nash")]
    assert lola["paper"] == 0.932 and lola["paper_text"].endswith("\u2020")  # secondary source, marked
    assert lola["paper_provenance"] == "secondary"
    assert 0.0 <= rows[("NL-PG vs NL-PG", "nash_distance")]["ours"] <= 0.5
    assert (tmp_path / "imp-pg-lola-curves.png").read_bytes()[:4] == b"\x89PNG"
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert set(on_disk["sections"]) == {"imp-pg"}
