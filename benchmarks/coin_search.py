"""Search for Coin Game settings in which LOLA-PG picks its own coins and NL-PG does not (recurrent policy).

Each *variant* is a dict of settings (policy, input view, sizes, learning rates, LOLA's eta and
step normalisation, critic, entropy, lr schedule).  For each variant two *jobs* run: NL-PG vs
NL-PG and LOLA-PG vs LOLA-PG, seeds batched as a leading dimension (``StackedPolicy``), the same
loop as ``lola_zoo/experiments/coin.py``: one batched rollout, both learners compute, both apply.
NL jobs whose NL-relevant settings coincide are run once and shared between variants.

Every job writes ``OUT/jobs/<job>.json`` atomically every few updates (so a timeout loses little);
the main process rebuilds ``OUT/results.json`` and ``OUT/results.csv`` from those files after each
finished job and prints a table at the end (``--aggregate OUT`` rebuilds them after a kill).

Goal of the search: LOLA-PG own-coin share >= 70 % and NL-PG <= 55 % (mean over >= 5 seeds of
each seed's last 10 updates), with a recurrent policy, at a size that runs in <= 15 min on 2 CPU
cores (the ``cpu`` variants; the ``big`` ones show the trend toward the paper's size).

    python benchmarks/coin_search.py --tiny --variants all --out /tmp/cs      # CPU smoke test
    PYTHONUNBUFFERED=1 python benchmarks/coin_search.py --device cuda --variants all --seeds 5 \\
        --budget-s 420 --out $OUT/coin --jobs-dir /tmp/coin_jobs                                # the GPU search
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

# Runnable as `python benchmarks/coin_search.py` from a bare checkout (no install): the repo root first.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lola_zoo.agents.coin_linear import CoinLinearPolicy
from lola_zoo.agents.coin_policies import CoinConvPolicy, CoinCritic, CoinRecurrentPolicy
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.stacked import StackedPolicy
from lola_zoo.envs.batched import rollout
from lola_zoo.envs.batched_coin import BatchedCoinGame, RecordingCoinView, per_run_coin_metrics

# --------------------------------------------------------------------------- variants
#: Settings every variant starts from; a variant overrides some.  Every variant not marked ``big``
#: is "CPU-sized": 5 seeds, both pairings in about 15 minutes on the shared 2-core CPU (its ``cpu`` entry).
BASE: dict[str, Any] = dict(
    policy="gru",          # gru | lstm | conv | linear
    egocentric=True,       # roll the grid so the player sits in the centre
    channels=20, features=32, hidden=32,  # the paper's 20 filters, 32 recurrent units
    skip=False,            # a linear path from the (centred) grid to the logits beside the recurrent one
    episodes=64, length=20, updates=300,
    gamma=0.96, lr=0.02, lr_schedule="const",  # const | linear (decays to 10 % at the last update)
    eta=1.0, step_norm="adam", correction="taylor",
    critic=False, critic_lr=0.01, critic_steps=3,
    entropy=0.0,
    warmup=0,              # LOLA learners take plain NL steps for this many updates first
    anticipate=None,       # opponent parameters whose learning LOLA anticipates (None: all, the paper's form)
    seed_offset=0,         # added to --seed: the same variant on other seeds
    window=10,
)
#: Settings that NL-PG does not read: NL jobs equal in everything else are run once.
LOLA_ONLY = ("eta", "step_norm", "correction", "warmup", "anticipate")

# Ordered by the prior of success.  What CPU probes showed (docs/coin-game-results.md): the
# egocentric GRU learns to collect coins fast under NL-PG (4.7 -> 14 coins per 20-step episode in
# 50 updates), but with 64 episodes per update LOLA's correction is noise for it (cosine between
# two batches' corrections about -0.1, against +0.2 for the linear policy, whose 148 parameters
# make the second-order estimate far less noisy); at eta 0.1-1 (Adam units) LOLA-PG then unlearns
# coin collection and stays at 50 %.  So the levers tried first are the signal-to-noise ones:
# fewer parameters (SMALL), more episodes, a learned critic, shorter episodes.
def _v(name: str, base: dict[str, Any] | None, **kw: Any) -> dict[str, Any]:
    """A variant: ``base`` settings overridden by ``kw``, plus its name."""
    return {**(base or {}), **kw, "name": name}


SMALL = dict(channels=8, features=16, hidden=16)
# ``cpu``: seconds per update (LOLA, NL) on the shared 2-core CPU, 5 seeds, one torch thread;
# "m" measured (3 updates, --updates 3), "e" estimated from the measured ones.  ``updates`` is set so
# that both pairings fit about 15 minutes there: updates * (LOLA + NL) <= ~870 s.
E256 = dict(**SMALL, episodes=256, updates=160)
T10 = dict(**SMALL, episodes=256, length=10, updates=380)
SKIP = dict(**T10, skip=True)
VARIANTS: list[dict[str, Any]] = [
    # Round 4 (CPU, after the pilots): LOLA anticipates only the opponent's linear skip path, i.e. the
    # part that is the linear policy for which the effect is known; own gradients still reach every layer.
    _v("skip-antic-E64T20-lr05-adam1", SMALL, skip=True, updates=400, lr=0.05, anticipate=["skip"],
       cpu=(1.0, 0.42, "e"), why="GRU + skip, LOLA anticipates the skip path only, Adam eta 1, lr 0.05"),
    _v("skip-antic-E64T20-lr05-raw10", SMALL, skip=True, updates=400, lr=0.05, anticipate=["skip"], step_norm="none",
       eta=10.0, cpu=(1.0, 0.42, "e"), why="the same with the linear preset's raw eta 10"),
    # Round 3 (after two GPU pilots, docs/coin-game-results.md "Search for a recurrent setting"):
    # every plain recurrent variant stayed at 50 %; the GRU with a linear skip path rose in 2 of 5
    # seeds (57 % mean at update 279, still rising) and the feed-forward conv in 1 of 5.  So the skip
    # path comes first, with the steps and sizes around it.
    _v("skip-adam0.3", SKIP, eta=0.3, cpu=(1.7, 0.55, "e"), why="GRU + linear skip, eta 0.3 (pilot: 57 %, rising)"),
    _v("skip-adam1", SKIP, cpu=(1.7, 0.55, "e"), why="GRU + skip, eta 1"),
    _v("skip-raw10", SKIP, step_norm="none", eta=10.0, cpu=(1.7, 0.55, "e"), why="GRU + skip, raw eta 10"),
    _v("skip-E64T20-adam1", SMALL, skip=True, updates=400, cpu=(1.05, 0.42, "e"),
       why="GRU + skip at the linear preset's 64 x 20-step size"),
    _v("skip-E64T20-raw10", SMALL, skip=True, step_norm="none", eta=10.0, updates=400, cpu=(1.05, 0.42, "e"),
       why="GRU + skip, 64 x 20, the linear preset's raw eta 10"),
    _v("skip-adam0.3-critic", SKIP, eta=0.3, critic=True, updates=340, cpu=(1.95, 0.67, "e"), why="+ critic"),
    _v("skip-lstm-adam0.3", SKIP, policy="lstm", eta=0.3, updates=350, cpu=(1.85, 0.6, "e"), why="LSTM + skip"),
    _v("skip-paper-adam0.3", {**SKIP, "channels": 20, "features": 32, "hidden": 32, "updates": 160}, eta=0.3,
       cpu=(4.3, 1.2, "e"), why="paper widths + skip"),
    _v("skip-adam0.3-lrdecay", SKIP, eta=0.3, lr_schedule="linear", cpu=(1.7, 0.55, "e"),
       why="+ lr decaying to 10 % (against the late drift the linear policy shows)"),
    _v("skip-adam0.3-ent", SKIP, eta=0.3, entropy=0.01, updates=350, cpu=(1.85, 0.6, "e"), why="+ entropy bonus"),
    _v("lin-adam1-E64T20", None, policy="linear", lr=0.05, eta=1.0, updates=600, cpu=(0.1, 0.1, "m"),
       why="calibration: the linear preset's size, eta 1 in Adam units (CPU: 94 % at 250 updates)"),
    _v("conv-T10-seeds5-9", T10, policy="conv", seed_offset=5, cpu=(0.8, 0.3, "e"),
       why="feed-forward conv control on 5 new seeds (pilot: 1 of 5 seeds at 82 %)"),
    _v("big-skip-E1024-adam0.3", {**SKIP, "episodes": 1024, "length": 20, "updates": 150}, eta=0.3, big=True,
       first=True, cpu=(17.6, 5.2, "e"), why="GRU + skip, 1024 x 20-step episodes (toward the paper's batch)"),
    # Round 2 (second pilot, all ran to the end but skip-adam0.3): final LOLA share in brackets.
    _v("small-T10-adam0.1", T10, eta=0.1, cpu=(1.64, 0.53, "e"), why="eta 0.1 (Adam units)"),
    _v("small-T10-adam0.03", T10, eta=0.03, cpu=(1.64, 0.53, "e"), why="eta 0.03 (Adam units)"),
    _v("small-T10-warm50-adam0.3", T10, warmup=50, eta=0.3, cpu=(1.55, 0.53, "e"),
       why="50 NL updates first, then LOLA"),
    _v("small-T10-warm50-adam1", T10, warmup=50, cpu=(1.55, 0.53, "e"), why="50 NL updates first, eta 1"),
    _v("small-T10-warm50-raw10", T10, warmup=50, step_norm="none", eta=10.0, cpu=(1.55, 0.53, "e"),
       why="50 NL updates first, raw eta 10"),
    _v("small-T10-conv", T10, policy="conv", cpu=(0.8, 0.3, "e"), why="control: feed-forward conv"),
    _v("small-T10-conv-adam0.1", T10, policy="conv", eta=0.1, cpu=(0.8, 0.3, "e"), why="feed-forward conv, eta 0.1"),
    _v("lin-T10-adam1", T10, policy="linear", lr=0.05, cpu=(0.1, 0.1, "e"),
       why="linear policy at this size (calibration; does T10 x 256 keep the effect?)"),
    # Round 1 (first pilot, 330 s, several cut by the budget): every one ended at 49-53 %.
    _v("small-T10-adam1", T10, cpu=(1.64, 0.53, "m"), why="small GRU, 256 x 10-step episodes, eta 1 (Adam)"),
    _v("small-T10-adam1-critic", T10, critic=True, updates=340, cpu=(1.9, 0.65, "e"), why="+ learned critic"),
    _v("small-E256-adam1", E256, cpu=(3.76, 1.64, "m"), why="small GRU, 256 x 20-step episodes"),
    _v("small-E256-adam1-critic", E256, critic=True, updates=150, cpu=(4.41, 1.31, "m"), why="+ critic"),
    _v("small-T10-adam0.3", T10, eta=0.3, cpu=(1.64, 0.53, "e"), why="smaller anticipated step"),
    _v("small-T10-adam3", T10, eta=3.0, cpu=(1.64, 0.53, "e"), why="larger anticipated step"),
    _v("small-T10-raw10", T10, step_norm="none", eta=10.0, cpu=(1.64, 0.53, "e"), why="raw step, eta 10"),
    _v("small-T10-norm3", T10, step_norm="norm", eta=3.0, cpu=(1.64, 0.53, "e"), why="step of length 3"),
    _v("small-T10-lstm-critic", T10, policy="lstm", critic=True, updates=320, cpu=(2.0, 0.7, "e"),
         why="the reference code's LSTM + critic"),
    _v("small-T10-E512-adam1", {**T10, "episodes": 512, "updates": 190}, cpu=(3.3, 1.1, "e"),
         why="512 episodes of 10 steps"),
    _v("small-E64-adam1", SMALL, updates=400, cpu=(0.97, 0.40, "m"), why="64 x 20-step episodes"),
    _v("small-E64-adam1-critic", SMALL, critic=True, updates=400, cpu=(1.1, 0.5, "e"), why="+ critic"),
    _v("paper-E64-adam1", None, updates=220, cpu=(2.92, 0.87, "m"),
         why="paper widths (20 filters, 32 units), 64 episodes (CPU probe: 50 %, coins fall)"),
    _v("paper-T10-adam1-critic", None, length=10, episodes=256, critic=True, updates=150, cpu=(4.5, 1.3, "e"),
         why="paper widths, 256 x 10-step episodes, critic"),
    _v("small-T10-adam1-lr0.05", T10, lr=0.05, cpu=(1.64, 0.53, "e"), why="the linear preset's lr"),
    _v("small-T10-adam1-lr0.005", T10, lr=0.005, cpu=(1.64, 0.53, "e"), why="the paper's lr"),
    _v("small-T10-adam1-ent", T10, entropy=0.01, updates=350, cpu=(1.8, 0.6, "e"), why="entropy bonus"),
    _v("small-T10-adam1-lrdecay", T10, lr_schedule="linear", cpu=(1.64, 0.53, "e"), why="lr decays to 10 %"),
    _v("small-T10-adam1-look", T10, correction="lookahead", updates=300, cpu=(2.3, 0.53, "e"),
         why="LOLA-DiCE lookahead form"),
    _v("small-T10-raw-input", T10, egocentric=False, cpu=(1.6, 0.5, "e"), why="control: absolute grid"),
    # Calibration on the linear egocentric policy, which works on the CPU with a raw eta 10
    # (CPU probe, 250 updates: raw 10 -> 90 %, Adam 1 -> 94 %, Adam 0.3 -> 64 %).
    _v("lin-raw10", None, policy="linear", lr=0.05, step_norm="none", eta=10.0, updates=600, cpu=(0.1, 0.1, "m"),
         why="the linear preset (feed-forward; calibration only)"),
    _v("lin-adam1", None, policy="linear", lr=0.05, eta=1.0, updates=600, cpu=(0.1, 0.1, "m"),
         why="linear, eta 1 in Adam units (calibration only)"),
    # Toward the paper's size (not CPU-sized): more episodes, paper widths, 150-step episodes.
    # GPU (H200, 8 processes at once) s/update LOLA/NL measured: 0.64/0.37, 0.81/0.44, 2.95/1.76.
    _v("big-small-E1024-adam1-critic", {**E256, "episodes": 1024, "updates": 250}, critic=True, big=True,
         cpu=(17.6, 5.2, "e"), why="small GRU, 1024 x 20-step episodes"),
    _v("big-paper-E1024-adam1-critic", None, episodes=1024, critic=True, updates=200, big=True,
         cpu=(47.0, 14.0, "e"), why="paper widths, 1024 x 20-step episodes"),
    _v("big-paper-lstm-T150-E256-critic", None, policy="lstm", length=150, episodes=256, critic=True,
       updates=80, big=True, cpu=(90.0, 26.0, "e"), why="paper-like: LSTM + critic, 256 x 150-step episodes"),
]



def variant_settings(v: dict[str, Any]) -> dict[str, Any]:
    """A variant's full settings: BASE overridden by the variant (without its name and comment)."""
    s = {**BASE, **{k: val for k, val in v.items() if k not in ("name", "why", "big", "cpu", "first")}}
    return s


