"""Sweeps: a grid of configurations x seeds, run on a process pool or a Ray cluster, resumable.

A sweep spec is a *kind* (what one cell computes), a *grid* of parameter values, fixed
*params* and a list of *seeds*.  Its cells are the grid's Cartesian product times the seeds;
each cell's config holds its seed, so its result does not depend on where or in which order it
ran, and its id is a hash of ``(kind, config)``.

Every finished cell is appended to ``results.jsonl`` as one line, flushed and fsynced by the
driver process alone: a line is complete or absent.  Re-running a sweep into the same folder
discards a trailing partial line (a run killed mid-write) and skips the cells already there.
At the end ``results.csv`` is rewritten atomically with the rows of *this* spec's cells only (a
line written twice counts once; rows of another spec run earlier in the folder stay in
``results.jsonl`` but not in the CSV), sorted by cell id, in a fixed column order: two runs of
the same spec give the same file, byte for byte, whatever the backend, the worker count or the
interruptions.

Backends differ only in scheduling: ``"local"`` submits :func:`run_cell` to a
``ProcessPoolExecutor``, ``"ray"`` submits the very same function as Ray remote tasks.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import importlib
import itertools
import json
import math
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, cast

from lola_zoo.io import atomic_write_csv, atomic_write_json, prepare_out_dir

__all__ = [
    "Cell",
    "SweepSpec",
    "SweepResult",
    "KINDS",
    "register_kind",
    "resolve_kind",
    "load_spec",
    "spec_from_dict",
    "expand_cells",
    "cell_id",
    "run_cell",
    "read_results",
    "run_sweep",
    "exact_value_cell",
    "exact_cell",
    "RESULTS_JSONL",
    "RESULTS_CSV",
    "SPEC_JSON",
    "ERRORS_JSONL",
]

RESULTS_JSONL = "results.jsonl"
RESULTS_CSV = "results.csv"
SPEC_JSON = "sweep.json"
ERRORS_JSONL = "errors.jsonl"
BACKENDS = ("local", "ray")

CellFunction = Callable[[dict], Mapping[str, Any]]

# name -> "module:function" (or a picklable top-level callable).  Strings keep the registry
# importable by worker processes that never saw a runtime ``register_kind`` call.
KINDS: dict[str, str | CellFunction] = {
    "exact": "lola_zoo.experiments.sweep:exact_cell",
    "train": "lola_zoo.experiments.engine:train_cell",
    "exact-value": "lola_zoo.experiments.sweep:exact_value_cell",
    "tournament-league": "lola_zoo.experiments.tournament:league_cell",
}

#: kinds whose cells may run several in one computation: kind -> ("module:function" grouping a list
#: of cell configs into lists of indices, "module:function" running one group and returning one
#: metrics dict or exception per config).  A group's rows equal the cells' own runs, bit for bit.
BATCHED_KINDS: dict[str, tuple[str, str]] = {
    "exact": ("lola_zoo.experiments.grid:batch_exact_cells", "lola_zoo.experiments.grid:run_exact_cells"),
}


#: kind -> "module:function" that checks one cell's config without running it (raises ValueError / TypeError /
#: KeyError naming the bad value), so that a parameter every cell gets wrong is one error before any cell runs
#: instead of every cell failing in the pool.
CHECKS: dict[str, str] = {
    "exact": "lola_zoo.experiments.grid:exact_cell_config",  # ExactConfig names every bad value
    "train": "lola_zoo.experiments.sweep:check_train_cell",
    "exact-value": "lola_zoo.experiments.sweep:exact_value_params",
    "tournament-league": "lola_zoo.experiments.sweep:check_league_cell",
}


def register_kind(name: str, target: str | CellFunction, *, override: bool = False) -> None:
    """Register a cell runner ``config -> metrics`` under ``name``, as ``"module:function"`` or a callable.

    A callable must be a top-level (picklable) function for the process-pool and Ray backends.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"kind name must be a non-empty string, got {name!r}")
    if not (callable(target) or (isinstance(target, str) and ":" in target)):
        raise ValueError(f"kind {name!r}: target must be a callable or 'module:function', got {target!r}")
    if name in KINDS and not override and KINDS[name] != target:
        raise ValueError(f"kind {name!r} is already registered; pass override=True to replace it")
    KINDS[name] = target


