"""Reports: turn any run or sweep folder into one Markdown or HTML page of tables and plots.

The folder is read, not interpreted by command: every sub-folder with results becomes a section.
What is recognised, by name and by shape:

* ``results.jsonl`` (a sweep, see :mod:`lola_zoo.experiments.sweep`): cells grouped by their
  config without the seed, each metric as mean +/- the half-width of a 95 % confidence interval
  over seeds (Student t); the spec from ``sweep.json`` and failed cells from ``errors.jsonl``.
* ``*.json`` (``summary.json``, ``config.json``, ...): a dict becomes a key/value table (nested
  keys joined by dots), a list of dicts a table.
* ``*.csv`` (metrics, curves): a table, the first and last rows when it is long.
* ``*.jsonl`` other than sweep results: a table of the first rows.
* ``*.png``, ``*.svg``, ``*.jpg``: embedded images (relative links, so the report moves with
  its folder).
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from lola_zoo.io import atomic_write_text

__all__ = [
    "Block",
    "t_quantile_975",
    "mean_ci95",
    "aggregate_sweep",
    "build_report",
    "render_markdown",
    "render_html",
    "write_report",
]

IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif")
REPORT_NAMES = ("report.md", "report.html")
MAX_ROWS = 40  # a longer table shows its first HEAD and last TAIL rows
HEAD, TAIL = 5, 5
MAX_COLUMNS = 14
MAX_JSON_ITEMS = 60

# Two-sided 95 % quantiles of Student's t (0.975 quantile) for 1..30 degrees of freedom; beyond
# that interpolate linearly in 1/df towards the normal 1.959964 (error < 1e-3).  No scipy needed.
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)
_T975_TAIL = ((40, 2.0211), (60, 2.0003), (120, 1.9799), (math.inf, 1.959964))


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (table + 1/df interpolation)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= 30:
        return _T975[df - 1]
    lo_df: float
    lo_df, lo_t = 30, _T975[-1]
    for hi_df, hi_t in _T975_TAIL:
        if df <= hi_df:
            if hi_df == math.inf:
                w = (1 / lo_df - 1 / df) / (1 / lo_df)
            else:
                w = (1 / lo_df - 1 / df) / (1 / lo_df - 1 / hi_df)
            return lo_t + w * (hi_t - lo_t)
        lo_df, lo_t = hi_df, hi_t
    return 1.959964  # pragma: no cover


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95 % t confidence interval of the mean (``nan`` width for one value)."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci95 of no values")
    mean = sum(values) / n
    if n == 1:
        return mean, math.nan
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, t_quantile_975(n - 1) * math.sqrt(var / n)


@dataclass
class Block:
    """One piece of a report: ``heading`` / ``text`` / ``table`` / ``image`` / ``code``."""

    kind: str
    text: str = ""
    level: int = 2
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    src: str = ""


# ---------------------------------------------------------------------------------------------
# sweeps


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def aggregate_sweep(rows: Iterable[Mapping[str, Any]], over: str = "seed") -> list[dict[str, Any]]:
    """Group sweep rows by config without ``over`` and summarise each numeric metric over the group.

    Returns one dict per group: the config (without ``over``), ``n`` and ``<metric>`` ->
    ``(mean, ci95 half-width)``, in the order groups first appear.
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        config = {k: v for k, v in row.get("config", {}).items() if k != over}
        key = json.dumps(config, sort_keys=True, default=str)
        g = groups.setdefault(key, {"config": config, "values": {}, "n": 0})
        g["n"] += 1
        for name, value in row.get("metrics", {}).items():
            if _is_number(value):
                g["values"].setdefault(name, []).append(float(value))
    out = []
    for g in groups.values():
        entry: dict[str, Any] = {"config": g["config"], "n": g["n"]}
        entry["metrics"] = {name: mean_ci95(vals) for name, vals in g["values"].items()}
        out.append(entry)
    return out


def sweep_table(
    rows: Sequence[Mapping[str, Any]], brief: bool = False
) -> tuple[list[str], list[list[str]]]:
    """Header and body of the aggregated sweep table: varying config keys, n, metric mean +/- CI.

    ``brief`` drops nested metrics (names with a dot, e.g. per-state policies) for terminal output.
    """
    groups = aggregate_sweep(rows)
    keys: list[str] = []
    for g in groups:
        keys.extend(k for k in g["config"] if k not in keys)
    # Keys with one value across all groups say nothing in a comparison table.
    varying = [k for k in keys if len({json.dumps(g["config"].get(k), default=str) for g in groups}) > 1]
    shown_keys = varying or keys[:1]
    metrics: list[str] = []
    for g in groups:
        metrics.extend(m for m in g["metrics"] if m not in metrics and not (brief and "." in m))
    header = shown_keys + ["n"] + metrics
    body = []
    for g in groups:
        line = [_fmt(g["config"].get(k, "")) for k in shown_keys] + [str(g["n"])]
        for m in metrics:
            if m in g["metrics"]:
                mean, ci = g["metrics"][m]
                line.append(_fmt(mean) if math.isnan(ci) else f"{_fmt(mean)} ± {_fmt(ci)}")
            else:
                line.append("")
        body.append(line)
    return header, body


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # a line still being written (or cut by a kill) is not a row yet
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                rows.append(obj)
    return rows


