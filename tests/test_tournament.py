"""The round-robin tournament: protocol, outputs, resumability and the LOLA-on-top outcome."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import lola_zoo
from lola_zoo.cli import main
from lola_zoo.experiments.tournament import (
    DEFAULT_ENTRANTS,
    ENTRANTS,
    PAPER_ENTRANTS,
    PAPER_FIGURE4,
    MFOSEntrant,
    TournamentConfig,
    _seated_game,
    mfos_training_config,
    paper_preset_configs,
    play_league,
    play_match,
    run_tournament,
    save_tournament,
    trained_mfos,
)

#: M-FOS meta-agent training for tests: about 5 s on 2 cores.  Measured for training seeds 0-4: in a
#: 50-round IPD match it earns -0.67 to -1.49 per step against NL-Ex, whose self-play earns -1.97;
#: untrained (1 iteration) it earns -2.44, so the learning-outcome test below can fail.
MFOS_TEST_TRAINING = mfos_training_config(horizon=20, batch=64, iterations=40, hidden=32)
#: under a second: enough to play, not to learn
MFOS_TINY_TRAINING = mfos_training_config(horizon=4, batch=8, iterations=2, hidden=8)


def test_fixed_pairs_score_their_exact_value() -> None:
    # Two fixed strategies never learn: every round scores the same exact value.
    r = play_match(TournamentConfig(runs=3, rounds=4), "TFT", "AllD")
    assert np.allclose(r["row_runs"], (1 - 0.96) * (-3 - 0.96 * 2 / 0.04))
    assert np.allclose(r["col_runs"], (1 - 0.96) * (0 - 0.96 * 2 / 0.04))


def test_identical_seeds_give_identical_matches_and_other_seeds_differ() -> None:
    cfg = TournamentConfig(runs=4, rounds=20)
    a, b = play_match(cfg, "LOLA-Ex", "NL-Q", seed=1), play_match(cfg, "LOLA-Ex", "NL-Q", seed=1)
    assert a == b
    assert play_match(cfg, "LOLA-Ex", "NL-Q", seed=2)["row_runs"] != a["row_runs"]


def test_exact_lola_learns_to_cooperate_with_tft_and_defect_against_alld() -> None:
    cfg = TournamentConfig(runs=16, rounds=150)
    tft = play_match(cfg, "LOLA-Ex", "TFT")
    alld = play_match(cfg, "LOLA-Ex", "AllD")
    assert np.mean(tft["row_final_runs"]) > -1.1  # best response to TFT: cooperate (-1 per step)
    assert np.mean(alld["row_final_runs"]) < -1.9 and np.mean(alld["row_final_runs"]) > -2.1  # defect


def test_every_entrant_plays_a_short_match_against_tit_for_tat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MFOSEntrant, "training", MFOS_TINY_TRAINING)  # not the 30 s default training
    cfg = TournamentConfig(runs=2, rounds=3, steps_per_round=3, pg_episodes=4, pg_episode_length=5,
                           sb3_steps_per_round=16, sb3_episode_length=8)
    for name in ENTRANTS:
        r = play_match(cfg, name, "TFT")
        assert len(r["row_runs"]) == 2 and all(np.isfinite(r["row_runs"]))
        assert all(0.0 <= p <= 1.0 for p in r["final_policy_row"])


def test_ranking_and_matrix_aggregate_both_seats(tmp_path: Path) -> None:
    cfg = TournamentConfig(entrants=("LOLA-Ex", "NL-Ex", "AllD"), runs=8, rounds=60)
    result = run_tournament(cfg, tmp_path, workers=0, progress=False)
    assert result.names == ["LOLA-Ex", "NL-Ex", "AllD"]
    assert np.isfinite(result.matrix).all()
    # The column player's side of a match fills the transposed cell: AllD's row against LOLA-Ex.
    m = result.matches
    lola_vs_alld = next(x for x in m if {x["row"], x["col"]} == {"LOLA-Ex", "AllD"})
    side = "col" if lola_vs_alld["col"] == "AllD" else "row"
    assert result.matrix[2, 0] == pytest.approx(np.mean(lola_vs_alld[f"{side}_runs"]))
    means = {r["entrant"]: r["mean"] for r in result.ranking}
    assert means["LOLA-Ex"] == pytest.approx(np.mean(result.matrix[0]), abs=1e-9)
    assert [r["rank"] for r in result.ranking] == [1, 2, 3]
    paths = save_tournament(result, tmp_path)
    summary = json.loads(paths["summary_json"].read_text())
    assert summary["rows"] == result.names and len(summary["ranking"]) == 3
    assert paths["matrix_png"].read_bytes()[:4] == b"\x89PNG"
    assert paths["matrix_csv"].read_text().splitlines()[0] == "player,LOLA-Ex,NL-Ex,AllD"


def test_an_interrupted_tournament_resumes_without_replaying_leagues(tmp_path: Path) -> None:
    cfg = TournamentConfig(entrants=("LOLA-Ex", "NL-Ex", "TFT"), runs=4, rounds=20, cells=4)
    assert len(cfg.leagues()) == 4 and sorted(p for lg in cfg.leagues() for p in lg) == sorted(cfg.pairs())
    full = run_tournament(cfg, tmp_path / "full", workers=0, progress=False)
    # Simulate a kill after the first two leagues: keep two complete lines and a torn third.
    part = tmp_path / "part"
    part.mkdir()
    lines = (tmp_path / "full" / "results.jsonl").read_text().splitlines(keepends=True)
    (part / "results.jsonl").write_text("".join(lines[:2]) + lines[2][:40])
    resumed = run_tournament(cfg, part, workers=0, progress=False)
    assert np.array_equal(resumed.matrix, full.matrix)
    rows = [json.loads(x) for x in (part / "results.jsonl").read_text().splitlines()]
    assert len(rows) == len(cfg.leagues()) == len({r["cell_id"] for r in rows})
    assert sum(len(r["metrics"]["matches"]) for r in rows) == len(cfg.pairs())


def test_lola_ranks_at_the_top_of_the_papers_ipd_tournament(tmp_path: Path) -> None:
    # The reference tournament's entrants: exact LOLA and naive learners, Q-learning, JAL-Q.
    cfg = TournamentConfig(entrants=("LOLA-Ex", "NL-Ex", "NL-Q", "JAL-Q"), runs=16, rounds=150)
    result = run_tournament(cfg, tmp_path, workers=0, progress=False)
    assert result.ranking[0]["entrant"] == "LOLA-Ex", result.ranking


def test_against_fixed_mode_puts_learners_in_rows_and_strategies_in_columns(tmp_path: Path) -> None:
    cfg = TournamentConfig(entrants=("LOLA-Ex", "FP", "TFT", "AllD"), mode="against-fixed", runs=4, rounds=10)
    assert cfg.pairs() == [("LOLA-Ex", "TFT"), ("LOLA-Ex", "AllD"), ("FP", "TFT"), ("FP", "AllD")]
    result = run_tournament(cfg, tmp_path, workers=0, progress=False)
    assert result.names == ["LOLA-Ex", "FP"] and result.cols == ["TFT", "AllD"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"entrants": ("LOLA-Ex", "NOPE")}, "unknown entrant 'NOPE'"),
        ({"gamma": 1.0}, "gamma"),
        ({"runs": 0}, "runs"),
        ({"mode": "swiss"}, "mode"),
        ({"game": "ipdd"}, "ipd"),
        ({"lr": -1.0}, "lr"),
    ],
)
def test_bad_configs_fail_with_a_named_problem(kwargs: dict, match: str) -> None:
    with pytest.raises((ValueError, KeyError), match=match):
        TournamentConfig(**kwargs)


def test_cli_reports_bad_entrants_without_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tournament", "--entrants", "LOLA-Ex,Foo", "--out", "/tmp/never"]) == 2
    err = capsys.readouterr().err
    assert "unknown entrant 'Foo'" in err and "Traceback" not in err


def test_cli_runs_a_small_tournament(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tournament", "--entrants", "LOLA-Ex,TFT", "--runs", "2", "--rounds", "5", "--workers", "0",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "rank" in out and "LOLA-Ex" in out
    assert (tmp_path / "matrix.png").exists() and (tmp_path / "ranking.csv").exists()


def test_sb3_entrant_trains_against_the_opponents_current_policy() -> None:
    # PPO against AllD: after some training in the co-learning match it cooperates less than at start.
    cfg = TournamentConfig(runs=2, rounds=40, sb3_steps_per_round=64, sb3_episode_length=32)
    r = play_match(cfg, "PPO", "AllD", seed=3)
    early, late = np.mean(r["curve_row"][:5]), np.mean(r["curve_row"][-5:])
    assert late > early, (early, late)  # defecting more against AllD raises the reward toward -2 from -3



def test_phc_and_wolf_phc_are_registered_entrants_with_descriptions() -> None:
    for name in ("PHC", "WoLF-PHC"):
        cls, description = ENTRANTS[name]
        assert cls.online and "Bowling & Veloso" in description
    assert set(PAPER_ENTRANTS) == {"NL-Q", "JAL-Q", "PHC", "WoLF-PHC", "NL-Ex", "LOLA-Ex"}


def test_wolf_phc_learns_to_defect_against_alld_inside_a_match() -> None:
    # The reference rates (delta_win 1e-2, decaying) move slowly: 3,000 steps against AllD take the policy
    # from uniform toward D in the states AllD leads to (CD, DD), and leave the states it never
    # reaches (CC, DC) exactly uniform.  (The exact value barely moves yet: epsilon and decay.)
    r = play_match(TournamentConfig(runs=16, rounds=10, steps_per_round=300), "WoLF-PHC", "AllD")
    p_cooperate = r["final_policy_row"]  # mean over runs of P(C | state): start, CC, CD, DC, DD
    assert (p_cooperate[2] + p_cooperate[4]) / 2 < 0.47
    assert p_cooperate[1] == p_cooperate[3] == 0.5


def test_paper_preset_uses_the_reference_protocol_on_both_games() -> None:
    configs = paper_preset_configs()
    assert list(configs) == ["ipd", "imp"]
    assert (configs["ipd"].gamma, configs["imp"].gamma) == (0.96, 0.9)
    assert all(c.entrants == PAPER_ENTRANTS and (c.rounds, c.steps_per_round) == (50, 200) for c in configs.values())
    assert set(PAPER_FIGURE4["ipd"]) == set(PAPER_FIGURE4["imp"]) == set(PAPER_ENTRANTS)


def test_cli_paper_preset_prints_and_writes_ours_beside_figure_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["tournament", "--preset", "paper", "--runs", "2", "--rounds", "2", "--steps-per-round", "3",
                 "--workers", "0", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    out = capsys.readouterr().out
    assert "secondary source, read off Figure 4" in out and "WoLF-PHC" in out
    rows = json.loads((tmp_path / "paper_comparison.json").read_text())["rows"]
    assert {(r["game"], r["entrant"]) for r in rows} == {(g, e) for g in ("ipd", "imp") for e in PAPER_ENTRANTS}
    lola = next(r for r in rows if r["game"] == "ipd" and r["entrant"] == "LOLA-Ex")
    assert lola["paper"] == -1.1 and lola["paper_rank"] == 1
    assert (tmp_path / "paper_comparison.csv").read_text().startswith("game,entrant,ours_mean")
    assert (tmp_path / "ipd" / "ranking.csv").exists() and (tmp_path / "imp" / "ranking.csv").exists()


def test_cli_paper_preset_refuses_a_different_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tournament", "--preset", "paper", "--entrants", "LOLA-Ex,TFT", "--out", "/tmp/never"]) == 2
    assert "--preset paper fixes" in capsys.readouterr().err


def test_league_plays_every_pair_at_once_with_the_per_match_protocol(tmp_path: Path) -> None:
    cfg = TournamentConfig(entrants=("LOLA-Ex", "PHC", "TFT", "AllD"), runs=4, rounds=6, steps_per_round=5, cells=1)
    matches = play_league(cfg, cfg.pairs(), seed=0)
    assert [(m["row"], m["col"]) for m in matches] == cfg.pairs()
    fixed = next(m for m in matches if (m["row"], m["col"]) == ("TFT", "AllD"))
    assert fixed["row_runs"] == pytest.approx(play_match(cfg, "TFT", "AllD")["row_runs"])
    result = run_tournament(cfg, tmp_path, progress=False, workers=0)
    assert np.isfinite(result.matrix).all()
    # LOLA-Ex against AllD learns to defect in the league as in its own match.
    lola = next(m for m in matches if (m["row"], m["col"]) == ("LOLA-Ex", "AllD"))
    assert lola["curve_row"][-1] > lola["curve_row"][0]


def test_a_pair_plays_the_same_match_alone_or_in_a_league_of_passive_pairs() -> None:
    # Pairs without an online learner add no draws to the league's step loop, so PHC's match against
    # TFT is the same alone and beside fixed-strategy pairs (its generator is its own).
    cfg = TournamentConfig(entrants=("PHC", "TFT", "AllD"), runs=3, rounds=4, steps_per_round=6)
    alone = play_league(cfg, [("PHC", "TFT")], seed=5)[0]
    beside = play_league(cfg, [("PHC", "TFT"), ("TFT", "AllD")], seed=5)[0]
    # (equal up to the rounding of exact values computed in a batch of another size)
    assert alone["row_runs"] == pytest.approx(beside["row_runs"], rel=1e-12)
    assert alone["curve_col"] == pytest.approx(beside["curve_col"], rel=1e-12)


def test_the_league_samples_passive_players_from_their_policies() -> None:
    # A fixed Random seat facing an online learner: its actions come from the league's sampler, and
    # NL-Q's Q-table only moves if those actions and rewards reached it.
    cfg = TournamentConfig(entrants=("NL-Q", "AllC"), runs=64, rounds=3, steps_per_round=40)
    m = play_league(cfg, [("NL-Q", "AllC")], seed=1)[0]
    # Against AllC, defecting pays 0 and cooperating -1: NL-Q's value rises above the uniform start.
    assert m["curve_row"][-1] > -0.9


def test_default_leagues_split_the_pairs_evenly() -> None:
    cfg = TournamentConfig()
    leagues = cfg.leagues()
    assert len(leagues) == cfg.cells == 2
    assert abs(len(leagues[0]) - len(leagues[1])) <= 1
    assert sorted(p for lg in leagues for p in lg) == sorted(cfg.pairs())


@pytest.fixture
def small_mfos(monkeypatch: pytest.MonkeyPatch) -> None:
    """The M-FOS entrant trains :data:`MFOS_TEST_TRAINING` (once per process) instead of its default."""
    monkeypatch.setattr(MFOSEntrant, "training", MFOS_TEST_TRAINING)


def test_mfos_entrant_plays_in_either_seat_and_replays_identically(small_mfos: None) -> None:
    assert "M-FOS" in ENTRANTS and "M-FOS" not in DEFAULT_ENTRANTS  # opt-in: the default field stays fast
    cfg = TournamentConfig(runs=3, rounds=12)
    row, col = play_match(cfg, "M-FOS", "TFT"), play_match(cfg, "TFT", "M-FOS")
    # M-FOS plays its meta-agent's mean (deterministic), TFT is fixed and the IPD symmetric: the
    # seat-1 match mirrors the seat-0 one, so each seat saw the opponent in its own perspective.
    assert col["col_runs"] == pytest.approx(row["row_runs"], rel=1e-12)
    assert col["row_runs"] == pytest.approx(row["col_runs"], rel=1e-12)
    assert col["curve_col"] == pytest.approx(row["curve_row"], rel=1e-12)
    learner = play_match(cfg, "NL-Ex", "M-FOS", seed=4)
    assert learner == play_match(cfg, "NL-Ex", "M-FOS", seed=4)  # same seed, same match (resumable leagues)
    assert all(np.isfinite(learner["col_runs"])) and all(0.0 <= p <= 1.0 for p in learner["final_policy_col"])


def test_mfos_trains_a_second_meta_agent_only_for_seat_1_of_an_asymmetric_game() -> None:
    tiny = MFOS_TINY_TRAINING
    assert trained_mfos("ipd", 0.96, 1, tiny) is trained_mfos("ipd", 0.96, 0, tiny)
    assert trained_mfos("imp", 0.9, 1, tiny) is not trained_mfos("imp", 0.9, 0, tiny)
    # Matching pennies seen from seat 1: the mismatcher, moved to seat 0 where MetaGame trains.
    imp = lola_zoo.game("imp")
    assert np.array_equal(_seated_game(imp, 1).payoffs[0], [[-1.0, 1.0], [1.0, -1.0]])


def test_mfos_entrant_refuses_a_game_that_is_not_2x2(small_mfos: None) -> None:
    with pytest.raises(ValueError, match="M-FOS entrant needs a two-player 2x2 game; 'rps'"):
        play_match(TournamentConfig(game="rps", runs=2, rounds=2), "M-FOS", "NL-Ex")


def test_mfos_exploits_a_naive_learner_in_a_short_ipd_match(small_mfos: None) -> None:
    # Measured (training seed 0, match seeds 0-2): M-FOS earns -0.76 per step against NL-Ex, which earns
    # -1.57 against it and -1.97 against itself; the first margin holds for training seeds 0-4 too.
    cfg = TournamentConfig(runs=16, rounds=50)
    mfos = play_match(cfg, "M-FOS", "NL-Ex")
    naive = play_match(cfg, "NL-Ex", "NL-Ex")
    assert mfos["row_mean"] > naive["row_mean"] + 0.3, (mfos["row_mean"], naive["row_mean"])
    assert mfos["row_mean"] > mfos["col_mean"] + 0.3  # it shapes NL-Ex rather than merely cooperating
