"""Shared-policy PPO (Stable-Baselines3 through SuperSuit) in any registered dilemma.

One network plays every seat; in the IPD this self-play drifts towards mutual defection, the
outcome LOLA was designed to escape.

    python examples/sb3_parameter_sharing.py --env ipd --timesteps 200000
    python examples/sb3_parameter_sharing.py --env coin-game --max-steps 150 --timesteps 100000
"""

from __future__ import annotations

import argparse

import numpy as np
from stable_baselines3 import PPO

import lola_zoo
from lola_zoo.agents.sb3 import policy_table, sb3_vec_env


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train, print the episode return per step (and the memory-1 policy of a matrix game)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ipd", help="registered env id (default: ipd)")
    parser.add_argument("--timesteps", type=int, default=200_000, help="SB3 steps (all seats together)")
    parser.add_argument("--n-envs", type=int, default=8, help="game copies (default: 8)")
    parser.add_argument("--max-steps", type=int, default=50, help="rounds per episode (default: 50)")
    parser.add_argument("--gamma", type=float, default=0.96)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    venv = sb3_vec_env(args.env, n_envs=args.n_envs, max_steps=args.max_steps)
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=256, gamma=args.gamma, seed=args.seed,
                policy_kwargs={"net_arch": [32]})
    model.learn(total_timesteps=args.timesteps)
    returns = [float(info["r"]) / float(info["l"]) for info in model.ep_info_buffer]
    out = {"reward_per_step": float(np.mean(returns)) if returns else float("nan")}
    print(f"{args.env}: shared PPO after {model.num_timesteps} steps, "
          f"mean reward per step over the last {len(returns)} episodes: {out['reward_per_step']:+.3f}")
    spec = lola_zoo.spec(args.env)
    if spec.game is not None:
        labels = spec.game.state_labels(0)
        probs = policy_table(model, range(len(labels)))
        for label, row in zip(labels, probs):
            print(f"  P(action | {label:>5}) = {np.array2string(row, precision=2)}")
        out.update({f"p0_{label}": float(row[0]) for label, row in zip(labels, probs)})
    return out


if __name__ == "__main__":
    main()
