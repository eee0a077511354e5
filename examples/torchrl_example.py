"""lola-zoo envs under TorchRL's PettingZooWrapper: spec check, a random rollout, a tit-for-tat policy.

    python examples/torchrl_example.py
"""

from __future__ import annotations

import torch
from tensordict.nn import TensorDictModule
from torchrl.envs.libs.pettingzoo import PettingZooWrapper
from torchrl.envs.utils import MarlGroupMapType, check_env_specs

import lola_zoo


def wrap(env_id: str, seed: int = 0, **env_kwargs) -> PettingZooWrapper:
    """A registered env as a TorchRL env; one group per agent keeps ``player_0``/``player_1`` keys."""
    return PettingZooWrapper(lola_zoo.make(env_id, **env_kwargs),
                             group_map=MarlGroupMapType.ONE_GROUP_PER_AGENT, seed=seed)


def tit_for_tat(obs_0: torch.Tensor, obs_1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Defect (1) exactly after the opponent defected: own-perspective states CD (2) and DD (4)."""
    # TorchRL one-hot encodes our Discrete(5) observation: (..., 1 agent, 5 states).
    return tuple((obs[..., 2] + obs[..., 4]).long() for obs in (obs_0, obs_1))


def main() -> dict[str, torch.Tensor]:
    """Run the checks and rollouts; returns the rollouts for inspection."""
    env = wrap("ipd", max_steps=10)
    check_env_specs(env)

    random_rollout = env.rollout(10)  # random actions
    actions = torch.stack([random_rollout[p, "action"].reshape(-1) for p in ("player_0", "player_1")], -1)
    rewards = random_rollout["next", "player_0", "reward"].reshape(-1)
    payoffs = torch.tensor(lola_zoo.game("ipd").payoffs[0])
    assert torch.equal(rewards, payoffs[actions[:, 0], actions[:, 1]].to(rewards.dtype))
    print("random rollout, player_0 rewards:", rewards.tolist())

    policy = TensorDictModule(
        tit_for_tat,
        in_keys=[("player_0", "observation"), ("player_1", "observation")],
        out_keys=[("player_0", "action"), ("player_1", "action")],
    )
    tft_rollout = env.rollout(10, policy=policy)
    print("TFT vs TFT, player_0 rewards:", tft_rollout["next", "player_0", "reward"].reshape(-1).tolist())

    coin = wrap("coin-game", max_steps=20)
    check_env_specs(coin)
    coin_rollout = coin.rollout(20)
    print("Coin Game rollout:", tuple(coin_rollout["player_0", "observation"].shape), "observations")
    return {"random": random_rollout, "tft": tft_rollout, "coin": coin_rollout}


if __name__ == "__main__":
    main()
