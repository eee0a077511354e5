"""Reproducing the LOLA paper: its reported numbers as data, and a driver made of sections.

:data:`PAPER_NUMBERS` holds what Foerster et al. (2018) report, each with where it comes from.
:func:`reproduce` runs every registered :class:`Section` (or the ones ``only`` names), prints one
table of our numbers beside the paper's, and writes ``summary.json``, ``table.csv`` and each
section's PNG plots into one output folder.  A section is a function
``SectionContext -> SectionResult`` (table rows + plot paths + a JSON summary); later sections
(policy gradients, the Coin Game) are added with :func:`register_section` without touching the
exact-gradient ones here.
"""

from __future__ import annotations

import datetime as _dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import lola_zoo
from lola_zoo.experiments.exact import (
    COOPERATE_THRESHOLD,
    NASH_TOLERANCE,
    ExactConfig,
    run_exact,
    save_exact_outputs,
    summarize,
)
from lola_zoo.io import atomic_write_csv, atomic_write_json

__all__ = [
    "PaperNumber",
    "PAPER_NUMBERS",
    "paper_number",
    "SectionContext",
    "SectionResult",
    "Section",
    "SECTIONS",
    "register_section",
    "select_sections",
    "reproduce",
    "format_table",
    "default_out_dir",
]

_TABLE3 = ("Foerster et al. 2018, 'Learning with Opponent-Learning Awareness' (AAMAS; arXiv:1709.04326), "
           "Table 3, p. 7 (50 training runs per setting)")
_TABLE4 = ("Foerster et al. 2018 (AAMAS), Table 4, p. 7: exploitability in the IPD with exact gradients "
           "(50 training runs)")
_SECONDARY = ("from a secondary summary of the paper (AAMAS 2018, p. 7), as the project's issue 11 quotes it; "
              "not yet checked against the PDF")

#: Provenance levels of a paper number, strongest first.
PROVENANCE = {
    "pdf": "checked against a copy of the paper",
    "secondary": "from a secondary summary of the paper (its tables / figures quoted), not checked against the PDF",
    "recalled": "recalled, not checked against any copy",
}
#: The mark the printed table puts after a paper value of each provenance.
PROVENANCE_MARK = {"pdf": "", "secondary": "\u2020", "recalled": "*"}


@dataclass(frozen=True)
class PaperNumber:
    """One number the paper reports.

    :param game: ``"ipd"``, ``"imp"`` or ``"coin"``.
    :param setting: e.g. ``"NL vs NL"``, ``"LOLA vs LOLA"``.
    :param metric: ``"reward"`` (average reward per step, mean over runs), ``"reward_std"``,
        ``"tit_for_tat"`` / ``"mutual_defection"`` / ``"nash"`` (share of runs, in [0, 1]).
    :param value: the number, or ``None`` when the paper gives no number for it.
    :param source: where in the paper it comes from.
    :param verified: its provenance, a key of :data:`PROVENANCE` (``"pdf"``, ``"secondary"``,
        ``"recalled"``); ``True``/``False`` are read as ``"pdf"``/``"recalled"``.
    :param note: anything a reader must know (how the paper measured it, doubts).
    """

    game: str
    setting: str
    metric: str
    value: float | None
    source: str
    verified: str | bool = "recalled"
    note: str = ""

    def __post_init__(self) -> None:
        level = self.verified if isinstance(self.verified, str) else ("pdf" if self.verified else "recalled")
        if level not in PROVENANCE:
            raise ValueError(f"verified must be one of {sorted(PROVENANCE)} (or a bool), got {self.verified!r}")
        object.__setattr__(self, "verified", level)

    @property
    def mark(self) -> str:
        """The footnote mark of this number's provenance in printed tables."""
        return PROVENANCE_MARK[str(self.verified)]


def _n(game: str, setting: str, metric: str, value: float | None, source: str = _TABLE3, note: str = "") -> PaperNumber:
    return PaperNumber(game, setting, metric, value, source, "secondary", note or _SECONDARY)


