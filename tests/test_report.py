"""Reports: confidence intervals are right, any run folder becomes Markdown/HTML with its tables and plots."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lola_zoo.cli import main
from lola_zoo.experiments import report as rp
from lola_zoo.experiments import sweep as sw


def _write_sweep(folder, values_by_config):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "results.jsonl", "w") as fh:
        for config, values in values_by_config:
            for seed, v in enumerate(values):
                cfg = {**config, "seed": seed}
                fh.write(json.dumps({"cell_id": sw.cell_id("k", cfg), "kind": "k", "config": cfg,
                                     "metrics": {"score": v, "label": "text"}}) + "\n")


def test_t_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in list(range(1, 200)) + [500, 10_000]:
        assert rp.t_quantile_975(df) == pytest.approx(stats.t.ppf(0.975, df), abs=2e-3)


def test_ci95_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    samples = rng.normal(3.0, 2.0, size=(4000, 5))
    covered = 0
    for row in samples:
        mean, half = rp.mean_ci95(row.tolist())
        covered += abs(mean - 3.0) <= half
    assert 0.935 <= covered / len(samples) <= 0.965


def test_sweep_table_groups_by_config_and_reports_mean_and_ci(tmp_path):
    _write_sweep(tmp_path, [({"game": "ipd", "lr": 1}, [1.0, 2.0, 3.0]), ({"game": "imp", "lr": 1}, [5.0])])
    with open(tmp_path / "results.jsonl", "a") as fh:
        fh.write('{"cell_id": "cut-off", "config": {"game": "ipd"')  # a kill mid-write: not a row
    text = rp.write_report(tmp_path).read_text()
    half = 4.302653 / math.sqrt(3)  # t(0.975, 2) * s / sqrt(n) with s = 1
    assert f"| ipd | 3 | 2 ± {half:.4g} |" in text
    assert "| imp | 1 | 5 |" in text  # one seed: no interval
    assert "| lr |" not in text  # a key that never varies is not a column
    assert "label" not in text.split("| game |")[1].splitlines()[0]  # text metrics are not averaged


def test_generic_run_folder_report_has_json_csv_and_images(tmp_path):
    run = tmp_path / "run"
    (run / "plots").mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"players": {"player_0": {"reward_mean": -1.0312}},
                                                  "steps": 200, "curve": list(range(50)),
                                                  "rows": [{"setting": "LOLA", "ours": -1.06}]}))
    with open(run / "metrics.csv", "w") as fh:
        fh.write("step,reward\n" + "".join(f"{i},{-2 + i / 100}\n" for i in range(100)))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.plot([0, 1], [0, 1])
    plt.savefig(run / "plots" / "curve.png")
    plt.close("all")
    md = rp.write_report(run).read_text()
    assert "| `players.player_0.reward_mean` | -1.031 |" in md
    assert "[50 values]" in md
    assert "`metrics.csv` (100 rows):" in md and "… 90 rows …" in md and "| 99 | -1.01 |" in md
    assert "`summary.json` → `rows` (1 rows):" in md and "| LOLA | -1.06 |" in md
    assert "![curve](plots/curve.png)" in md and "## plots" in md
    html = rp.write_report(run, "html").read_text()
    assert '<img src="plots/curve.png"' in html and "<table>" in html and html.count("<h2>") == 2
    # Rebuilding does not report on the report itself.
    assert "report.md" not in rp.write_report(run).read_text()


def test_report_of_a_real_sweep_has_one_row_per_grid_point(tmp_path):
    spec = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 4},
                              "grid": {"game": ["ipd", "stag-hunt"], "gamma": [0.9, 0.96]}, "seeds": 3})
    sw.run_sweep(spec, tmp_path / "sweep", workers=0, progress=False)
    assert main(["report", str(tmp_path), "--format", "md"]) == 0
    text = (tmp_path / "report.md").read_text()
    rows = [ln for ln in text.splitlines() if ln.startswith("| ipd |") or ln.startswith("| stag-hunt |")]
    assert len(rows) == 4 and all("| 3 |" in r for r in rows)
    assert "12 of 12 cells finished, 3 seed(s)" in text and "## sweep" in text


@pytest.mark.parametrize("setup, error", [(None, "does not exist"), ("empty", "no results found")])
def test_report_bad_folders_exit_2_with_a_message(tmp_path, capsys, setup, error):
    target = tmp_path / "x"
    if setup == "empty":
        target.mkdir()
        (target / "notes.txt").write_text("nothing to report")
    assert main(["report", str(target)]) == 2
    assert error in capsys.readouterr().err


def test_report_shows_the_saved_specs_cells_and_notes_an_unfinished_line(tmp_path):
    earlier = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 2}, "grid": {"game": ["imp"]}, "seeds": 2})
    current = sw.spec_from_dict({"kind": "exact-value", "params": {"n_pairs": 2}, "grid": {"game": ["ipd"]}, "seeds": 3})
    sw.run_sweep(earlier, tmp_path, workers=0, progress=False)
    sw.run_sweep(current, tmp_path, workers=0, progress=False)  # sweep.json now holds `current`
    with open(tmp_path / sw.RESULTS_JSONL, "ab") as fh:
        fh.write(b'{"cell_id": "abc')  # a sweep killed mid-write
    text = rp.render_markdown(rp.build_report(tmp_path))
    assert "3 of 3 cells finished" in text and "2 row(s) of another sweep configuration" in text
    assert "last line of `results.jsonl` is incomplete" in text
    assert "| imp |" not in text and "| ipd |" in text
