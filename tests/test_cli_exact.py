"""`lola-zoo exact` and `lola-zoo reproduce`: outputs on disk, and clear errors for bad input."""

from __future__ import annotations

import json

import pytest

from lola_zoo import paper
from lola_zoo.cli import main


def test_exact_writes_summary_and_plots_for_one_configured_experiment(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main([
        "exact", "--game", "ipd", "--learners", "lola", "nl", "--lr", "1", "--eta", "0.5", "--gamma", "0.9",
        "--seeds", "16", "--steps", "10", "--seed", "3", "--out", str(out), "--no-progress",
    ])
    assert rc == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["setting"] == "LOLA vs NL"
    assert summary["config"]["gamma"] == 0.9 and summary["config"]["eta"] == [0.5, 0.5]
    assert summary["config"]["seeds"] == 16 and summary["config"]["steps"] == 10
    assert set(summary["shares"]) >= {"tit_for_tat", "mutual_defection", "all_cooperate"}
    for name in ("ipd-exact-curves.png", "ipd-exact-policies.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "player_0 (lola): reward per step" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["exact", "--learners", "lola", "lolla"], "unknown learner 'lolla'"),
        (["exact", "--game", "prisoners"], "unknown dilemma id 'prisoners'"),
        (["exact", "--lr", "-1"], "lr must be >= 0"),
        (["exact", "--eta", "-0.5"], "eta must be >= 0"),
        (["exact", "--gamma", "1.5"], "gamma must lie in (0, 1)"),
        (["exact", "--gamma", "0"], "gamma must lie in (0, 1)"),
        (["exact", "--seeds", "0"], "seeds must be a positive integer"),
        (["reproduce", "--only", "no-such-section"], "unknown section 'no-such-section'"),
        (["reproduce", "--seeds", "0"], "seeds must be a positive integer"),
    ],
)
def test_bad_input_ends_with_one_error_line_and_no_traceback(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written into the repository on failure
    rc = main([*argv, "--no-progress"] if argv[0] == "exact" else argv)
    err = capsys.readouterr().err
    assert rc == 2
    assert f"lola-zoo {argv[0]}: error:" in err and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def test_reproduce_prints_the_table_and_writes_summary_table_and_plots(tmp_path, capsys):
    out = tmp_path / "rep"
    rc = main(["reproduce", "--quick", "--only", "exact", "--seeds", "24", "--out", str(out), "--no-progress"])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert f"writing to {out}" in stdout
    for setting in ("NL vs NL", "LOLA vs LOLA", "LOLA vs NL"):
        assert setting in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["sections"]) == {"ipd-exact", "imp-exact", "ipd-exploit"}
    table4 = {(r["setting"], r["metric"]): r for r in summary["rows"] if r["section"] == "ipd-exploit"}
    assert table4[("LOLA vs NL", "reward (LOLA)")]["paper"] == -1.28 and table4[("HOLA vs LOLA", "reward (HOLA)")]
    assert table4[("LOLA vs NL", "reward (NL)")]["paper_provenance"] == "secondary"
    metrics = {(r["game"], r["setting"], r["metric"]) for r in summary["rows"]}
    assert ("ipd", "LOLA vs LOLA", "tit_for_tat") in metrics and ("imp", "LOLA vs LOLA", "nash") in metrics
    lola = summary["sections"]["ipd-exact"]["LOLA vs LOLA"]
    assert lola["config"]["seeds"] == 24 and lola["config"]["steps"] == 200
    assert (out / "table.csv").read_text().startswith("section,game,setting,metric,ours,paper")
    assert len(summary["plots"]) == 4 and all((out / p.split("/")[-1]).is_file() for p in summary["plots"])


def test_sections_can_be_added_without_editing_the_driver(tmp_path):
    def extra(ctx: paper.SectionContext) -> paper.SectionResult:
        return paper.SectionResult(
            rows=[{"section": "extra", "game": "ipd", "setting": "X", "metric": "m", "ours": 1.0, "ours_text": "1",
                   "paper": None, "paper_text": "n/a", "target": "", "passed": None}],
            summary={"quick": ctx.quick},
        )

    section = paper.register_section(paper.Section("extra-test", "an added section", extra, ("extra",)))
    try:
        summary = paper.reproduce(out_dir=tmp_path, only="extra", progress=False, quick=True, echo=None)
        assert summary["sections"] == {"extra-test": {"quick": True}}
        assert [r["setting"] for r in summary["rows"]] == ["X"]
    finally:
        paper.SECTIONS.remove(section)


def test_paper_numbers_say_where_they_come_from():
    for number in (*paper.PAPER_NUMBERS, *paper.EXTRA_PAPER_NUMBERS):
        assert number.source and number.verified in paper.core.PROVENANCE and number.note
        is_reward = number.metric.startswith("reward") or number.metric in ("points_per_episode", "tournament_reward")
        assert number.value is None or is_reward or 0.0 <= number.value <= 1.0


def test_paper_number_provenance_is_checked_and_marked():
    with pytest.raises(ValueError, match="verified must be one of"):
        paper.PaperNumber("ipd", "X", "reward", -1.0, "src", "maybe")
    assert paper.PaperNumber("ipd", "X", "reward", -1.0, "src", False).verified == "recalled"
    assert paper.PaperNumber("ipd", "X", "reward", -1.0, "src", "secondary").mark == "\u2020"
