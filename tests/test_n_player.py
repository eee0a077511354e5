"""N-player dilemmas: public goods and the N-player IPD, their ids, their exact experiments."""

from __future__ import annotations

import numpy as np
import pytest

import lola_zoo
from lola_zoo.envs.games import CANONICAL_GAMES, n_player_prisoners_dilemma, public_goods_game
from lola_zoo.experiments.exact import ExactConfig, run_exact, summarize


def test_public_goods_payoffs_by_hand() -> None:
    g = public_goods_game(3, factor=2.4, cost=1.0)
    assert g.n_players == 3 and g.n_actions == (2, 2, 2) and g.n_states == 9
    # two contributors (players 0, 1): pot 2.4 * 2 / 3 = 1.6; contributors pay 1
    assert np.allclose(g.payoffs[:, 0, 0, 1], [0.6, 0.6, 1.6])
    assert np.allclose(g.payoffs[:, 0, 0, 0], 1.4) and np.allclose(g.payoffs[:, 1, 1, 1], 0.0)
    # a dilemma: switching to free-riding gains cost (1 - factor / N) whatever the others do
    assert np.allclose(g.payoffs[0, 1] - g.payoffs[0, 0], 1 - 2.4 / 3)
    assert np.allclose(public_goods_game(4).payoffs[:, 0, 0, 0, 0], 2.5 - 1)  # default factor (1 + N) / 2


def test_n_player_ipd_averages_the_pairwise_payoffs() -> None:
    assert np.array_equal(n_player_prisoners_dilemma(2).payoffs, CANONICAL_GAMES["ipd"].payoffs)
    g = n_player_prisoners_dilemma(3)
    assert np.allclose(g.payoffs[:, 1, 0, 0], [0.0, -2.0, -2.0])  # one defector among two cooperators
    assert np.allclose(g.payoffs[:, 1, 0, 1], [-1.0, -3.0, -1.0])


@pytest.mark.parametrize("call, match", [
    (lambda: public_goods_game(1), "number of players >= 2"),
    (lambda: public_goods_game(3, factor=0.0), "factor must be a finite number > 0"),
    (lambda: public_goods_game(3, factor=float("nan")), "factor must be a finite number > 0"),
    (lambda: public_goods_game(3, cost=-1.0), "cost must be a finite number > 0"),
    (lambda: n_player_prisoners_dilemma(True), "number of players >= 2"),
    (lambda: lola_zoo.make("public-goods-1"), "number of players >= 2"),
    (lambda: lola_zoo.make("ipd-12"), "at most 10 players"),
])
def test_bad_sizes_and_factors_get_one_clear_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_family_ids_resolve_for_any_size_and_take_the_factor() -> None:
    assert {"public-goods-3", "public-goods-4", "ipd-3", "ipd-4"} <= set(lola_zoo.registered())
    env = lola_zoo.make("public-goods-5")
    assert len(env.possible_agents) == 5
    env = lola_zoo.make("public-goods-3", factor=2.7, max_steps=2)
    env.reset(seed=0)
    _, rewards, *_ = env.step({a: 0 for a in env.possible_agents})
    assert rewards == pytest.approx({a: 1.7 for a in env.possible_agents})
    assert lola_zoo.game("public-goods-3", factor=2.7).payoffs[0, 0, 0, 0] == pytest.approx(1.7)
    with pytest.raises(TypeError, match="takes no keyword arguments"):
        lola_zoo.game("ipd", factor=2.0)


def test_exact_lola_sustains_contribution_where_nl_free_rides() -> None:
    """3-player public goods (factor 2: everyone contributing pays 1, nobody 0), 128 seeds."""
    nl = summarize(run_exact(ExactConfig(game="public-goods-3", learners=("nl",), seeds=128, steps=150)))
    lola = summarize(run_exact(ExactConfig(game="public-goods-3", learners=("lola",), seeds=128, steps=150)))
    nl_mean = np.mean([p["reward_mean"] for p in nl["players"].values()])
    lola_mean = np.mean([p["reward_mean"] for p in lola["players"].values()])
    assert len(lola["players"]) == 3
    assert nl_mean < 0.2, nl["players"]
    assert lola_mean > 0.6, lola["players"]