PAPER_NUMBERS: tuple[PaperNumber, ...] = (
    # Table 3, exact gradients ("-Ex").
    _n("ipd", "NL vs NL", "tit_for_tat", 0.208),
    _n("ipd", "NL vs NL", "reward", -1.98),
    _n("ipd", "NL vs NL", "reward_std", 0.14),
    _n("ipd", "LOLA vs LOLA", "tit_for_tat", 0.81),
    _n("ipd", "LOLA vs LOLA", "reward", -1.06),
    _n("ipd", "LOLA vs LOLA", "reward_std", 0.19),
    PaperNumber("ipd", "NL vs NL", "mutual_defection", None, _TABLE3, "secondary",
                "the paper states that NL-Ex mostly ends in mutual defection; no share to quote"),
    _n("imp", "NL vs NL", "nash", 0.0),
    _n("imp", "NL vs NL", "reward_std", 0.37),
    _n("imp", "LOLA vs LOLA", "nash", 0.988),
    _n("imp", "LOLA vs LOLA", "reward_std", 0.02),
    PaperNumber("imp", "NL vs NL", "reward", 0.0, "zero-sum game: the mean reward per step is 0 by symmetry",
                "secondary", "not a table entry: implied by the game"),
    PaperNumber("imp", "LOLA vs LOLA", "reward", 0.0, "zero-sum game: the mean reward per step is 0 by symmetry",
                "secondary", "not a table entry: implied by the game"),
    PaperNumber("imp", "LOLA vs NL", "reward", None, "not reported", "secondary",
                "the paper reports no LOLA vs NL run in IMP"),
    # Table 4, exploitability (IPD, exact gradients): reward per step of each player.
    _n("ipd", "LOLA vs NL", "reward (LOLA)", -1.28, _TABLE4),
    _n("ipd", "LOLA vs NL", "reward (NL)", -1.54, _TABLE4),
    _n("ipd", "LOLA vs LOLA", "reward (row)", -1.04, _TABLE4),
    _n("ipd", "LOLA vs LOLA", "reward (col)", -1.04, _TABLE4),
    _n("ipd", "HOLA vs LOLA", "reward (HOLA)", -1.14, _TABLE4),
    _n("ipd", "HOLA vs LOLA", "reward (LOLA)", -1.17, _TABLE4),
)


#: Further tables of paper numbers, appended by section modules (policy gradients, Coin Game).
EXTRA_PAPER_NUMBERS: list[PaperNumber] = []


def paper_number(game: str, setting: str, metric: str) -> PaperNumber | None:
    """The paper's number for (game, setting, metric), or ``None`` when it reports none."""
    for number in (*PAPER_NUMBERS, *EXTRA_PAPER_NUMBERS):
        if (number.game, number.setting, number.metric) == (game, setting, metric):
            return number
    return None


@dataclass(frozen=True)
class SectionContext:
    """What every section gets from the driver.

    :param out_dir: folder for this run's files (exists).
    :param quick: fewer seeds / shorter runs, for smoke tests (numbers are then not the paper's setting).
    :param progress: show tqdm progress bars on stderr.
    :param seeds: override the number of seeds (``None``: the section's default).
    :param device: ``auto``, ``cpu`` or ``cuda`` for every section's computation.
    :param policy: the Coin Game section's policy (``None``: its default setting).
    :param full: the long form (``--full``): the paper's 50 runs for the policy-gradient rows.
    """

    out_dir: Path
    quick: bool = False
    progress: bool = True
    seeds: int | None = None
    device: str = "auto"
    policy: str | None = None
    full: bool = False


