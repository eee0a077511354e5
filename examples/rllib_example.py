"""lola-zoo envs under RLlib: ParallelPettingZooEnv, one PPO policy per seat.

Needs ``pip install 'lola-zoo[rllib]'`` (``ray[rllib]``, which pins its own gymnasium; install it
in a separate environment if that clashes).  Import plus ``ray.init`` take ~15 s.

    python examples/rllib_example.py --iterations 5
"""

from __future__ import annotations

import argparse
from typing import Any

import lola_zoo


def env_creator(config: dict[str, Any]) -> Any:
    """RLlib's env factory: a registered dilemma (id in ``config["env_id"]``) as a MultiAgentEnv."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    config = dict(config)
    env_id = config.pop("env_id", "ipd")
    # RLlib's default models expect Box observations: use the one-hot form of the memory-1 state.
    if env_id != "coin-game":
        config.setdefault("observation_type", "onehot")
    return ParallelPettingZooEnv(lola_zoo.make(env_id, **config))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Train independent PPO policies (one per seat) for a few iterations; returns RLlib's results."""
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ipd")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=50)
    args = parser.parse_args(argv)

    register_env("lola_zoo", env_creator)
    seats = list(lola_zoo.make(args.env).possible_agents)
    config = (
        PPOConfig()
        .environment("lola_zoo", env_config={"env_id": args.env, "max_steps": args.max_steps})
        # RLlib takes the agent ids from a set: map by name, never by position.
        .multi_agent(policies=set(seats), policy_mapping_fn=lambda agent_id, *a, **kw: agent_id)
        .env_runners(num_env_runners=0)
        .training(train_batch_size=1000, minibatch_size=250, num_epochs=2, gamma=0.96)
    )
    ray.init(num_cpus=2, include_dashboard=False, ignore_reinit_error=True)
    try:
        algo = config.build_algo() if hasattr(config, "build_algo") else config.build()
        results = [algo.train() for _ in range(args.iterations)]
        for i, result in enumerate(results, 1):
            runners = result.get("env_runners", {})
            print(f"iteration {i}: episode return (sum of seats) {runners.get('episode_return_mean')}")
        algo.stop()
    finally:
        ray.shutdown()
    return results


if __name__ == "__main__":
    main()
