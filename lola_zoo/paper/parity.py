"""The parity table: every outcome this project claims to reproduce, with its expected range, checked.

Each :class:`Claim` names a row of ``reproduce``'s table (section, setting, metric) and the range the
paper's result implies for it (absolute bounds), or defers to the row's own target when the claim
is relative (e.g. "LOLA earns more than the NL it plays"). :func:`check_claims` evaluates every
claim on a run's rows; ``reproduce`` writes the result as ``parity.csv`` and into ``summary.json``,
``docs/gen_parity.py`` renders it as ``docs/parity.md``, and ``tests/test_parity.py`` checks every
claim of the default sections at a quick size in CI.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = ["Claim", "CLAIMS", "check_claims", "format_parity_markdown"]


@dataclass(frozen=True)
class Claim:
    """One claimed outcome.

    :param section: the ``reproduce`` section that measures it.
    :param game: ``ipd``, ``imp`` or ``coin``.
    :param setting: the row's setting, e.g. ``"LOLA vs LOLA"``.
    :param metric: the row's metric.
    :param low: smallest value that reproduces the paper's outcome (``None``: unbounded).
    :param high: largest such value (``None``: unbounded).
    :param relative: the claim compares with another row; the row's own target decides.
    :param paper: the paper's outcome in words.
    """

    section: str
    game: str
    setting: str
    metric: str
    low: float | None = None
    high: float | None = None
    relative: bool = False
    paper: str = ""

    def expected(self) -> str:
        """The expected range as text."""
        if self.relative:
            return "the row's target"
        if self.low is not None and self.high is not None:
            return f"[{self.low:g}, {self.high:g}]"
        return f">= {self.low:g}" if self.low is not None else f"<= {self.high:g}"


CLAIMS: tuple[Claim, ...] = (
    Claim("ipd-exact", "ipd", "NL vs NL", "reward", -2.0, -1.8, paper="naive learners defect: about -2 per step"),
    Claim("ipd-exact", "ipd", "NL vs NL", "mutual_defection", 0.5, 1.0, paper="NL-Ex mostly ends in mutual defection"),
    Claim("ipd-exact", "ipd", "LOLA vs LOLA", "reward", -1.15, -1.0, paper="LOLA-Ex cooperates: -1.06 per step"),
    Claim("ipd-exact", "ipd", "LOLA vs LOLA", "tit_for_tat", 0.5, 1.0, paper="LOLA-Ex learns TFT-like policies"),
    Claim("imp-exact", "imp", "NL vs NL", "nash", 0.0, 0.5, paper="NL-Ex circles away from the Nash equilibrium"),
    Claim("imp-exact", "imp", "LOLA vs LOLA", "nash", 0.5, 1.0, paper="LOLA-Ex converges to the Nash equilibrium"),
    Claim("ipd-exploit", "ipd", "LOLA vs NL", "reward (LOLA)", relative=True,
          paper="LOLA-Ex exploits NL-Ex (-1.28 vs -1.54)"),
    Claim("ipd-exploit", "ipd", "LOLA vs LOLA", "reward (row)", relative=True, paper="LOLA vs LOLA: -1.04 each"),
    Claim("ipd-pg", "ipd", "NL-PG vs NL-PG", "reward", -2.0, -1.8, paper="NL-PG defects: -1.98"),
    Claim("ipd-pg", "ipd", "LOLA-PG vs LOLA-PG", "reward", relative=True,
          paper="LOLA-PG cooperates (-1.17), far above NL-PG"),
    Claim("ipd-pg", "ipd", "LOLA-OM vs LOLA-OM", "reward", relative=True,
          paper="LOLA-OM cooperates, like LOLA-PG (Sec. 5)"),
    Claim("imp-pg", "imp", "LOLA-PG vs LOLA-PG", "nash_distance", relative=True,
          paper="LOLA-PG nearer the Nash equilibrium than NL-PG (93.2 % vs 13.2 % at Nash)"),
    Claim("imp-pg", "imp", "LOLA-PG vs LOLA-PG", "nash", 0.5, 1.0, paper="LOLA-PG at the Nash equilibrium in 93.2 %"),
    Claim("imp-pg", "imp", "NL-PG vs NL-PG", "nash", 0.0, 0.5, paper="NL-PG at the Nash equilibrium in 13.2 %"),
    Claim("tournament", "ipd", "LOLA-Ex", "tournament_reward", relative=True,
          paper="LOLA-Ex earns the highest average return of the IPD tournament (Figure 4)"),
    Claim("coin", "coin", "LOLA vs LOLA", "own_coin_share", relative=True,
          paper="LOLA-PG picks mostly own coins (about 80 %), NL-PG about 50 %"),
)


def check_claims(rows: Sequence[dict[str, Any]], claims: Sequence[Claim] = CLAIMS) -> list[dict[str, Any]]:
    """Every claim with ``ours`` and ``status``: ``reproduced``, ``not reproduced`` or ``not run``."""
    by_key = {(r["section"], r.get("game"), r["setting"], r["metric"]): r for r in rows}
    out = []
    for c in claims:
        row = by_key.get((c.section, c.game, c.setting, c.metric))
        ours = None if row is None else row.get("ours")
        if row is None or ours is None or (isinstance(ours, float) and math.isnan(ours)):
            status = "not run"
        elif c.relative:
            status = "reproduced" if row.get("passed") else "not reproduced"
        else:
            ok = (c.low is None or ours >= c.low - 1e-12) and (c.high is None or ours <= c.high + 1e-12)
            status = "reproduced" if ok else "not reproduced"
        out.append({"section": c.section, "game": c.game, "setting": c.setting, "metric": c.metric,
                    "expected": row["target"] if (c.relative and row is not None) else c.expected(),
                    "ours": ours, "ours_text": None if row is None else row.get("ours_text"),
                    "paper": c.paper, "status": status})
    return out


def format_parity_markdown(results: Sequence[dict[str, Any]], header: str = "") -> str:
    """The parity table as Markdown."""
    lines = [header] if header else []
    lines += ["| game | setting | metric | expected | ours | status | the paper |", "|---|---|---|---|---|---|---|"]
    for r in results:
        mark = {"reproduced": "✓ reproduced", "not reproduced": "✗ not reproduced", "not run": "– not run"}[r["status"]]
        lines.append(f"| {r['game']} | {r['setting']} | {r['metric']} | {r['expected']} | {r['ours_text'] or '—'} "
                     f"| {mark} | {r['paper']} |")
    return "\n".join(lines) + "\n"