@dataclass
class SectionResult:
    """What a section returns: table rows, the plots it wrote and a JSON-able summary."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    """A named part of the reproduction.

    :param name: unique id, e.g. ``"ipd-exact"``; ``--only`` matches it or one of its tags.
    :param title: one line for the table header.
    :param run: ``SectionContext -> SectionResult``.
    :param tags: extra names that select it, e.g. ``("exact", "ipd")``.
    :param default: run when no ``only`` is given; long sections set False and run with ``--only`` or ``--full``.
    """

    name: str
    title: str
    run: Callable[[SectionContext], SectionResult]
    tags: tuple[str, ...] = ()
    default: bool = True


#: The sections :func:`reproduce` runs, in order.  Append with :func:`register_section`.
SECTIONS: list[Section] = []


def register_section(section: Section, override: bool = False) -> Section:
    """Append ``section`` to :data:`SECTIONS` (replace one of the same name with ``override``)."""
    for k, existing in enumerate(SECTIONS):
        if existing.name == section.name:
            if not override:
                raise ValueError(f"a section named {section.name!r} is already registered")
            SECTIONS[k] = section
            return section
    SECTIONS.append(section)
    return section


def select_sections(only: Sequence[str] | str | None = None) -> list[Section]:
    """The sections named (or tagged) in ``only``; every default section when ``only`` is empty."""
    if only is None or only == "" or only == []:
        return [s for s in SECTIONS if s.default]
    names = [n.strip() for n in (only.split(",") if isinstance(only, str) else only) if n.strip()]
    chosen: list[Section] = []
    for name in names:
        matches = [s for s in SECTIONS if name == s.name or name in s.tags]
        if not matches:
            known = sorted({s.name for s in SECTIONS} | {t for s in SECTIONS for t in s.tags})
            raise ValueError(f"unknown section {name!r} for --only; known: {', '.join(known)}")
        chosen.extend(s for s in matches if s not in chosen)
    return [s for s in SECTIONS if s in chosen]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _row(section: str, game: str, setting: str, metric: str, ours: float, kind: str,
         target: str = "", passed: bool | None = None, paper_key: tuple[str, str] | None = None) -> dict[str, Any]:
    pk = paper_key or (setting, metric)
    number = paper_number(game, *pk)
    fmt = _pct if kind == "share" else _num
    paper = None if number is None else number.value
    return {
        "section": section,
        "game": game,
        "setting": setting,
        "metric": metric,
        "ours": ours,
        "ours_text": fmt(ours),
        "paper": paper,
        "paper_text": (fmt(paper) + (number.mark if number is not None else "")) if paper is not None else "n/a",
        "paper_provenance": None if number is None else number.verified,
        "target": target,
        "passed": passed,
    }


#: Exact runs of the current ``reproduce`` call, shared by the sections that report them (Tables 3 and 4).
_RUNS: dict[tuple[Any, ...], Any] = {}


def _exact_run(ctx: SectionContext, game: str, learners: tuple[str, str]) -> Any:
    """One exact experiment of the paper's setting, computed once per ``reproduce`` call."""
    seeds = ctx.seeds or (128 if ctx.quick else 1000)
    key = (str(ctx.out_dir), seeds, ctx.device, game, learners)
    if key not in _RUNS:
        cfg = ExactConfig(game=game, learners=learners, seeds=seeds, device="cpu" if ctx.device == "auto" else ctx.device)
        _RUNS[key] = run_exact(cfg, progress=ctx.progress, description=f"{game} {cfg.label()}")
    return _RUNS[key]


def _exact_runs(ctx: SectionContext, game: str) -> list[Any]:
    return [_exact_run(ctx, game, learners) for learners in (("nl", "nl"), ("lola", "lola"), ("lola", "nl"))]


def ipd_exact_section(ctx: SectionContext) -> SectionResult:
    """IPD with exact gradients: NL vs NL, LOLA vs LOLA, LOLA vs NL (paper Table 2, Fig. 3)."""
    results = _exact_runs(ctx, "ipd")
    rows, summaries = [], {}
    for r in results:
        s = summarize(r)
        summaries[s["setting"]] = s
        setting = s["setting"]
        p0, p1 = s["players"]["player_0"], s["players"]["player_1"]
        shares = s["shares"]
        if setting == "NL vs NL":
            rows += [
                _row("ipd-exact", "ipd", setting, "reward", p0["reward_mean"], "num", "<= -1.8",
                     p0["reward_mean"] <= -1.8 and p1["reward_mean"] <= -1.8),
                _row("ipd-exact", "ipd", setting, "reward_std", p0["reward_std"], "num"),
                _row("ipd-exact", "ipd", setting, "mutual_defection", shares["mutual_defection"], "share",
                     "> 50%", shares["mutual_defection"] > 0.5),
                _row("ipd-exact", "ipd", setting, "tit_for_tat", shares["tit_for_tat"], "share"),
            ]
        elif setting == "LOLA vs LOLA":
            rows += [
                _row("ipd-exact", "ipd", setting, "reward", p0["reward_mean"], "num", ">= -1.15",
                     p0["reward_mean"] >= -1.15 and p1["reward_mean"] >= -1.15),
                _row("ipd-exact", "ipd", setting, "reward_std", p0["reward_std"], "num"),
                _row("ipd-exact", "ipd", setting, "tit_for_tat", shares["tit_for_tat"], "share",
                     "> 50%", shares["tit_for_tat"] > 0.5),
                _row("ipd-exact", "ipd", setting, "strict_tit_for_tat", shares["strict_tit_for_tat"], "share"),
                _row("ipd-exact", "ipd", setting, "all_cooperate", shares["all_cooperate"], "share"),
                _row("ipd-exact", "ipd", setting, "mutual_defection", shares["mutual_defection"], "share"),
            ]
        # LOLA vs NL is reported with the paper's Table 4 (section "ipd-exploit").
    plots = save_exact_outputs(results, ctx.out_dir, "ipd-exact", "IPD, exact gradients")
    return SectionResult(rows, plots, summaries)