def _sweep_blocks(folder: Path, files: set[str]) -> list[Block]:
    from lola_zoo.experiments.sweep import expand_cells, read_results, spec_from_dict

    path = folder / "results.jsonl"
    rows = read_results(path)  # a corrupt line is an error naming it, not "0 cells finished"
    blocks = []
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        blocks.append(Block("text", "The last line of `results.jsonl` is incomplete (a sweep still running, or "
                                    "killed while writing it) and is left out."))
    spec = None
    if "sweep.json" in files:
        spec = _load_json(folder / "sweep.json")
        try:
            ids = {c.id for c in expand_cells(spec_from_dict(spec))}
        except (ValueError, KeyError, TypeError):  # a spec this process cannot expand: show every row
            ids = {r["cell_id"] for r in rows}
        other = [r for r in rows if r["cell_id"] not in ids]
        if other:  # the same split as results.csv: rows of an earlier, different spec are not this sweep's
            rows = [r for r in rows if r["cell_id"] in ids]
            blocks.append(Block("text", f"{len(other)} row(s) of another sweep configuration in `results.jsonl` "
                                        "are left out."))
    n_seeds = len({json.dumps(r.get("config", {}).get("seed")) for r in rows})
    total = ""
    if isinstance(spec, dict) and isinstance(spec.get("grid"), dict):
        n_cells = math.prod(len(v) for v in spec["grid"].values() if isinstance(v, list)) * len(
            spec.get("seeds") or [0])
        total = f" of {n_cells}"
    kind = spec.get("kind") if isinstance(spec, dict) else (rows[0].get("kind") if rows else "?")
    blocks.append(Block("text", f"Sweep of kind `{kind}`: {len(rows)}{total} cells finished, "
                                f"{n_seeds} seed(s). Metrics: mean ± 95% confidence half-width over seeds."))
    if rows:
        header, body = sweep_table(rows)
        blocks.append(Block("table", header=header, rows=body))
    if isinstance(spec, dict):
        blocks.append(Block("code", "spec: " + json.dumps(spec)))
    if "errors.jsonl" in files:
        errors = _read_jsonl(folder / "errors.jsonl")
        if errors:
            blocks.append(Block("text", f"{len(errors)} failed attempt(s) logged in `errors.jsonl`; "
                                        f"first: {errors[0].get('error', '?')}"))
    return blocks


# ---------------------------------------------------------------------------------------------
# generic files


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        if len(v) > 8:
            return f"[{len(v)} values]"
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, dict):
        return json.dumps(v, default=str)[:80]
    s = str(v)
    try:  # CSV cells arrive as text
        return _fmt(int(s)) if s.lstrip("-").isdigit() else _fmt(float(s))
    except ValueError:
        return s


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            items.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return items
    return [(prefix or "value", obj)]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):
        return None