def _kind_target(kind: str) -> str | CellFunction:
    """The registered target of ``kind``; an unregistered ``"module:function"`` names itself."""
    if kind in KINDS:
        return KINDS[kind]
    if ":" in kind:
        return kind
    raise KeyError(f"unknown sweep kind {kind!r}; registered kinds: {', '.join(sorted(KINDS))} "
                   "(or give 'module:function')")


def resolve_kind(target: str | CellFunction) -> CellFunction:
    """Import a ``"module:function"`` target (or return a callable as is)."""
    if callable(target):
        return target
    if target in KINDS:
        return resolve_kind(KINDS[target])
    module_name, _, attr = str(target).partition(":")
    if not module_name or not attr:
        raise ValueError(f"kind target {target!r} must look like 'module:function'")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load sweep kind {target!r}: {exc}") from exc
    if not callable(fn):
        raise ValueError(f"sweep kind {target!r} is not callable")
    return fn


@dataclass(frozen=True)
class SweepSpec:
    """What to run.

    :param kind: a registered kind (``"exact"``, ``"exact-value"``) or ``"module:function"``.
    :param grid: parameter name -> list of values; the cells are the Cartesian product.
    :param seeds: one cell per grid point and seed; the seed goes into the cell's config.
    :param params: parameters shared by every cell (grid values override them).
    :param name: a label for reports.
    """

    kind: str
    grid: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    seeds: Sequence[int] = (0,)
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str = "sweep"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (what ``sweep.json`` holds)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "params": dict(self.params),
            "grid": {k: list(v) for k, v in self.grid.items()},
            "seeds": list(self.seeds),
        }


