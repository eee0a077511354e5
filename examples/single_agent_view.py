"""PPO, A2C or DQN (Stable-Baselines3) against a fixed or Axelrod opponent in a single-agent view.

Against always-defect the best response is to defect; against tit-for-tat it is to cooperate
when gamma > 1/2 and to defect otherwise.

    python examples/single_agent_view.py --opponent tft --gamma 0.96
    python examples/single_agent_view.py --opponent alld --algo dqn
    python examples/single_agent_view.py --opponent axelrod:Grudger     # needs lola-zoo[axelrod]
"""

from __future__ import annotations

import argparse

import numpy as np
from stable_baselines3 import A2C, DQN, PPO
from stable_baselines3.common.env_util import make_vec_env

import lola_zoo
from lola_zoo.agents import Agent, make_strategy
from lola_zoo.agents.sb3 import SingleAgentView, policy_table

ALGORITHMS = {"ppo": PPO, "a2c": A2C, "dqn": DQN}


def make_opponent(name: str, max_steps: int) -> Agent:
    """A fixed strategy (tft, alld, allc, random) or ``axelrod:<Strategy>``."""
    if name.startswith("axelrod:"):
        from lola_zoo.agents.axelrod_adapter import AxelrodAgent  # imports axelrod (slow): only here

        return AxelrodAgent(name.split(":", 1)[1], match_length=max_steps)
    return make_strategy(name)


def main(argv: list[str] | None = None) -> np.ndarray:
    """Train one learner against the opponent; print and return its P(cooperate) per state."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--opponent", default="tft", help="tft, alld, allc, random or axelrod:<Strategy>")
    parser.add_argument("--algo", default="ppo", choices=sorted(ALGORITHMS))
    parser.add_argument("--timesteps", type=int, default=20_000)
    parser.add_argument("--gamma", type=float, default=0.96)
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    venv = make_vec_env(
        lambda: SingleAgentView("ipd", 0, make_opponent(args.opponent, args.max_steps),
                                env_kwargs={"max_steps": args.max_steps}),
        n_envs=8, seed=args.seed,
    )
    kwargs = {"ppo": dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-3),
              "a2c": dict(n_steps=8, learning_rate=3e-3),
              "dqn": dict(learning_starts=500, exploration_fraction=0.3,
                          target_update_interval=250)}[args.algo]
    model = ALGORITHMS[args.algo]("MlpPolicy", venv, gamma=args.gamma, seed=args.seed,
                                  policy_kwargs={"net_arch": [32]}, **kwargs)
    model.learn(total_timesteps=args.timesteps)
    p_cooperate = policy_table(model, range(5))[:, 0]
    labels = lola_zoo.game("ipd").state_labels(0)
    print(f"{args.algo.upper()} vs {args.opponent} (gamma={args.gamma}), after {model.num_timesteps} steps:")
    print("  " + "  ".join(f"P(C|{s})={p:.2f}" for s, p in zip(labels, p_cooperate)))
    return p_cooperate


if __name__ == "__main__":
    main()
