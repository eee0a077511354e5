"""GPU figures in one run: Coin Game LOLA-PG update at the paper's size, the twin's speed, exact LOLA throughput.

    python benchmarks/bench_gpu.py --out results/gpu.json          # needs a CUDA GPU; prints and writes JSON

Rows (each timed after a warm-up, with ``torch.cuda.synchronize``):

* ``coin_update_s``: one LOLA-PG vs LOLA-PG update of the paper's Coin Game size — 4000 episodes x 150
  steps, conv (20 filters) + LSTM(32) policy, both seats' gradients (second order) — through the engine.
* ``coin_twin_agent_steps_per_s``: the batched Coin Game alone, random actions, B = 4096 .. 1,048,576.
* ``exact_lola_seed_updates_per_s``: exact LOLA vs LOLA in the IPD (float32), 1000 and 1,000,000 seeds.
* ``exact_lola_1000x200_s``: 1000 seeds x 200 LOLA updates (float32), the closed form (the default)
  and the plain batched-autograd baseline of ``bench_exact_learners.py``, same GPU, same run.
* ``ipd_engine_update_s``: the engine's IPD ``quick`` preset update (10 seeds x 64 x 150), CUDA and CPU.

Without a GPU it says so and exits 0, so CPU-only CI can call it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(fn: Callable[[], Any], repeats: int, sync: bool) -> float:
    """Median wall time of ``fn`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def coin_update(device: str, episodes: int, steps: int) -> dict[str, Any]:
    """Seconds per LOLA-PG vs LOLA-PG update at ``episodes x steps`` with the paper's recurrent policy."""
    from lola_zoo.experiments.engine import Trainer, preset_config

    config = preset_config("paper", "coin-game", ("lola", "lola"), episodes_per_batch=episodes,
                           episode_length=steps, updates=10_000, device=device)
    trainer = Trainer(config)
    seconds = _timed(lambda: trainer.run(stop_after=1), repeats=2, sync=device.startswith("cuda"))
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None
    return {"episodes": episodes, "steps": steps, "policy": config.policy, "seconds_per_update": seconds,
            "agent_steps_per_s": 2 * episodes * steps / seconds, "peak_gpu_memory_gib": peak}


def coin_twin(device: str, batch: int, steps: int = 150) -> float:
    """Agent-steps per second of the batched Coin Game alone (random actions drawn beforehand)."""
    from lola_zoo.envs.batched_coin import BatchedCoinGame

    env = BatchedCoinGame(batch, max_steps=steps, device=device, check_actions=False)
    actions = torch.randint(4, (steps, batch, 2), device=device)

    def episode() -> None:
        env.reset(seed=0)
        for t in range(steps):
            env.step(actions[t])

    seconds = _timed(episode, repeats=3, sync=device.startswith("cuda"))
    return 2 * batch * steps / seconds


def exact_lola(device: str, seeds: int, steps: int = 50) -> float:
    """Seed-updates per second of exact LOLA vs LOLA in the IPD (float32)."""
    from lola_zoo.experiments.exact import ExactConfig, run_exact

    config = ExactConfig(game="ipd", learners=("lola", "lola"), seeds=seeds, steps=steps, dtype="float32",
                         device=device, threads=None)
    seconds = _timed(lambda: run_exact(config), repeats=2, sync=device.startswith("cuda"))
    return seeds * steps / seconds


def exact_lola_vs_plain(device: str, seeds: int = 1000, steps: int = 200) -> dict[str, float]:
    """Seconds for ``seeds x steps`` LOLA updates (float32): the closed form against the plain autograd baseline."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_exact_learners import library_update, plain_lola_update

    import lola_zoo
    from lola_zoo.experiments.exact import ExactConfig, initial_params, make_value_fn

    game = lola_zoo.game("ipd")
    params = initial_params(ExactConfig(seeds=seeds, dtype="float32", device=device), game)
    updates = {"closed_form": library_update(make_value_fn(game, 0.96), "lola", 1.0, 1.0),
               "plain_autograd": plain_lola_update(game, 0.96, 1.0, 1.0)}

    def run(update: Callable[[list[torch.Tensor]], list[torch.Tensor]]) -> None:
        current = list(params)
        for _ in range(steps):
            current = update(current)

    return {name: _timed(lambda u=u: run(u), repeats=2, sync=device.startswith("cuda")) for name, u in updates.items()}


def ipd_engine(device: str) -> float:
    """Seconds per update of the engine's IPD quick preset (10 seeds x 64 episodes x 150 steps, LOLA vs LOLA)."""
    from lola_zoo.experiments.engine import Trainer, preset_config

    trainer = Trainer(preset_config("quick", "ipd", ("lola", "lola"), updates=10_000, device=device))
    return _timed(lambda: trainer.run(stop_after=1), repeats=3, sync=device.startswith("cuda"))


def main(argv: list[str] | None = None) -> int:
    """Measure every row on the GPU (and the IPD row on the CPU beside it), print, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="JSON file for the figures")
    parser.add_argument("--coin-episodes", type=int, default=4000)
    parser.add_argument("--coin-steps", type=int, default=150)
    parser.add_argument("--twin-batches", type=int, nargs="+", default=[4096, 65536, 1_048_576])
    parser.add_argument("--exact-seeds", type=int, nargs="+", default=[1000, 1_000_000])
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here; nothing measured")
        return 0
    device = "cuda"
    figures: dict[str, Any] = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}

    def record(key: str, value: Any) -> None:
        figures[key] = value
        print(f"{key}: {value}", flush=True)
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(figures, indent=2))  # rewritten per row: a timeout loses nothing

    record("ipd_engine_update_s", {"cuda": ipd_engine("cuda"), "cpu": ipd_engine("cpu")})
    record("exact_lola_seed_updates_per_s", {str(s): exact_lola(device, s) for s in args.exact_seeds})
    record("exact_lola_1000x200_s", exact_lola_vs_plain(device))
    record("coin_twin_agent_steps_per_s", {str(b): coin_twin(device, b) for b in args.twin_batches})
    record("coin_update", coin_update(device, args.coin_episodes, args.coin_steps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