@dataclass(frozen=True)
class Cell:
    """One unit of work: a kind, its full config (seed included) and the config's stable id."""

    id: str
    kind: str
    config: Mapping[str, Any]


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: cells in the spec, run now, skipped as finished, failed.

    ``rows`` are this spec's finished cells in spec order; ``other`` counts rows of other
    configurations found in ``results.jsonl`` (kept there, left out of ``rows`` and the CSV).
    """

    out_dir: Path
    total: int
    ran: int
    skipped: int
    failed: list[tuple[str, str]]
    rows: list[dict[str, Any]]
    elapsed_s: float
    other: int = 0


def _count(value: Any) -> bool:
    """An int that is not a bool (JSON's true is not a count)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_seeds(value: Any) -> list[int]:
    if _count(value):
        if value < 1:
            raise ValueError(f"seeds: a count must be positive, got {value}")
        return list(range(value))
    if isinstance(value, Mapping):
        extra = sorted(set(map(str, value)) - {"start", "count"})
        if extra or "count" not in value:
            raise ValueError(f"seeds as a mapping takes 'count' and optionally 'start'; got {dict(value)!r}")
        start, count = value.get("start", 0), value["count"]
        if not _count(count) or count < 1:
            raise ValueError(f"seeds: count must be a positive integer, got {count!r}")
        if not _count(start) or start < 0:
            raise ValueError(f"seeds: start must be an integer >= 0, got {start!r}")
        return list(range(start, start + count))
    if isinstance(value, (list, tuple)) and value:
        seeds = []
        for s in value:
            if not _count(s) or s < 0:  # torch and numpy generators refuse negative seeds
                raise ValueError(f"seeds must be integers >= 0, got {s!r}")
            seeds.append(s)
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must be distinct, got {seeds}")
        return seeds
    raise ValueError(f"seeds must be a positive count, a non-empty list of integers or "
                     f"{{start, count}}; got {value!r}")


def spec_from_dict(data: Mapping[str, Any]) -> SweepSpec:
    """Validate a parsed spec: ``{kind, grid, seeds, params?, name?}``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"a sweep spec must be a mapping, got {type(data).__name__}")
    unknown = set(data) - {"kind", "grid", "seeds", "params", "name"}
    if unknown:
        raise ValueError(f"unknown sweep spec key(s) {sorted(unknown)}; expected kind, grid, seeds, params, name")
    if "kind" not in data or not isinstance(data["kind"], str):
        raise ValueError("a sweep spec needs 'kind' (e.g. 'exact' or 'exact-value')")
    _kind_target(data["kind"])  # fail early on unknown kinds
    grid = data.get("grid") or {}
    if not isinstance(grid, Mapping):
        raise ValueError(f"grid must map parameter names to lists of values, got {type(grid).__name__}")
    clean_grid: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)):
            values = [values]  # a scalar is a one-value axis
        if not values:
            raise ValueError(f"grid axis {key!r} is empty")
        if key == "seed":
            raise ValueError("'seed' cannot be a grid axis; list seeds under 'seeds'")
        canonical = [_canonical(v) for v in values]
        repeated = [v for i, v in enumerate(values) if canonical.index(canonical[i]) != i]
        if repeated:  # the same cell twice: it would run once and the axis would not mean what it says
            raise ValueError(f"grid axis {key!r} repeats {repeated[0]!r}; give each value once")
        clean_grid[str(key)] = list(values)
    raw_params = data.get("params") or {}
    if not isinstance(raw_params, Mapping):
        raise ValueError(f"params must map parameter names to values, got {type(raw_params).__name__} {raw_params!r}")
    params = dict(raw_params)
    if "seed" in params:
        raise ValueError("'seed' cannot be a fixed param; list seeds under 'seeds'")
    both = sorted(set(map(str, params)) & set(clean_grid))
    if both:  # the grid's values would silently override the fixed one
        raise ValueError(f"{both[0]!r} is both a fixed param and a grid axis; keep one")
    name = data.get("name", "sweep")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    return SweepSpec(
        kind=data["kind"],
        grid=clean_grid,
        seeds=_parse_seeds(data.get("seeds", 1)),
        params=params,
        name=name,
    )


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read a sweep spec from a JSON or YAML file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep spec {str(path)!r} does not exist")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML comes with the docs extra
            raise ValueError("reading a YAML spec needs PyYAML (pip install pyyaml); or write it as JSON") from exc
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return spec_from_dict(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def cell_id(kind: str, config: Mapping[str, Any]) -> str:
    """Stable id of a cell: the first 16 hex digits of SHA-256 over its kind and sorted config."""
    return hashlib.sha256(_canonical({"kind": kind, "config": dict(config)}).encode()).hexdigest()[:16]


def expand_cells(spec: SweepSpec) -> list[Cell]:
    """The cells of ``spec`` in grid order, seeds innermost; duplicate configs appear once."""
    keys = list(spec.grid)
    cells, seen = [], set()
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        for seed in spec.seeds:
            config = {**spec.params, **dict(zip(keys, values)), "seed": int(seed)}
            cid = cell_id(spec.kind, config)
            if cid not in seen:
                seen.add(cid)
                cells.append(Cell(cid, spec.kind, config))
    return cells


def _jsonable_metrics(metrics: Any, kind: str) -> dict[str, Any]:
    if not isinstance(metrics, Mapping):
        raise TypeError(f"kind {kind!r} must return a dict of metrics, got {type(metrics).__name__}")
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
            value = value.tolist()
        if isinstance(value, float) and not math.isfinite(value):
            value = repr(value)  # JSON has no NaN/inf; keep the fact as text
        out[str(key)] = value
    json.dumps(out)  # raises TypeError naming the value that cannot be written
    return out


def run_cell(target: str | CellFunction, kind: str, cell_id_: str, config: dict) -> dict[str, Any]:
    """Run one cell in whatever process the backend chose; returns its result row."""
    fn = resolve_kind(target)
    start = time.perf_counter()
    metrics = fn(dict(config))
    return _row(cell_id_, kind, config, metrics, time.perf_counter() - start)


def _row(cell_id_: str, kind: str, config: Mapping[str, Any], metrics: Any, seconds: float) -> dict[str, Any]:
    """A cell's result row, as ``results.jsonl`` holds it."""
    return {
        "cell_id": cell_id_,
        "kind": kind,
        "config": dict(config),
        "metrics": _jsonable_metrics(metrics, kind),
        "elapsed_s": round(seconds, 6),
    }


def run_unit(target: str | CellFunction, kind: str, cells: Sequence[tuple[str, dict]]) -> list[dict | BaseException]:
    """Run one unit of work — one cell, or a group of a batched kind in one computation — one row or error per cell."""
    if len(cells) == 1:
        try:
            return [run_cell(target, kind, cells[0][0], cells[0][1])]
        except Exception as exc:
            return [exc]
    runner = cast(Callable[..., Any], resolve_kind(BATCHED_KINDS[kind][1]))  # list of configs -> list of results
    start = time.perf_counter()
    results = runner([dict(config) for _, config in cells])
    each = (time.perf_counter() - start) / len(cells)  # the group's wall time, shared out
    return [res if isinstance(res, BaseException) else _row(cid, kind, config, res, each)
            for (cid, config), res in zip(cells, results)]


def group_cells(kind: str, cells: Sequence[Cell], batch: bool = True, parts: int = 1) -> list[tuple[Cell, ...]]:
    """Units of work: cells of a batched kind grouped by its grouping function, every other cell alone.

    ``parts``: split each group into about this many units, so that every worker gets one.
    """
    if not batch or kind not in BATCHED_KINDS or len(cells) < 2:
        return [(c,) for c in cells]
    grouping = cast(Callable[..., Any], resolve_kind(BATCHED_KINDS[kind][0]))  # configs, parts -> lists of indices
    return [tuple(cells[i] for i in group) for group in grouping([dict(c.config) for c in cells], parts=parts)]


def _unit_args(unit: Sequence[Cell]) -> tuple[str, list[tuple[str, dict]]]:
    return unit[0].kind, [(c.id, dict(c.config)) for c in unit]


def _unit_rows(
    unit: Sequence[Cell], results: Sequence[dict | BaseException] | None, exc: BaseException | None
) -> Iterator[tuple[Cell, dict | None, BaseException | None]]:
    """Per cell of a unit: its row, or its error (the unit's own error for every cell when the unit failed)."""
    for k, cell in enumerate(unit):
        res = exc if results is None else results[k]
        if isinstance(res, BaseException):
            yield cell, None, res
        else:
            yield cell, res, None


# ---------------------------------------------------------------------------------------------
# the results file


def read_results(path: str | os.PathLike[str], repair: bool = False) -> list[dict[str, Any]]:
    """Rows of a ``results.jsonl``, one per cell id; a trailing partial line (a killed write) is dropped.

    A cell id seen twice (a line copied, two runs racing without the lock) keeps its first row:
    cells are deterministic, so the copies agree.  With ``repair=True`` the file is also truncated
    to its last complete line, so appends that follow start on a fresh line.  A corrupt line *before* the last one is an error.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    rows, seen, good_end, pos = [], set(), 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl == -1:  # no newline: the write of this line never finished
            break
        line = data[pos:nl]
        if line.strip():
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or "cell_id" not in row:
                    raise ValueError("not a result row")
            except ValueError as exc:
                lineno = data.count(b"\n", 0, pos) + 1
                raise ValueError(f"{path}: line {lineno} is not a result row "
                                 f"({exc}); fix or remove that line") from None
            if row["cell_id"] not in seen:
                seen.add(row["cell_id"])
                rows.append(row)
        pos = good_end = nl + 1
    if repair and good_end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return rows


def _append_row(fh: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    """Append one row as one line and make it durable before the next cell counts as done.

    Returns the row as read back from that line, so a fresh row and one read on resume are the
    same object (key order, lists for tuples, plain floats): the CSV cannot tell them apart.
    """
    line = json.dumps(row, sort_keys=True, allow_nan=False)
    fh.write((line + "\n").encode("utf-8"))
    fh.flush()
    os.fsync(fh.fileno())
    return dict(json.loads(line))


def flat_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row: ``cell_id``, ``kind``, the config keys, then the metrics (``metric.`` on a clash)."""
    flat: dict[str, Any] = {"cell_id": row["cell_id"], "kind": row.get("kind", "")}
    for key, value in sorted(row.get("config", {}).items()):
        flat[key] = _csv_value(value)
    for key, value in sorted(row.get("metrics", {}).items()):
        flat[f"metric.{key}" if key in flat else key] = _csv_value(value)
    return flat


def _csv_value(value: Any) -> Any:
    # sort_keys: a nested dict must read the same whether it came from a worker or from the file.
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, tuple, dict)) else value