def imp_exact_section(ctx: SectionContext) -> SectionResult:
    """Matching pennies with exact gradients: NL vs NL, LOLA vs LOLA, LOLA vs NL (paper Table 2)."""
    results = _exact_runs(ctx, "imp")
    rows, summaries = [], {}
    for r in results:
        s = summarize(r)
        summaries[s["setting"]] = s
        setting = s["setting"]
        p0 = s["players"]["player_0"]
        nash = s["shares"]["nash"]
        if setting == "LOLA vs LOLA":
            target, passed = "> 50%", nash > 0.5
        elif setting == "NL vs NL":
            target, passed = "< 50%", nash < 0.5
        else:
            target, passed = "", None
        rows += [
            _row("imp-exact", "imp", setting, "reward", p0["reward_mean"], "num"),
            _row("imp-exact", "imp", setting, "reward_std", p0["reward_std"], "num"),
            _row("imp-exact", "imp", setting, "nash", nash, "share", target, passed),
        ]
    plots = save_exact_outputs(results, ctx.out_dir, "imp-exact", "Matching pennies, exact gradients")
    return SectionResult(rows, plots, summaries)


def ipd_exploit_section(ctx: SectionContext) -> SectionResult:
    """The paper's Table 4, exploitability in the IPD with exact gradients: LOLA vs NL, LOLA vs LOLA, HOLA vs LOLA."""
    rows, summaries = [], {}
    pairs = (("LOLA vs NL", ("lola", "nl"), ("LOLA", "NL")), ("LOLA vs LOLA", ("lola", "lola"), ("row", "col")),
             ("HOLA vs LOLA", ("hola", "lola"), ("HOLA", "LOLA")))
    for setting, learners, names in pairs:
        s = summarize(_exact_run(ctx, "ipd", learners))
        summaries[setting] = s
        r0, r1 = s["players"]["player_0"]["reward_mean"], s["players"]["player_1"]["reward_mean"]
        if setting == "LOLA vs NL":
            target, passed = ">= NL's", r0 >= r1  # LOLA exploits the naive learner, not the other way round
        elif setting == "LOLA vs LOLA":
            target, passed = ">= -1.15", min(r0, r1) >= -1.15
        else:
            target, passed = "", None  # the paper's gap (-1.14 vs -1.17) is within its run-to-run spread
        rows += [
            _row("ipd-exploit", "ipd", setting, f"reward ({names[0]})", r0, "num", target, passed),
            _row("ipd-exploit", "ipd", setting, f"reward ({names[1]})", r1, "num"),
        ]
    return SectionResult(rows, [], summaries)