def tiny_settings(s: dict[str, Any]) -> dict[str, Any]:
    """The CPU smoke size of a variant: every code path, a few seconds."""
    return {**s, "episodes": 4, "length": min(s["length"], 6), "updates": 3, "channels": 4, "features": 8,
            "hidden": 8, "window": 2}


# --------------------------------------------------------------------------- one job
def _make_policy(s: dict[str, Any]) -> Any:
    """``seed -> module`` for the variant's policy."""
    if s["policy"] == "linear":
        return lambda seed: CoinLinearPolicy(3, 4, 4, egocentric=s["egocentric"], seed=seed)
    if s["policy"] == "conv":
        return lambda seed: CoinConvPolicy(3, 4, 4, s["channels"], s["features"], seed=seed, egocentric=s["egocentric"])
    if s["policy"] in ("gru", "lstm"):
        return lambda seed: CoinRecurrentPolicy(3, 4, 4, s["channels"], s["features"], s["hidden"], seed=seed,
                                                egocentric=s["egocentric"], cell=s["policy"], skip=s["skip"])
    raise ValueError(f"unknown policy {s['policy']!r}")


def _to(policy: StackedPolicy, device: torch.device) -> StackedPolicy:
    """Move a stacked policy, its template included (the template makes the recurrent initial state)."""
    policy.to(device)
    policy._template[0].to(device)  # not a registered submodule, so .to() above skips it
    return policy