def write_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write result rows as CSV sorted by cell id, one per cell, in a fixed column order, atomically.

    Columns: ``cell_id``, ``kind``, the config keys sorted, then the metric keys sorted — never
    the order rows happened to arrive or be read in, so the file is comparable byte for byte.
    """
    unique = {r["cell_id"]: r for r in reversed(list(rows))}  # the first row of a cell id wins
    config_keys = sorted({str(k) for r in unique.values() for k in r.get("config", {})})
    metric_keys = sorted({str(k) for r in unique.values() for k in r.get("metrics", {})})
    fixed = {"cell_id", "kind", *config_keys}
    # A metric named like a config key is renamed in every row alike, whichever rows hold that key.
    column = {k: f"metric.{k}" if k in fixed else k for k in metric_keys}
    names = ["cell_id", "kind", *config_keys, *column.values()]
    flat = []
    for cid in sorted(unique):
        r = unique[cid]
        cells: dict[str, Any] = {"cell_id": cid, "kind": r.get("kind", "")}
        cells.update({str(k): _csv_value(v) for k, v in r.get("config", {}).items()})
        cells.update({column[str(k)]: _csv_value(v) for k, v in r.get("metrics", {}).items()})
        flat.append(cells)
    return atomic_write_csv(path, [{k: r.get(k, "") for k in names} for r in flat], names)


# ---------------------------------------------------------------------------------------------
# backends: only the scheduling differs


def _init_worker(threads: int, driver_pid: int | None = None) -> None:
    """Keep workers x threads within the machine, and make the worker die with the driver."""
    try:
        import torch

        torch.set_num_threads(threads)  # oversubscription makes every worker slower
    except ImportError:  # pragma: no cover
        pass
    if driver_pid is not None:
        import signal

        # Ctrl-C reaches the whole process group: the driver stops the pool, so a worker need not
        # die on it too, printing its own KeyboardInterrupt traceback over the driver's message.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _watch_driver(driver_pid)


def _watch_driver(driver_pid: int) -> None:
    """Start a daemon thread that ends this worker as soon as the driver process is gone.

    A killed driver (SIGKILL, OOM) runs no clean-up, and a pool worker only notices when it asks
    for its next task: until then it, the forkserver and the resource tracker (both kept alive by
    the worker's inherited pipes) linger, each worker holding its torch import.  The parent
    sentinel is a pipe whose write end only the driver holds: it reads EOF when the driver dies.
    """
    import threading

    parent = multiprocessing.parent_process()

    def watch() -> None:
        if parent is not None and parent.pid == driver_pid:
            parent.join()  # returns when the sentinel pipe reaches EOF: the driver has exited
        else:  # pragma: no cover - no sentinel (another start method): poll the pid instead
            while _pid_alive(driver_pid):
                time.sleep(0.5)
        os._exit(1)  # no clean-up to do: the driver owns the results file

    threading.Thread(target=watch, name="lola-zoo-driver-watch", daemon=True).start()


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - alive, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the running workers now instead of waiting for their cells."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        if proc.is_alive():
            proc.terminate()
    for proc in processes:
        proc.join(timeout=5)


def _local_backend(
    target: str | CellFunction, units: Sequence[tuple[Cell, ...]], workers: int
) -> Iterator[tuple[Cell, dict | None, BaseException | None]]:
    """Run units of cells on a local process pool; yield their cells as they finish."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    # fork after torch has started threads can deadlock; forkserver/spawn start clean workers.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    pool = cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(threads, os.getpid()))
    try:
        futures = {pool.submit(run_unit, target, *_unit_args(u)): u for u in units}
        for fut in cf.as_completed(futures):
            exc = fut.exception()
            yield from _unit_rows(futures[fut], None if exc else fut.result(), exc)
    except BaseException:  # Ctrl-C, SIGTERM (as an interrupt), the consumer closing us: no waiting for cells
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)


