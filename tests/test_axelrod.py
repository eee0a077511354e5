"""Axelrod strategies as Agents in our IPD env, our policies as Axelrod players, tournaments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

axl = pytest.importorskip("axelrod")

import lola_zoo  # noqa: E402
from lola_zoo.agents import AlwaysDefect, Memory1Strategy, TitForTat  # noqa: E402
from lola_zoo.agents.axelrod_adapter import (  # noqa: E402
    AxelrodAgent,
    Memory1Player,
    as_axelrod_player,
    axelrod_game,
    axelrod_strategy,
    run_axelrod_tournament,
)

ROOT = Path(__file__).resolve().parent.parent
GAME = lola_zoo.game("ipd")
# Axelrod's memory-one strategies as our P(cooperate) tables over (start, CC, CD, DC, DD).
MEMORY_ONE = {
    "TitForTat": [1, 1, 0, 1, 0],
    "WinStayLoseShift": [1, 1, 0, 0, 1],
    "Defector": [0, 0, 0, 0, 0],
    "Cooperator": [1, 1, 1, 1, 1],
    "Alternator": [1, 0, 0, 1, 1],
}




def play_in_env(agent_0, agent_1, turns: int, seed: int = 0) -> tuple[list[tuple[int, int]], float, float]:
    """Moves and mean rewards per round of one episode of our IPD env."""
    env = lola_zoo.make("ipd", max_steps=turns)
    observations, _ = env.reset(seed=seed)
    for i, agent in enumerate((agent_0, agent_1)):
        agent.seed(seed + i)
        agent.reset()
    moves, totals = [], np.zeros(2)
    while env.agents:
        actions = {"player_0": agent_0.act(observations["player_0"]),
                   "player_1": agent_1.act(observations["player_1"])}
        observations, rewards, _, _, _ = env.step(actions)
        moves.append((actions["player_0"], actions["player_1"]))
        totals += [rewards["player_0"], rewards["player_1"]]
    return moves, *(totals / turns)


def finite_horizon_payoff(p_row, p_col, turns: int) -> float:
    """Exact expected payoff per round of two memory-1 policies over ``turns`` rounds (row player's)."""
    p_row, p_col = np.asarray(p_row, float), np.asarray(p_col, float)
    joint = [(a, b) for a in (0, 1) for b in (0, 1)]

    def dist(pa: float, pb: float) -> np.ndarray:
        return np.array([(pa if a == 0 else 1 - pa) * (pb if b == 0 else 1 - pb) for a, b in joint])

    d = dist(p_row[0], p_col[0])
    P = np.stack([dist(p_row[1 + 2 * a + b], p_col[1 + 2 * b + a]) for a, b in joint])
    r = np.array([GAME.payoff(0, j) for j in joint])
    total = 0.0
    for _ in range(turns):
        total += d @ r
        d = d @ P
    return total / turns


DETERMINISTIC_SHORT = sorted(
    (c for c in axl.short_run_time_strategies if not axl.Classifiers["stochastic"](c())),
    key=lambda c: c.__name__,
)


@pytest.mark.parametrize("opponent", sorted(MEMORY_ONE))
def test_every_deterministic_strategy_replays_axelrod_match_move_for_move_in_our_env(opponent):
    assert len(DETERMINISTIC_SHORT) > 100
    turns, mismatched = 25, []
    for cls in DETERMINISTIC_SHORT:
        agent = AxelrodAgent(cls, match_length=turns)
        ours, _, _ = play_in_env(agent, Memory1Strategy(MEMORY_ONE[opponent]), turns)
        reference = axl.Match((cls(), axelrod_strategy(opponent)()), turns=turns).play()
        if ours != [(a.value, b.value) for a, b in reference]:
            mismatched.append(cls.__name__)
    assert mismatched == []


def test_stochastic_strategies_are_reproducible_from_the_agent_seed():
    agent = AxelrodAgent("Random")
    moves_a, _, _ = play_in_env(agent, AlwaysDefect(), 400, seed=1)
    moves_b, _, _ = play_in_env(agent, AlwaysDefect(), 400, seed=1)
    moves_c, _, _ = play_in_env(agent, AlwaysDefect(), 400, seed=2)
    assert moves_a == moves_b and moves_a != moves_c
    cooperation = np.mean([m[0] == 0 for m in moves_a])
    assert abs(cooperation - 0.5) < 4 * 0.5 / np.sqrt(400)  # Random cooperates with probability 1/2


def test_agent_starts_a_new_match_at_each_start_state_even_without_reset():
    agent, env = AxelrodAgent("Grudger"), lola_zoo.make("ipd", max_steps=5)
    for _ in range(2):  # Grudger defects forever once defected against, but only within one match
        observations, _ = env.reset()
        first = agent.act(observations["player_0"])
        while env.agents:
            observations, *_ = env.step({"player_0": 0, "player_1": 1})
        assert first == 0
    assert agent.act(np.int64(2)) == 1  # after "I cooperated, they defected"


def test_bad_strategies_and_observations_fail_clearly():
    with pytest.raises(KeyError, match="did you mean 'TitForTat'"):
        AxelrodAgent("TitForTatt")
    cheater = next(c for c in axl.all_strategies if c.classifier.get("inspects_source"))
    with pytest.raises(ValueError, match="cannot play a lola-zoo agent"):
        AxelrodAgent(cheater)
    with pytest.raises(ValueError, match="IPD memory-1 state"):
        AxelrodAgent("TitForTat").act(np.int64(7))
    with pytest.raises(ValueError, match="5 states x 2 actions"):
        as_axelrod_player(np.ones(4))
    with pytest.raises(ValueError, match="symmetric 2x2"):
        axelrod_game("rps")
    with pytest.raises(ValueError, match="unique"):
        run_axelrod_tournament(["TitForTat", "Tit For Tat"], turns=5, repetitions=1)


def test_axelrod_game_carries_our_payoffs():
    assert axelrod_game("ipd").RPST() == (-1.0, -2.0, -3.0, 0.0)  # R, P, S, T of the paper's IPD
    assert axelrod_game(None).RPST() == axl.Game().RPST()


def test_tournament_with_a_lola_policy_and_axelrod_strategies_scores_as_our_env_does(run_doc_page, tmp_path, monkeypatch):
    ns = run_doc_page("integrations/axelrod.md")
    summary, lola = ns["summary"], ns["lola_policy"]
    names = ["LOLA (exact)", "TFT", "Defector", "Cooperator", "Grudger", "Win-Stay Lose-Shift", "Random: 0.5"]
    assert sorted(summary.names) == sorted(names)
    assert summary.mean_payoff == sorted(summary.mean_payoff, reverse=True)
    assert "payoff/round" in summary.table() and "LOLA (exact)" in summary.table()
    # LOLA in the exact IPD ends near tit-for-tat: cooperate at start and after CC, retaliate after CD.
    assert lola.probs[0, 0] > 0.9 and lola.probs[1, 0] > 0.9 and lola.probs[2, 0] < 0.5

    def payoff(row: str, col: str) -> float:
        return float(summary.payoff_matrix[summary.names.index(row), summary.names.index(col)])

    def reps(row: str, col: str) -> np.ndarray:
        players = [str(p) for p in summary.results.players]
        return np.asarray(summary.results.payoffs[players.index(row)][players.index(col)], dtype=float)

    # Deterministic pairs: the tournament's payoff per round equals one episode of our env.
    axl_tables = {"Defector": MEMORY_ONE["Defector"], "Cooperator": MEMORY_ONE["Cooperator"],
                  "Win-Stay Lose-Shift": MEMORY_ONE["WinStayLoseShift"]}
    for row in ("Grudger", "Defector", "Win-Stay Lose-Shift"):
        for col in ("TFT", "Cooperator", "Defector"):
            if row == col:
                continue
            col_agent = TitForTat() if col == "TFT" else Memory1Strategy(axl_tables[col])
            _, mean_row, _ = play_in_env(AxelrodAgent(row, match_length=50, game="ipd"), col_agent, 50)
            assert payoff(row, col) == pytest.approx(mean_row), (row, col)
    # The learned (stochastic) policy against memory-one strategies: the exact finite-horizon expectation.
    p_lola = lola.probs[:, 0]
    for col, table in [("TFT", MEMORY_ONE["TitForTat"]), ("Defector", MEMORY_ONE["Defector"]),
                       ("Cooperator", MEMORY_ONE["Cooperator"]),
                       ("Win-Stay Lose-Shift", MEMORY_ONE["WinStayLoseShift"])]:
        expected = finite_horizon_payoff(p_lola, table, 50)
        sample = reps("LOLA (exact)", col)
        tolerance = 4 * sample.std(ddof=1) / np.sqrt(len(sample)) + 0.03
        assert payoff("LOLA (exact)", col) == pytest.approx(expected, abs=tolerance), col
    # The PPO learner of the last block learned to cooperate with Grudger.
    p_cooperate = ns["policy_table"](ns["model"], range(5))[:, 0]
    assert p_cooperate[0] > 0.5 and p_cooperate[1] > 0.5, p_cooperate


def test_sb3_agent_and_memory1_policies_enter_a_tournament_as_players():
    pytest.importorskip("stable_baselines3")
    from lola_zoo.agents.sb3 import make_sb3_agent

    sb3 = make_sb3_agent("ppo", "ipd", 0, seed=0, learn=False, deterministic=True, name="PPO (untrained)")
    summary = run_axelrod_tournament([sb3, [1, 1, 0, 1, 0], "Defector"], turns=20, repetitions=1, game="ipd")
    assert sorted(summary.names) == sorted(["PPO (untrained)", "memory-1", "Defector"])
    # The untrained greedy PPO is a deterministic memory-1 policy: the tournament scores it as our env does.
    _, mean_sb3, _ = play_in_env(sb3, AlwaysDefect(), 20)
    i, j = summary.names.index("PPO (untrained)"), summary.names.index("Defector")
    assert summary.payoff_matrix[i, j] == pytest.approx(mean_sb3)
    player = as_axelrod_player(TitForTat())
    assert isinstance(player, Memory1Player) and player.p_cooperate == (1.0, 1.0, 0.0, 1.0, 0.0)


ZD_STRATEGIES = ["ZDGen2", "ZDExtort4", "ZDSet2", "ZDExtortion", "ZDMischief", "ZDExtort2", "ZDGTFT2"]


def test_the_papers_payoffs_are_no_affine_image_of_axelrods():
    # a*x + b with S: 0 -> -3 and R: 3 -> -1 fixes a = 2/3, b = -3; then T: 5 -> 1/3, not the paper's 0.
    (R, S, T, P), (r, s, t, p) = (3, 0, 5, 1), (-1, -3, 0, -2)
    a, b = (r - s) / (R - S), s
    assert (a, b) == pytest.approx((2 / 3, -3)) and a * T + b == pytest.approx(1 / 3) != t
    # No (a, b) at all: the columns (x, 1, y) are independent, so y = a x + b has no solution.
    assert np.linalg.matrix_rank(np.array([[R, 1, r], [S, 1, s], [T, 1, t], [P, 1, p]], dtype=float)) == 3


def test_zd_strategies_play_as_published_in_a_tournament_scored_with_the_papers_payoffs():
    """They raised a bare ValueError (or became other strategies) when told the paper's payoffs."""
    players = [*ZD_STRATEGIES, "TitForTat"]
    ours = run_axelrod_tournament(players, turns=20, repetitions=2, game="ipd", seed=3)
    standard = run_axelrod_tournament(players, turns=20, repetitions=2, game=None, seed=3)
    # Same moves as under Axelrod's own game (the strategies are told the standard payoffs either way)...
    names = [str(p) for p in standard.results.players]
    assert [str(p) for p in ours.results.players] == names
    assert ours.results.state_distribution == standard.results.state_distribution
    # ...every move scored in the paper's payoffs.
    for i, row in enumerate(names):
        for j, col in enumerate(names):
            counts = standard.results.state_distribution[i][j]
            if i == j or not counts:
                continue
            expected = sum(n * GAME.payoff(0, (a.value, b.value)) for (a, b), n in counts.items()) / sum(counts.values())
            got = ours.payoff_matrix[ours.names.index(row), ours.names.index(col)]
            assert got == pytest.approx(expected), (row, col)


@pytest.mark.parametrize("name", ZD_STRATEGIES)
def test_a_zd_agent_in_the_papers_ipd_keeps_its_published_four_vector(name):
    agent = AxelrodAgent(name, match_length=10, game="ipd")
    agent.reset()  # told the paper's payoffs, ZDGen2 & co. raised ValueError here
    reference = axelrod_strategy(name)()
    reference.set_match_attributes(length=10, game=axl.Game(), noise=0)
    assert agent.player._four_vector == reference._four_vector
    play_in_env(agent, TitForTat(), 10)


def test_axelrod_agent_refuses_games_that_are_not_2x2():
    with pytest.raises(ValueError, match=r"AxelrodAgent\(TitForTat\) needs a symmetric 2x2 game.*\(3, 3\)"):
        AxelrodAgent("TitForTat", game="rps")
    with pytest.raises(ValueError, match=r"needs a symmetric 2x2 game.*\(2, 2, 2\)"):
        AxelrodAgent("TitForTat", game="public-goods-3")
    agent = AxelrodAgent("TitForTat")
    with pytest.raises(ValueError, match=r"one-hot of length 5\), got shape \(10,\).*two-action games only"):
        agent.act(np.eye(10, dtype=np.float32)[3])  # an RPS one-hot state: it read it as IPD state 3
    with pytest.raises(ValueError, match=r"state in 0\.\.4, got 7.*two-action games only"):
        agent.act(np.int64(7))
    # Without game=, the first joint action no 2x2 game has is refused as the loop reports it.
    env = lola_zoo.make("rps", max_steps=5)
    observations, _ = env.reset(seed=0)
    action = agent.act(observations["player_0"])
    next_observations, rewards, terminations, truncations, infos = env.step({"player_0": action, "player_1": 2})
    from lola_zoo.agents.base import Transition

    with pytest.raises(ValueError, match=r"joint action \(0, 2\) is not one of a two-player two-action game"):
        agent.observe(Transition(observations["player_0"], action, rewards["player_0"], next_observations["player_0"],
                                 info=infos["player_0"]))