def _learner(kind: str, s: dict[str, Any], own: StackedPolicy, other: StackedPolicy, runs: int, seed: int,
             device: torch.device) -> Any:
    """NL-PG or LOLA-PG with Adam, configured from the settings."""
    critic = None
    if s["critic"]:
        critic = _to(StackedPolicy(lambda k: CoinCritic(3, 4, 64, seed=k, egocentric=True), runs, seed), device)
    base = PolicyGradient(own, s["lr"], s["gamma"], "adam", True, entropy=s["entropy"], critic=critic,
                          critic_lr=s["critic_lr"], critic_steps=s["critic_steps"])
    if kind == "nl":
        return base
    return LOLA(base, other, "white-box", s["eta"], s["correction"], step_normalisation=s["step_norm"],
                anticipate=s.get("anticipate"))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)  # readers never see a half-written file


def _summary(recent: list[dict[str, torch.Tensor]]) -> dict[str, Any]:
    """Mean +- std over seeds of each seed's average over the recent updates."""
    if not recent:
        return {}
    share = torch.stack([m["own_coin_share"] for m in recent]).nanmean(0)
    points = torch.stack([m["points_per_episode"].mean(-1) for m in recent]).mean(0)
    coins = torch.stack([m["coins_per_episode"] for m in recent]).mean(0)

    def stats(t: torch.Tensor) -> dict[str, Any]:
        t = t.double().cpu()
        return {"mean": float(t.nanmean()), "std": float(t.std()) if t.numel() > 1 else 0.0,
                "per_seed": [round(float(x), 4) for x in t]}

    return {"own_coin_share": stats(share), "points": stats(points), "coins": stats(coins)}


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Train one pairing of one variant; write ``jobs/<id>.json`` as it goes; return the record."""
    torch.set_num_threads(1)  # tiny tensors: one thread per process is fastest, and processes run side by side
    s, kind, runs = job["settings"], job["kind"], job["seeds"]
    seed = job["seed"] + s.get("seed_offset", 0)
    device = torch.device(job["device"])
    path = Path(job["jobs_dir"]) / f"{job['id']}.json"
    record: dict[str, Any] = {"id": job["id"], "kind": kind, "settings": s, "seeds": runs, "device": str(device),
                              "status": "running", "updates_done": 0, "history": []}
    if time.time() > job["deadline"] - job["min_s"]:
        record["status"] = "skipped (budget)"
        _atomic_write(path, json.dumps(record))
        return record
    make = _make_policy(s)
    seat_seeds = [seed * 7919 + 1009 * i for i in range(2)]
    policies = [_to(StackedPolicy(make, runs, seat_seeds[i]), device) for i in range(2)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        learners = [_learner(kind, s, policies[i], policies[1 - i], runs, seat_seeds[i] + 500_000, device)
                    for i in range(2)]
    game = BatchedCoinGame((runs, s["episodes"]), 3, s["length"], device=device, check_actions=False)
    game.reset(seed=seed)
    env = RecordingCoinView(game)
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    recent: list[dict[str, torch.Tensor]] = []
    t0 = time.perf_counter()
    last_write = t0
    for update in range(s["updates"]):
        if time.time() > job["deadline"]:
            record["status"] = "truncated (budget)"
            break
        if s["lr_schedule"] == "linear":  # decay to 10 % at the last update
            for learner in learners:
                base = getattr(learner, "base", learner)
                for group in base.optimizer.param_groups:
                    group["lr"] = s["lr"] * (1.0 - 0.9 * update / max(1, s["updates"] - 1))
        episodes = rollout(env, policies, generator)
        if update < s["warmup"]:  # NL steps first (LOLA's base learner), so coin collection is learnt
            grads = [getattr(lr, "base", lr).gradient(episodes, seat) for seat, lr in enumerate(learners)]
        else:
            grads = [lr.gradient(episodes, seat) for seat, lr in enumerate(learners)]
        for lr, g in zip(learners, grads):  # both step after both computed: learning together
            lr.apply(g)
        own, other = env.pickups()
        m = {k: v.detach().cpu() for k, v in per_run_coin_metrics(episodes.rewards, own, other).items()}
        recent = (recent + [m])[-s["window"]:]
        share = m["own_coin_share"]
        record["history"].append({
            "update": update + 1,
            "share": round(float(share.nanmean()), 4),
            "share_std": round(float(share[~share.isnan()].std()) if (~share.isnan()).sum() > 1 else 0.0, 4),
            "points": round(float(m["points_per_episode"].mean()), 4),
            "coins": round(float(m["coins_per_episode"].mean()), 3),
            "t": round(time.perf_counter() - t0, 2),
        })
        record["updates_done"] = update + 1
        if time.perf_counter() - last_write > 10.0:
            record["final"] = _summary(recent)
            record["wall_s"] = time.perf_counter() - t0
            _atomic_write(path, json.dumps(record))
            last_write = time.perf_counter()
    else:
        record["status"] = "done"
    record["final"] = _summary(recent)
    record["wall_s"] = time.perf_counter() - t0
    record["s_per_update"] = record["wall_s"] / max(1, record["updates_done"])
    _atomic_write(path, json.dumps(record))
    return record


# --------------------------------------------------------------------------- jobs, aggregation, table
def _nl_key(s: dict[str, Any]) -> str:
    """The NL-relevant settings as a key: variants equal in these share one NL job."""
    return json.dumps({k: v for k, v in sorted(s.items()) if k not in LOLA_ONLY})


def build_jobs(names: list[str], seeds: int, seed: int, device: str, out: Path, deadline: float, tiny: bool,
               min_s: float) -> tuple[list[dict[str, Any]], dict[str, dict[str, str]]]:
    """Jobs in priority order (each variant's LOLA job, then its NL job unless shared) and variant -> job ids."""
    jobs: list[dict[str, Any]] = []
    plan: dict[str, dict[str, str]] = {}
    nl_ids: dict[str, str] = {}  # NL key -> the id of the NL job (named after the first variant needing it)
    by_name = {v["name"]: v for v in VARIANTS}
    for name in names:
        s = variant_settings(by_name[name])
        if tiny:
            s = tiny_settings(s)
        plan[name] = {}
        for kind in ("lola", "nl"):
            if kind == "nl" and _nl_key(s) in nl_ids:
                plan[name][kind] = nl_ids[_nl_key(s)]
                continue
            jid = f"{kind}__{name}"  # letters, digits, '.', '_', '-' only: such names travel everywhere
            if kind == "nl":
                nl_ids[_nl_key(s)] = jid
            plan[name][kind] = jid
            jobs.append(dict(id=jid, kind=kind, settings=s, seeds=seeds, seed=seed, device=device, out=str(out),
                             deadline=deadline, min_s=min_s, first=bool(by_name[name].get("first"))))
    # A long job marked ``first`` starts first, so that it finishes within the budget with the others
    # beside it; a budget overrun then cuts the short, low-priority jobs at the end of the queue.
    jobs.sort(key=lambda j: not j["first"])
    return jobs, plan


def aggregate(out: Path, plan: dict[str, dict[str, str]] | None = None, jobs_dir: Path | None = None
              ) -> list[dict[str, Any]]:
    """Rebuild results.json / results.csv from the job files; return one row per variant.

    results.json holds everything (settings, final numbers per seed, each pairing's per-update
    curve), so it alone suffices when only a few files can be brought back.
    """
    if plan is None:
        plan = json.loads((out / "plan.json").read_text())
    jobs_dir = out / "jobs" if jobs_dir is None else jobs_dir
    curves: dict[str, Any] = {}
    rows = []
    by_name = {v["name"]: v for v in VARIANTS}
    for name, ids in plan.items():
        v = by_name.get(name, {})
        row: dict[str, Any] = {"variant": name, "why": v.get("why", ""), "big": bool(v.get("big", False))}
        cpu = v.get("cpu")
        row["cpu_min_est"] = (variant_settings(v)["updates"] * (cpu[0] + cpu[1]) / 60.0) if cpu else math.nan
        for kind, jid in ids.items():
            path = jobs_dir / f"{jid}.json"
            rec = json.loads(path.read_text()) if path.exists() else {"status": "not started"}
            if rec.get("history"):
                curves[jid] = [[h["update"], h["share"], h["share_std"], h["points"], h["coins"], h["t"]]
                               for h in rec["history"]]
            fin = rec.get("final") or {}
            row[f"{kind}_status"] = rec.get("status")
            row[f"{kind}_updates"] = rec.get("updates_done", 0)
            row[f"{kind}_share"] = fin.get("own_coin_share", {}).get("mean", math.nan)
            row[f"{kind}_share_std"] = fin.get("own_coin_share", {}).get("std", math.nan)
            row[f"{kind}_points"] = fin.get("points", {}).get("mean", math.nan)
            row[f"{kind}_coins"] = fin.get("coins", {}).get("mean", math.nan)
            row[f"{kind}_wall_s"] = rec.get("wall_s", math.nan)
            row[f"{kind}_s_per_update"] = rec.get("wall_s", math.nan) / max(1, rec.get("updates_done", 0) or 1)
            row[f"{kind}_per_seed"] = fin.get("own_coin_share", {}).get("per_seed", [])
            hist = rec.get("history", [])
            row[f"{kind}_peak_share"] = max((h["share"] for h in hist if h["share"] == h["share"]), default=math.nan)
        row["settings"] = variant_settings(v) if v else None
        row["jobs"] = ids
        row["success"] = bool(row.get("lola_share", 0) >= 0.70 and row.get("nl_share", 1) <= 0.55)
        rows.append(row)
    _atomic_write(out / "results.json", json.dumps(
        {"rows": rows, "base": BASE, "curve_columns": ["update", "share", "share_std", "points", "coins", "t_s"],
         "curves": curves}, default=str))
    buf = io.StringIO()
    fields = [k for k in rows[0] if k not in ("settings", "jobs")] if rows else []
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (json.dumps(v) if isinstance(v, list) else v) for k, v in r.items() if k in fields})
    _atomic_write(out / "results.csv", buf.getvalue())
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """A readable table: shares, points, updates done and seconds per update of each pairing."""
    head = (f"{'variant':34s} {'LOLA share':>14s} {'peak':>5s} {'NL share':>14s} {'LOLA pts':>8s} {'NL pts':>7s} "
            f"{'upd L/N':>9s} {'s/upd L/N':>11s} {'CPU min':>7s}  ok")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:34s} {100 * r['lola_share']:6.1f} ± {100 * r['lola_share_std']:4.1f} "
            f"{100 * r['lola_peak_share']:5.1f} {100 * r['nl_share']:6.1f} ± {100 * r['nl_share_std']:4.1f} "
            f"{r['lola_points']:+8.2f} {r['nl_points']:+7.2f} {r['lola_updates']:4d}/{r['nl_updates']:<4d} "
            f"{r['lola_s_per_update']:5.2f}/{r['nl_s_per_update']:<5.2f} {r['cpu_min_est']:7.1f}  "
            f"{'YES' if r['success'] else ''}"
            + ("" if r["lola_status"] == "done" and r["nl_status"] == "done"
               else f"  [{r['lola_status']}; {r['nl_status']}]"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the jobs (in worker processes when ``--workers`` > 1), write and print results."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu", help="cpu | cuda | auto")
    p.add_argument("--variants", default="all", help="comma-separated names, or 'all', or 'cpu' (not big)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/coin_search")
    p.add_argument("--budget-s", type=float, default=1e9, help="stop starting/continuing jobs after this many seconds")
    p.add_argument("--min-job-s", type=float, default=20.0, help="do not start a job with less time left than this")
    p.add_argument("--workers", type=int, default=None, help="processes at once (default: 8 on cuda, 1 on cpu)")
    p.add_argument("--updates", type=int, default=None, help="override every variant's update count")
    p.add_argument("--only", choices=("lola", "nl"), default=None, help="run only this pairing of each variant")
    p.add_argument("--tiny", action="store_true", help="CPU smoke size: every code path in seconds")
    p.add_argument("--jobs-dir", default=None, help="where the per-job files go (default OUT/jobs)")
    p.add_argument("--aggregate", action="store_true", help="only rebuild results from OUT/jobs and print")
    p.add_argument("--list", action="store_true", help="print the variants and exit")
    args = p.parse_args(argv)
    out = Path(args.out)
    if args.list:
        for v in VARIANTS:
            st = variant_settings(v)
            cpu = v.get("cpu", (math.nan, math.nan, "?"))
            print(f"{v['name']:32s} {st['updates']:4d} upd, CPU {cpu[0]:5.2f}+{cpu[1]:5.2f} s/upd ({cpu[2]}) = "
                  f"{st['updates'] * (cpu[0] + cpu[1]) / 60:5.1f} min  {v['why']}")
        return 0
    jobs_dir = Path(args.jobs_dir) if args.jobs_dir else out / "jobs"
    if args.aggregate:
        print(table(aggregate(out, jobs_dir=jobs_dir)))
        return 0
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    names = [v["name"] for v in VARIANTS]
    if args.variants == "cpu":
        names = [v["name"] for v in VARIANTS if not v.get("big")]
    elif args.variants != "all":
        names = [n.strip() for n in args.variants.split(",") if n.strip()]
        unknown = set(names) - {v["name"] for v in VARIANTS}
        if unknown:
            p.error(f"unknown variants {sorted(unknown)}; --list shows them")
    out.mkdir(parents=True, exist_ok=True)
    jobs_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    jobs, plan = build_jobs(names, args.seeds, args.seed, device, out, start + args.budget_s, args.tiny, args.min_job_s)
    for j in jobs:
        j["jobs_dir"] = str(jobs_dir)
    if args.only is not None:
        jobs = [j for j in jobs if j["kind"] == args.only]
    if args.updates is not None:
        for j in jobs:
            j["settings"] = {**j["settings"], "updates": args.updates}
    _atomic_write(out / "plan.json", json.dumps(plan, indent=1))
    # 8: measured on the H200, 12 processes made each update ~1.7x slower (less throughput than 8)
    workers = args.workers or (8 if device.startswith("cuda") else 1)
    print(f"coin_search: {len(names)} variants, {len(jobs)} jobs, {args.seeds} seeds, device {device}, "
          f"{workers} workers, budget {args.budget_s:.0f} s -> {out}", flush=True)
    done = 0

    def report(rec: dict[str, Any]) -> None:
        nonlocal done
        done += 1
        fin = rec.get("final", {}).get("own_coin_share", {})
        print(f"[{time.time() - start:6.0f} s] {done}/{len(jobs)} {rec['id']}: {rec['status']}, "
              f"{rec.get('updates_done', 0)} updates, share {fin.get('mean', math.nan):.3f} ± "
              f"{fin.get('std', math.nan):.3f}, {rec.get('wall_s', 0):.0f} s", flush=True)
        aggregate(out, plan, jobs_dir)

    if workers <= 1:
        for job in jobs:
            report(run_job(job))
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")  # CUDA cannot be used in forked children
        with ctx.Pool(workers) as pool:
            for rec in pool.imap_unordered(run_job, jobs):
                report(rec)
    rows = aggregate(out, plan, jobs_dir)
    print()
    print(table(rows))
    skipped = [r["variant"] for r in rows if "skipped" in str(r["lola_status"]) + str(r["nl_status"])]
    if skipped:
        print(f"\nskipped for the budget ({args.budget_s:.0f} s): {', '.join(skipped)}")
    print(f"\nsuccess = LOLA share >= 70 % and NL share <= 55 % (mean over {args.seeds} seeds of the last "
          f"{BASE['window']} updates). Files: {out}/results.json (curves included), results.csv; per job: {jobs_dir} "
          f"({time.time() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