def _ray_backend(
    target: str | CellFunction, units: Sequence[tuple[Cell, ...]], workers: int, address: str | None = None
) -> Iterator[tuple[Cell, dict | None, BaseException | None]]:
    """Run the same :func:`run_unit` as Ray remote tasks (one CPU each); yield the cells as they finish."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("the ray backend needs Ray: pip install 'lola-zoo[ray]'") from exc
    started = False
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False)  # a running cluster keeps its own dashboard
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_unit)
        refs = {remote.remote(target, *_unit_args(u)): u for u in units}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    results, error = ray.get(ref), None
                except ray.exceptions.RayTaskError as exc:
                    results, error = None, exc.as_instanceof_cause()
                except Exception as exc:  # worker died, object lost, ...
                    results, error = None, exc
                yield from _unit_rows(refs[ref], results, error)
    finally:
        if started:
            ray.shutdown()


def _serial_backend(
    target: str | CellFunction, units: Sequence[tuple[Cell, ...]], workers: int
) -> Iterator[tuple[Cell, dict | None, BaseException | None]]:
    """Run units one after another in this process (``workers=0``; handy for debugging)."""
    for u in units:
        try:
            results, error = run_unit(target, *_unit_args(u)), None
        except Exception as exc:
            results, error = None, exc
        yield from _unit_rows(u, results, error)


class _FolderLock:
    """An exclusive lock on the sweep folder: two drivers appending to one file would duplicate rows."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / ".sweep.lock"
        self.fh: Any = None

    def __enter__(self) -> "_FolderLock":
        self.fh = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: no lock, documented
            pass
        except BlockingIOError:
            self.fh.close()
            raise RuntimeError(f"another sweep is running in {self.path.parent}; wait for it or use "
                               "another --out folder") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fh.close()  # closing releases the lock; the kernel also releases it on SIGKILL


