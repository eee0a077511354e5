"""The paper's tournament (Figure 4) for ``lola-zoo reproduce --only tournament`` (or ``--full``).

Runs the paper preset of :mod:`lola_zoo.experiments.tournament` — NL-Q, JAL-Q, PHC, WoLF-PHC, NL-Ex
and LOLA-Ex, round robin, on the IPD and on matching pennies, the reference code's protocol — and
puts each entrant's end-of-training reward per step beside the values read off the paper's
Figure 4 (secondary source). Minutes on two cores, so not part of the default run.
"""

from __future__ import annotations

from lola_zoo.paper.core import EXTRA_PAPER_NUMBERS, PaperNumber, Section, SectionContext, SectionResult, _row, register_section

__all__ = ["TOURNAMENT_PAPER_NUMBERS", "tournament_section"]

_SOURCE = "Foerster et al. 2018 (AAMAS), Figure 4 (tournament), end-of-training values read off the plot"
_NOTE = "from a secondary summary of the paper that read the values off Figure 4 (approximate); not checked against the PDF"


def _figure4() -> dict:
    from lola_zoo.experiments.tournament import PAPER_FIGURE4

    return PAPER_FIGURE4


#: Figure 4's values as paper numbers (metric "tournament_reward", setting = the entrant).
TOURNAMENT_PAPER_NUMBERS: tuple[PaperNumber, ...] = tuple(
    PaperNumber(game, entrant, "tournament_reward", value, _SOURCE, "secondary", _NOTE)
    for game in ("ipd", "imp") for entrant, value in _figure4()[game].items()
)
EXTRA_PAPER_NUMBERS.extend(TOURNAMENT_PAPER_NUMBERS)


def tournament_section(ctx: SectionContext) -> SectionResult:
    """Both games of the paper's tournament; LOLA-Ex must rank first in the IPD (the paper's claim)."""
    from lola_zoo.experiments.tournament import (
        paper_comparison,
        paper_preset_configs,
        run_tournament,
        save_paper_comparison,
        save_tournament,
    )

    overrides = {"rounds": 10} if ctx.quick else {}
    configs = paper_preset_configs(runs=ctx.seeds or 16, **overrides)
    results = {}
    for game, config in configs.items():
        results[game] = run_tournament(config, ctx.out_dir / f"tournament-{game}", workers=0, progress=ctx.progress)
        save_tournament(results[game], ctx.out_dir / f"tournament-{game}")
    comparison = paper_comparison(results)
    save_paper_comparison(comparison, ctx.out_dir)
    rows = []
    for r in comparison:
        if r["game"] == "ipd" and r["entrant"] == "LOLA-Ex":
            target, passed = "rank 1", r["ours_final_rank"] == 1
        else:
            target, passed = "", None
        rows.append(_row("tournament", r["game"], r["entrant"], "tournament_reward", r["ours_final"], "num", target,
                         passed))
    return SectionResult(rows, [], {"comparison": comparison})


register_section(Section("tournament", "Tournament, the paper's field (Figure 4): IPD and IMP", tournament_section,
                         ("tournament", "figure4"), default=False), override=True)