def _json_blocks(path: Path, rel: str) -> list[Block]:
    obj = _load_json(path)
    if obj is None:
        return [Block("text", f"`{rel}`: not readable as JSON.")]
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        return [Block("text", f"`{rel}`:"), _dict_rows_table([dict(_flatten(x)) for x in obj])]
    # A list of records inside a summary (e.g. its result rows) reads best as its own table.
    record_lists = {}
    if isinstance(obj, dict):
        record_lists = {k: v for k, v in obj.items()
                        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
        obj = {k: v for k, v in obj.items() if k not in record_lists}
    items = _flatten(obj)
    rows = [[f"`{k}`", _fmt(v)] for k, v in items[:MAX_JSON_ITEMS]]
    if len(items) > MAX_JSON_ITEMS:
        rows.append(["…", f"{len(items) - MAX_JSON_ITEMS} more"])
    blocks = [Block("text", f"`{rel}`:"), Block("table", header=["key", "value"], rows=rows)] if rows else []
    for key, records in record_lists.items():
        blocks += [Block("text", f"`{rel}` → `{key}` ({len(records)} rows):"),
                   _dict_rows_table([dict(_flatten(x)) for x in records])]
    return blocks


def _dict_rows_table(rows: Sequence[Mapping[str, Any]]) -> Block:
    header: list[str] = []
    for r in rows:
        header.extend(k for k in r if k not in header)
    extra = len(header) - MAX_COLUMNS
    header = header[:MAX_COLUMNS]
    body = [[_fmt(r.get(k, "")) for k in header] for r in rows]
    if len(body) > MAX_ROWS:
        gap = ["…"] * len(header)
        gap[0] = f"… {len(body) - HEAD - TAIL} rows …"
        body = body[:HEAD] + [gap] + body[-TAIL:]
    block = Block("table", header=header, rows=body)
    if extra > 0:
        block.text = f"({extra} more columns not shown)"
    return block


def _csv_blocks(path: Path, rel: str) -> list[Block]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return [Block("text", f"`{rel}`: empty.")]
    return [Block("text", f"`{rel}` ({len(rows)} rows):"), _dict_rows_table(rows)]


def _jsonl_blocks(path: Path, rel: str) -> list[Block]:
    rows = [dict(_flatten(r)) for r in _read_jsonl(path)]
    if not rows:
        return [Block("text", f"`{rel}`: no complete rows.")]
    return [Block("text", f"`{rel}` ({len(rows)} rows):"), _dict_rows_table(rows)]


def build_report(run_dir: str | os.PathLike[str], title: str | None = None) -> list[Block]:
    """Blocks of the report on ``run_dir``: one section per folder holding results, files sorted."""
    root = Path(run_dir)
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"run folder {str(root)!r} is a file, not a folder")
    if not root.is_dir():
        raise FileNotFoundError(f"run folder {str(root)!r} does not exist")
    blocks = [Block("heading", title or f"Report: {root.resolve().name}", level=1)]
    found = False
    for folder, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        here = Path(folder)
        files = {f for f in filenames if not f.startswith(".")}
        if here == root:
            files -= set(REPORT_NAMES)
        section: list[Block] = []
        images: list[Block] = []
        sweep = "results.jsonl" in files
        if sweep:
            section += _sweep_blocks(here, files)
        for name in sorted(files):
            path = here / name
            rel = path.relative_to(root).as_posix()
            suffix = path.suffix.lower()
            if sweep and name in ("results.jsonl", "results.csv", "sweep.json", "errors.jsonl"):
                continue
            if suffix == ".json":
                section += _json_blocks(path, rel)
            elif suffix == ".csv":
                section += _csv_blocks(path, rel)
            elif suffix == ".jsonl":
                section += _jsonl_blocks(path, rel)
            elif suffix in IMAGE_SUFFIXES:
                images.append(Block("image", text=path.stem, src=rel))
        section += images  # tables first, then the plots
        if section:
            found = True
            rel_dir = here.relative_to(root).as_posix()
            blocks.append(Block("heading", "(top level)" if rel_dir == "." else rel_dir, level=2))
            blocks += section
    if not found:
        raise ValueError(f"{root}: no results found (expected results.jsonl, *.json, *.csv or images)")
    return blocks


# ---------------------------------------------------------------------------------------------
# rendering


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence[Block]) -> str:
    """Markdown text of the blocks (GitHub-flavoured tables)."""
    out: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            out.append("#" * b.level + " " + b.text)
        elif b.kind == "text":
            out.append(b.text)
        elif b.kind == "table":
            lines = ["| " + " | ".join(_md_cell(h) for h in b.header) + " |",
                     "|" + "|".join("---" for _ in b.header) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            if b.text:
                lines.append("")
                lines.append(b.text)
            out.append("\n".join(lines))
        elif b.kind == "image":
            out.append(f"![{b.text}]({b.src})")
        elif b.kind == "code":
            out.append("```\n" + b.text + "\n```")
    return "\n\n".join(out) + "\n"


def _inline_code(s: str) -> str:
    """Escape text and turn `backticks` into <code>, the only markup our text blocks use."""
    parts = html.escape(s).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def render_html(blocks: Sequence[Block]) -> str:
    """A standalone HTML page of the blocks (images linked relative to the report)."""
    title = next((b.text for b in blocks if b.kind == "heading"), "Report")
    body: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif b.kind == "text":
            body.append(f"<p>{_inline_code(b.text)}</p>")
        elif b.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(f"<td>{_inline_code(c)}</td>" for c in r) + "</tr>" for r in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            if b.text:
                body.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "image":
            body.append(f'<figure><img src="{html.escape(b.src)}" alt="{html.escape(b.text)}">'
                        f"<figcaption>{html.escape(b.src)}</figcaption></figure>")
        elif b.kind == "code":
            body.append(f"<pre><code>{html.escape(b.text)}</code></pre>")
    style = ("body{font-family:sans-serif;max-width:70em;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .5em;"
             "text-align:right}th{background:#f3f3f3}img{max-width:100%}pre{background:#f6f6f6;padding:.5em}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_report(run_dir: str | os.PathLike[str], fmt: str = "md", title: str | None = None) -> Path:
    """Write ``report.md`` or ``report.html`` into ``run_dir`` (atomically) and return its path."""
    if fmt not in ("md", "html"):
        raise ValueError(f"format must be 'md' or 'html', got {fmt!r}")
    blocks = build_report(run_dir, title)
    text = render_markdown(blocks) if fmt == "md" else render_html(blocks)
    return atomic_write_text(Path(run_dir) / f"report.{fmt}", text)