def test_n_player_lola_pg_averages_to_the_exact_n_player_lola_terms() -> None:
    """DiCE estimates (40 runs x 600 episodes) of the naive gradient and the summed LOLA correction match closed form."""
    import torch

    from lola_zoo.agents.exact_rules import Derivatives, lola_correction
    from lola_zoo.agents.exact_rules import naive_gradient as exact_naive
    from lola_zoo.agents.lola import lola_gradient_n_player
    from lola_zoo.agents.naive import params_of
    from lola_zoo.agents.policies import Memory1Policy
    from lola_zoo.envs.batched import BatchedIteratedGame, rollout
    from lola_zoo.envs.exact import exact_value

    game = lola_zoo.game("public-goods-3")
    gen = torch.Generator().manual_seed(3)
    thetas = [0.8 * torch.randn(game.n_states, generator=gen, dtype=torch.float64) for _ in range(3)]
    runs, gamma, eta = 40, 0.5, 1.0
    policies = [Memory1Policy(game.n_states, runs=runs, logits=t.expand(runs, -1), dtype=torch.float64) for t in thetas]
    episodes = rollout(BatchedIteratedGame(game, (runs, 600), 22, dtype=torch.float64), policies, gen)
    opponents = [(p, params_of(p)) for p in policies[1:]]
    naive, correction = lola_gradient_n_player(policies[0], params_of(policies[0]), opponents, episodes, 0, gamma, eta)
    d = Derivatives(lambda ps: exact_value(game, ps, gamma), [t[None] for t in thetas])
    exact = {"naive": exact_naive(d, 0)[0], "correction": lola_correction(d, 0, eta)[0]}
    for estimate, target in ((naive["logits"], exact["naive"]), (correction["logits"], exact["correction"])):
        se = estimate.std(0) / runs**0.5
        assert torch.all((estimate.mean(0) - target).abs() < 4.5 * se + 1e-4), (estimate.mean(0), target, se)
    assert exact["correction"].abs().max() > 10 * (correction["logits"].std(0) / runs**0.5).max()  # not trivially 0


def test_the_engine_trains_n_player_seats_and_refuses_the_two_player_kinds() -> None:
    from lola_zoo.experiments.engine import TrainConfig, Trainer

    result = Trainer(TrainConfig(game="public-goods-3", agents=("lola", "nl", "nl"), runs=2, updates=2,
                                 episodes_per_batch=8)).run()
    assert result.labels == ["LOLA-PG", "NL-PG", "NL-PG"]
    assert set(result.summary["reward_per_step"]) == {"player_0", "player_1", "player_2"}
    assert set(result.summary["exact_value_per_step"]) == {"player_0", "player_1", "player_2"}
    with pytest.raises(ValueError, match="N-player training takes nl, lola seats, not \\['pola'\\]"):
        TrainConfig(game="public-goods-3", agents=("pola", "nl", "nl"))
    with pytest.raises(ValueError, match="one seat per player: 'public-goods-3' has 3"):
        TrainConfig(game="public-goods-3", agents=("nl", "nl"))


def test_train_takes_the_family_keywords_and_refuses_them_elsewhere(tmp_path, capsys) -> None:
    import json

    from lola_zoo.cli import main
    from lola_zoo.experiments.engine import TrainConfig, Trainer

    backend = Trainer(TrainConfig(game="public-goods-3", agents=("nl",) * 3, runs=1, env_kwargs={"factor": 2.7})).backend
    assert backend.game.payoffs[0, 0, 0, 0] == pytest.approx(1.7)
    assert main(["train", "--game", "public-goods-3", "--agents", "nl", "--env-kwarg", "factor=2.7", "--runs", "1",
                 "--updates", "1", "--episodes-per-batch", "4", "--no-progress", "--out", str(tmp_path / "a")]) == 0
    assert json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]["env_kwargs"] == {"factor": 2.7}
    assert main(["train", "--agents", "nl", "nl", "--env-kwarg", "factor", "--out", str(tmp_path / "b")]) == 2
    assert "--env-kwarg must look like KEY=VALUE" in capsys.readouterr().err
    assert main(["train", "--agents", "nl", "nl", "--env-kwarg", "factor=2", "--out", str(tmp_path / "c")]) == 2
    assert "takes no keyword arguments ['factor']" in capsys.readouterr().err


def test_n_player_tournament_plays_focal_entrants_against_fields(tmp_path) -> None:
    from lola_zoo.experiments.tournament import TournamentConfig, format_tournament, play_field_match, run_tournament

    cfg = TournamentConfig(game="public-goods-3", entrants=("NL-Ex", "LOLA-Ex", "Random"), runs=8, rounds=40)
    assert len(cfg.pairs()) == 9 and ("NL-Ex", "LOLA-Ex") in cfg.pairs() and ("LOLA-Ex", "NL-Ex") in cfg.pairs()
    match = play_field_match(cfg, "LOLA-Ex", "LOLA-Ex")
    assert match["n_players"] == 3 and len(match["row_runs"]) == 8
    result = run_tournament(cfg, tmp_path, workers=0, progress=False)
    m = {(a, b): result.matrix[i, j] for i, a in enumerate(result.names) for j, b in enumerate(result.names)}
    assert np.isfinite(result.matrix).all()
    assert m[("LOLA-Ex", "LOLA-Ex")] > m[("NL-Ex", "NL-Ex")] + 0.3  # a LOLA field sustains contribution
    assert m[("NL-Ex", "LOLA-Ex")] > m[("LOLA-Ex", "LOLA-Ex")] - 0.5  # ...and a free-rider among it does fine
    assert "focal/field" in format_tournament(result)


def test_n_player_tournament_refuses_two_player_entrants_by_name() -> None:
    from lola_zoo.experiments.tournament import N_PLAYER_ENTRANTS, TournamentConfig

    assert TournamentConfig(game="ipd-3").entrants == N_PLAYER_ENTRANTS
    with pytest.raises(ValueError, match=r"N-player tournaments take exact-value entrants and Random, not \['TFT', 'NL-PG'\]"):
        TournamentConfig(game="ipd-3", entrants=("LOLA-Ex", "TFT", "NL-PG"))