def run_sweep(
    spec: SweepSpec,
    out_dir: str | os.PathLike[str],
    *,
    backend: str = "local",
    workers: int = 2,
    ray_address: str | None = None,
    progress: bool = True,
    batch: bool = True,
) -> SweepResult:
    """Run the cells of ``spec`` not yet in ``out_dir/results.jsonl``; append each as it finishes.

    :param spec: the sweep.
    :param out_dir: its folder; an existing ``results.jsonl`` there is resumed, not overwritten.
    :param backend: ``"local"`` (process pool) or ``"ray"`` (Ray tasks; ``ray_address`` for a cluster).
    :param workers: processes (local) or CPUs of a fresh local Ray instance; ``0`` runs in-process.
    :param progress: show a tqdm bar on stderr.
    :param batch: run cells of a batched kind (``exact`` on 2×2 games with closed-form rules) that differ
        only in lr, η, γ, init std, seed or runs as one computation; their rows are the same, bit for bit.
    """
    if not isinstance(spec, SweepSpec):
        raise TypeError(f"spec must be a SweepSpec (spec_from_dict / load_spec build one), got {type(spec).__name__}")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not _count(workers) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    if ray_address is not None and backend != "ray":
        raise ValueError(f"ray_address {ray_address!r} is for backend='ray'; the {backend!r} backend would ignore it")
    target = _kind_target(spec.kind)
    resolve_kind(target)  # an import error belongs here, not in every worker
    check_cells(spec)  # a parameter every cell gets wrong: one error now, not a failed pool
    out = prepare_out_dir(out_dir, "out_dir")  # a file or a read-only folder: refused before any cell runs
    t0 = time.perf_counter()
    with _FolderLock(out):
        results_path = out / RESULTS_JSONL
        existing = read_results(results_path, repair=True)
        done = {r["cell_id"] for r in existing}
        cells = expand_cells(spec)
        todo = [c for c in cells if c.id not in done]
        atomic_write_json(out / SPEC_JSON, spec.to_dict())
        failed: list[tuple[str, str]] = []
        new_rows: list[dict[str, Any]] = []
        if todo:
            units = group_cells(spec.kind, todo, batch, parts=1 if workers == 0 else max(workers, 1))
            if backend == "ray":
                stream = _ray_backend(target, units, max(workers, 1), ray_address)
            elif workers == 0:
                stream = _serial_backend(target, units, 0)
            else:
                stream = _local_backend(target, units, min(workers, len(units)))
            bar = _progress(len(cells), len(cells) - len(todo), spec.name, progress)
            with open(results_path, "ab") as fh:
                try:
                    for cell, row, exc in stream:
                        if exc is not None:
                            failed.append((cell.id, f"{type(exc).__name__}: {exc}"))
                            _log_error(out, cell, exc)
                        else:
                            assert row is not None  # a cell without an exception has a row
                            new_rows.append(_append_row(fh, row))
                        bar.update(1)
                finally:
                    # Close the backend now (an interrupt stops its workers) rather than when the
                    # traceback holding this frame is collected.
                    getattr(stream, "close", lambda: None)()
                    bar.close()
        # Only this spec's cells: rows of another configuration run earlier in this folder stay in
        # results.jsonl (they are reused if that configuration comes back) but are not its results.
        by_id = {r["cell_id"]: r for r in existing + new_rows}
        rows = [by_id[c.id] for c in cells if c.id in by_id]
        other = len(set(by_id) - {c.id for c in cells})
        write_csv(rows, out / RESULTS_CSV)
    return SweepResult(out, len(cells), len(new_rows), len(cells) - len(todo), failed, rows,
                       time.perf_counter() - t0, other)


