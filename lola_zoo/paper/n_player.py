"""N-player dilemmas on exact values: ``lola-zoo reproduce --only n-player``.

LOLA's shaping terms add up over opponents (Foerster et al. 2018, Sec. 3), so the paper's
claim — naive learners fall into the dilemma, LOLA learners escape it — can be checked beyond two
players.  For the 3- and 4-player public-goods games and the 3-player IPD, every seat runs the
same rule (NL or LOLA), plus one LOLA learner among naive ones; one batch of seeds per setting.
Not a table of the LOLA paper (it has no N-player experiment): the targets are the dilemma's own
— LOLA above NL, and NL near the no-contribution outcome.
"""

from __future__ import annotations

from typing import Any

from lola_zoo.paper.core import Section, SectionContext, SectionResult, _row, register_section

__all__ = ["N_PLAYER_GAMES", "n_player_section"]

#: game id -> (what everyone cooperating earns per step, what nobody cooperating earns)
N_PLAYER_GAMES: dict[str, tuple[float, float]] = {
    "public-goods-3": (1.0, 0.0),
    "public-goods-4": (1.5, 0.0),
    "ipd-3": (-1.0, -2.0),
}


def n_player_section(ctx: SectionContext) -> SectionResult:
    """Mean final reward per step of NL x N, LOLA x N and LOLA among N - 1 naive learners, per game."""
    import lola_zoo
    from lola_zoo.experiments.exact import ExactConfig, run_exact

    seeds = ctx.seeds or (64 if ctx.quick else 1000)
    steps = 40 if ctx.quick else 200
    games = ("public-goods-3", "ipd-3") if ctx.quick else tuple(N_PLAYER_GAMES)
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"seeds": seeds, "steps": steps, "games": {}}
    for game in games:
        n = lola_zoo.game(game).n_players
        everyone, nobody = N_PLAYER_GAMES[game]
        means: dict[str, float] = {}
        for label, learners in (("NL", ("nl",) * n), ("LOLA", ("lola",) * n), ("LOLA + NL", ("lola",) + ("nl",) * (n - 1))):
            result = run_exact(ExactConfig(game=game, learners=learners, seeds=seeds, steps=steps, device=ctx.device),
                               progress=ctx.progress, description=f"{game}: {label}")
            final = result.final_rewards
            means[label] = float(final.mean())
            setting = f"{label} x {n}" if label != "LOLA + NL" else f"LOLA among {n - 1} NL"
            rows.append(_row("n-player", game, setting, "reward", means[label], "num"))
            if label == "LOLA + NL":
                rows.append(_row("n-player", game, setting, "lola_seat_reward", float(final[:, 0].mean()), "num"))
        gap = means["LOLA"] - means["NL"]
        # The dilemma's claim, as in two-player games: shaping learners escape it, naive ones do not.
        rows.append(_row("n-player", game, f"LOLA x {n} vs NL x {n}", "reward_gain", gap, "num", "> 0", gap > 0))
        near_nobody = means["NL"] - nobody < 0.25 * (everyone - nobody)
        rows.append(_row("n-player", game, f"NL x {n}", "falls_into_the_dilemma", float(near_nobody), "num",
                         "NL within a quarter of the way from 'nobody' to 'everyone'", near_nobody))
        summary["games"][game] = {"players": n, "everyone_cooperates": everyone, "nobody_cooperates": nobody, **means}
    return SectionResult(rows, [], summary)


register_section(Section("n-player", "N-player public goods and IPD on exact values: NL vs LOLA", n_player_section,
                         ("n-player", "public-goods"), default=False), override=True)