register_section(Section("ipd-exact", "IPD, exact gradients (NL-Ex, LOLA-Ex)", ipd_exact_section, ("exact", "ipd")))
register_section(Section("imp-exact", "IMP, exact gradients (NL-Ex, LOLA-Ex)", imp_exact_section, ("exact", "imp")))
register_section(Section("ipd-exploit", "IPD exploitability, exact gradients (the paper's Table 4)",
                         ipd_exploit_section, ("exact", "ipd", "table4")))


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Our numbers beside the paper's as a plain-text table (``*``: paper value not re-checked)."""
    header = ["game", "setting", "metric", "ours", "paper", "target", "ok"]
    body = [
        [
            r["game"], r["setting"], r["metric"], r["ours_text"], r["paper_text"], r["target"],
            "" if r["passed"] is None else ("yes" if r["passed"] else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(header), line(["-" * w for w in widths])]
    out += [line(b) for b in body]
    return "\n".join(out)


def default_out_dir(prefix: str = "reproduce") -> Path:
    """``runs/<prefix>-YYYYmmdd-HHMMSS`` under the current directory."""
    return Path("runs") / f"{prefix}-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def reproduce(
    out_dir: str | Path | None = None,
    quick: bool = False,
    only: Sequence[str] | str | None = None,
    progress: bool = True,
    seeds: int | None = None,
    echo: Callable[[str], None] | None = print,
    device: str = "auto",
    policy: str | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Run the selected sections, print the table, write summary.json, table.csv and the plots."""
    if seeds is not None and (isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1):
        raise ValueError(f"seeds must be a positive integer, got {seeds!r}")
    sections = select_sections(only)
    _RUNS.clear()  # exact runs are shared between sections of one call, never across calls
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    out.mkdir(parents=True, exist_ok=True)
    ctx = SectionContext(out, quick=quick, progress=progress, seeds=seeds, device=device, policy=policy,
                         full=full)
    say = echo or (lambda _msg: None)
    say(f"lola-zoo reproduce: writing to {out}")
    start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    plots: list[str] = []
    summaries: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for section in sections:
        t0 = time.perf_counter()
        say(f"[{section.name}] {section.title} ...")
        result = section.run(ctx)
        timings[section.name] = time.perf_counter() - t0
        rows.extend(result.rows)
        plots.extend(str(p) for p in result.plots)
        summaries[section.name] = result.summary
    seconds = time.perf_counter() - start
    summary = {
        "lola_zoo_version": lola_zoo.__version__,
        "created": _dt.datetime.now().isoformat(timespec="seconds"),
        "quick": quick,
        "device": device,
        "seconds": seconds,
        "section_seconds": timings,
        "thresholds": {
            "cooperate": f"P(cooperate | state) > {COOPERATE_THRESHOLD}",
            "tit_for_tat": "both players: P(C|CC) > 0.5 and P(C|CD) < 0.5 (cooperate after mutual "
                           "cooperation, defect after being exploited)",
            "mutual_defection": "both players: P(C|start) <= 0.5 and P(C|DD) <= 0.5",
            "nash": f"both players, every state: |P(heads | state) - 0.5| <= {NASH_TOLERANCE}",
        },
        "paper_values_note": "each paper value carries its provenance (paper_provenance: pdf, secondary or "
                             "recalled); see lola_zoo/paper/core.py",
        "rows": rows,
        "plots": plots,
        "sections": summaries,
    }
    from lola_zoo.paper.parity import check_claims

    parity = check_claims(rows)
    summary["parity"] = parity
    atomic_write_json(out / "summary.json", summary)
    atomic_write_csv(out / "parity.csv", [{k: p[k] for k in ("section", "game", "setting", "metric", "expected",
                                                            "ours", "status", "paper")} for p in parity])
    if rows:
        fields = ["section", "game", "setting", "metric", "ours", "paper", "target", "passed"]
        atomic_write_csv(out / "table.csv", [{k: r[k] for k in fields} for r in rows], fields)
    say("")
    say(format_table(rows))
    say("")
    say("\u2020 paper value from a secondary summary of Foerster et al. (2018), Tables 3-4 / Figures 4-5, not yet "
        "checked against the PDF; * recalled, not checked against any copy (see docs/reproducing.md); "
        "n/a: the paper reports no number for it")
    counts = {k: sum(p["status"] == k for p in parity) for k in ("reproduced", "not reproduced", "not run")}
    say(f"parity: {counts['reproduced']} claimed outcomes reproduced, {counts['not reproduced']} not, "
        f"{counts['not run']} not run in this call (parity.csv; docs/parity.md)")
    say(f"wrote {out / 'summary.json'}, {out / 'table.csv'} and {len(plots)} plots in {seconds:.1f} s")
    summary["out_dir"] = str(out)
    return summary
