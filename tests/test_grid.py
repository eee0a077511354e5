"""Hyperparameter grids on exact values: a cell is the single run, the axes parse, the CLI writes the heat-map."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lola_zoo.experiments.exact import ExactConfig, run_exact, summarize
from lola_zoo.experiments.grid import parse_axis, run_exact_grid


def test_every_cell_is_the_single_run_with_that_lr_and_eta() -> None:
    cfg = ExactConfig(learners=("lola", "nl"), seeds=12, steps=40)
    grid = run_exact_grid(cfg, (0.5, 1.0), (0.0, 1.5))
    assert grid.reward.shape == (2, 2, 1, 1, 2) and grid.tit_for_tat is not None
    for a, lr in enumerate(grid.lr):
        for b, eta in enumerate(grid.eta):
            single = summarize(run_exact(ExactConfig(learners=("lola", "nl"), seeds=12, steps=40, lr=lr, eta=eta)))
            rewards = [single["players"][f"player_{i}"]["reward_mean"] for i in range(2)]
            np.testing.assert_allclose(grid.reward[a, b, 0, 0], rewards, rtol=1e-10, atol=1e-12)
            assert grid.tit_for_tat[a, b, 0, 0] == pytest.approx(single["shares"]["tit_for_tat"])
    assert not np.allclose(grid.reward[0, 0], grid.reward[1, 1])  # the hyperparameters matter


def test_axes_parse_and_bad_axes_and_rules_are_named() -> None:
    assert parse_axis("0:1:3", "--grid-lr") == (0.0, 0.5, 1.0)
    assert parse_axis("0.1, 2", "--grid-eta") == (0.1, 2.0)
    for bad in ("a:b", "1:2:0", "", "-1,2", "nan", "1,,2", "1,"):
        with pytest.raises(ValueError, match="--grid-lr"):
            parse_axis(bad, "--grid-lr")
    with pytest.raises(ValueError, match=r"grids take the rules .*\['sos'\] need scalar rates"):
        run_exact_grid(ExactConfig(learners=("sos",), seeds=2, steps=1), (1.0,), (1.0,))


def test_cli_grid_writes_the_table_and_the_heat_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lola_zoo.cli import main

    out = tmp_path / "grid"
    assert main(["exact", "--learners", "lola", "--grid-lr", "0.5,1", "--grid-eta", "0:1:3", "--seeds", "4", "--steps",
                 "5", "--no-progress", "--out", str(out)]) == 0
    cells = json.loads((out / "grid.json").read_text())["cells"]
    assert len(cells) == 6 and {"lr", "eta", "reward_mean", "tit_for_tat"} <= set(cells[0])
    assert (out / "grid.csv").read_text().splitlines()[0].startswith("lr,eta,gamma,init_std,reward_mean")
    assert (out / "grid.png").read_bytes()[:4] == b"\x89PNG"
    assert "best cell" in capsys.readouterr().out
    assert main(["exact", "--learners", "lola", "--grid-lr", "x", "--out", str(tmp_path / "bad")]) == 2
    assert "--grid-lr must be a comma list" in capsys.readouterr().err


def test_gamma_and_init_std_axes_are_the_single_runs_too() -> None:
    cfg = ExactConfig(learners=("lola",), seeds=8, steps=30)
    grid = run_exact_grid(cfg, (1.0,), (1.0,), gamma=(0.9, 0.96), init_std=(0.5, 2.0))
    assert grid.reward.shape == (1, 1, 2, 2, 2)
    for c, gamma in enumerate(grid.gamma):
        for d, std in enumerate(grid.init_std):
            single = summarize(run_exact(ExactConfig(learners=("lola",), seeds=8, steps=30, gamma=gamma, init_std=std)))
            rewards = [single["players"][f"player_{i}"]["reward_mean"] for i in range(2)]
            np.testing.assert_allclose(grid.reward[0, 0, c, d], rewards, rtol=1e-9, atol=1e-12)
    assert len(grid.rows()) == 4 and {"gamma", "init_std"} <= set(grid.rows()[0])
    with pytest.raises(ValueError, match="gamma values must lie in"):
        run_exact_grid(cfg, (1.0,), (1.0,), gamma=(0.5, 1.0))
    with pytest.raises(ValueError, match="a discount per row needs a two-player 2x2 game"):
        run_exact_grid(ExactConfig(game="public-goods-3", learners=("lola",), seeds=2, steps=1), (1.0,), (1.0,),
                       gamma=(0.9, 0.96))