def check_cells(spec: SweepSpec) -> None:
    """Check every cell's config with its kind's checker (:data:`CHECKS`), if it has one, without running it.

    Raises a ValueError naming the first bad cell's grid values and the checker's message.
    """
    check = CHECKS.get(spec.kind)
    if check is None:
        return
    fn = resolve_kind(check)
    checked: set[str] = set()
    for cell in expand_cells(spec):
        # The seed is the only per-cell value besides the grid's; one check per grid point is enough.
        key = _canonical({k: v for k, v in cell.config.items() if k != "seed"})
        if key in checked:
            continue
        checked.add(key)
        try:
            fn(dict(cell.config))
        except (ValueError, TypeError, KeyError) as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            where = {k: cell.config[k] for k in spec.grid}
            at = f" (cell {json.dumps(where, default=str)})" if where else ""
            raise ValueError(f"{spec.kind}{at}: {message}") from exc


def check_train_cell(config: Mapping[str, Any]) -> Any:
    """The TrainConfig a ``train`` cell would run (built, not trained): its errors name the bad value."""
    from lola_zoo.experiments.engine import TrainConfig, preset_config

    cfg = dict(config)
    preset = cfg.pop("preset", None)
    if preset is not None:
        return preset_config(str(preset), cfg.pop("game", "ipd"), tuple(cfg.pop("agents", ("lola", "lola"))), **cfg)
    return TrainConfig.from_dict(cfg)


def check_league_cell(config: Mapping[str, Any]) -> Any:
    """The TournamentConfig a ``tournament-league`` cell would play (built, not played)."""
    from lola_zoo.experiments.tournament import TournamentConfig

    cfg = dict(config)
    pairs = cfg.pop("pairs", None)
    if not isinstance(pairs, (list, tuple)) or not pairs:
        raise ValueError(f"'pairs' must be a non-empty list of [row, col] entrant pairs, got {pairs!r}")
    cfg.pop("seed", None)
    cfg["entrants"] = tuple(cfg.get("entrants") or sorted({str(name) for pair in pairs for name in pair}))
    return TournamentConfig(**cfg)


def _log_error(out: Path, cell: Cell, exc: BaseException) -> None:
    """Failed cells are kept out of the results (so a resume retries them) but logged."""
    with open(out / ERRORS_JSONL, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"cell_id": cell.id, "config": dict(cell.config),
                             "error": f"{type(exc).__name__}: {exc}"}, default=str) + "\n")


def _progress(total: int, initial: int, name: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="cell", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True)


# ---------------------------------------------------------------------------------------------
# built-in kinds


def exact_value_cell(config: dict) -> dict[str, float]:
    """Exact per-step values of ``n_pairs`` seeded random memory-1 policy pairs in a registered game.

    Config: ``game`` (id, default ``"ipd"``), ``gamma`` (0.96), ``n_pairs`` (64), ``logit_std`` (1.0:
    logits drawn from N(0, std^2) like the paper's initial policies; one sigmoid logit per state in
    two-action games, softmax logits otherwise), ``seed``.  Cheap and exact, so
    sweeps can be tested without any learner.
    """
    import torch

    from lola_zoo.envs.exact import exact_value_per_step

    game, gamma, n_pairs, std = exact_value_params(config)
    gen = torch.Generator().manual_seed(int(config["seed"]))
    # Two-action games: the paper's form, one sigmoid logit per state; otherwise softmax logits.
    policies = [
        std * torch.randn(n_pairs, game.n_states, *(() if n == 2 else (n,)), generator=gen, dtype=torch.float64)
        for n in game.n_actions
    ]
    values = exact_value_per_step(game, policies, gamma)  # (B, N)
    metrics: dict[str, float] = {}
    for i in range(game.n_players):
        metrics[f"value_{i}"] = float(values[:, i].mean())
        metrics[f"value_{i}_std"] = float(values[:, i].std()) if n_pairs > 1 else 0.0
    metrics["welfare"] = float(values.sum(-1).mean())
    return metrics


def exact_value_params(config: Mapping[str, Any]) -> tuple[Any, float, int, float]:
    """An ``exact-value`` cell's (game, gamma, n_pairs, logit_std), checked: each error names the parameter and value."""
    import lola_zoo

    allowed = {"game", "gamma", "n_pairs", "logit_std", "seed"}
    unknown = set(config) - allowed
    if unknown:
        raise ValueError(f"exact-value: unknown parameter(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    game = lola_zoo.game(str(config.get("game", "ipd")))
    gamma, n_pairs, std = config.get("gamma", 0.96), config.get("n_pairs", 64), config.get("logit_std", 1.0)
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 < gamma < 1.0:
        raise ValueError(f"exact-value: gamma must be a number in (0, 1), got {gamma!r}")
    if not _count(n_pairs) or n_pairs < 1:
        raise ValueError(f"exact-value: n_pairs must be a positive integer, got {n_pairs!r}")
    if isinstance(std, bool) or not isinstance(std, (int, float)) or not (math.isfinite(std) and std >= 0):
        raise ValueError(f"exact-value: logit_std must be a finite number >= 0, got {std!r}")
    return game, float(gamma), int(n_pairs), float(std)


def exact_cell(config: dict) -> dict[str, Any]:
    """One exact-gradient experiment of :mod:`lola_zoo.experiments.exact`, its summary as flat metrics.

    Config keys are :class:`~lola_zoo.experiments.exact.ExactConfig` fields (``game``,
    ``learners``, ``lr``, ``eta``, ``gamma``, ``steps``, ``init_std``, ...) with two renamings:
    the cell's ``seed`` seeds the initial logits, and ``runs`` (default 50, the paper's count) is
    the number of runs batched inside the cell (ExactConfig's ``seeds``).  Metrics:
    ``reward_<i>`` / ``reward_<i>_std`` (per step, after the last update), ``share_<outcome>`` (IPD:
    tit_for_tat, mutual_defection, all_cooperate; IMP: nash) and ``policy_<i>.<state>`` (mean final
    P(first action)).  Wall time is left to the row's ``elapsed_s`` so metrics stay reproducible.
    """
    from lola_zoo.experiments.exact import run_exact, summarize
    from lola_zoo.experiments.grid import exact_cell_config, exact_cell_metrics

    return exact_cell_metrics(summarize(run_exact(exact_cell_config(config))))
