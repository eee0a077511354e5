"""Put LOLA agents into your own PettingZoo loop.

Two LOLA-PG learners (white-box: each reads the other's policy parameters) play the iterated
prisoner's dilemma in an ordinary ParallelEnv loop; a third seat-mate, a fixed tit-for-tat, shows
that learners and strategies mix freely.  Run: ``.venv/bin/python examples/own_loop.py``.

The loop below is all a user writes; the agents only need act / observe / update.  For speed
(thousands of episodes per update) use ``lola_zoo.experiments.pg`` or ``lola-zoo train`` instead,
which step batched torch copies of the same game.
"""

from __future__ import annotations

import torch

import lola_zoo
from lola_zoo.agents import LOLA, Memory1Policy, PolicyGradient, PolicyGradientAgent, TitForTat, Transition


def make_lola_pair(seed: int = 0, opponent: str = "white-box") -> dict:
    """Two LOLA learners that shape each other (``opponent="black-box"`` gives LOLA-OM)."""
    gen = torch.Generator().manual_seed(seed)
    policies = [Memory1Policy(generator=gen) for _ in range(2)]  # the paper's 5 sigmoid logits
    agents = {}
    for seat in range(2):
        base = PolicyGradient(policies[seat], lr=1.0, gamma=0.96)  # NL-PG: REINFORCE with a baseline
        learner = LOLA(base, opponent_policy=policies[1 - seat], opponent=opponent)
        agents[f"player_{seat}"] = PolicyGradientAgent(learner, seat=seat, game="ipd", episodes_per_update=32)
        agents[f"player_{seat}"].seed(seed + seat)
    return agents


def main(episodes: int = 320) -> None:
    """Train with a hand-written loop and print the reward per step every 32 episodes."""
    env = lola_zoo.make("ipd", max_steps=50)
    agents = make_lola_pair()
    for episode in range(episodes):
        observations, infos = env.reset(seed=episode)
        for agent in agents.values():
            agent.reset()
        total = dict.fromkeys(agents, 0.0)
        while env.agents:
            actions = {name: agents[name].act(observations[name]) for name in env.agents}
            next_obs, rewards, terminations, truncations, infos = env.step(actions)
            for name in actions:
                agents[name].observe(Transition(observations[name], actions[name], rewards[name], next_obs[name],
                                                terminations[name], truncations[name], infos[name]))
                total[name] += rewards[name]
            observations = next_obs
        metrics = {name: agent.update() for name, agent in agents.items()}  # learns every 32 episodes
        if metrics["player_0"]:
            per_step = {name: round(r / env.max_steps, 2) for name, r in total.items()}
            p_coop = agents["player_0"].policy.probs()[:, 0].detach().numpy().round(2)
            print(f"episode {episode + 1:4d}  reward/step {per_step}  P(C | start,CC,CD,DC,DD) of player_0 {p_coop}")

    # The trained learner against a fixed strategy, in the same loop code (no learning).
    from lola_zoo.experiments.loop import play_episode

    result = play_episode(env, {"player_0": agents["player_0"], "player_1": TitForTat()}, seed=0, learn=False)
    print("trained player_0 vs TFT, returns:", result["returns"])


if __name__ == "__main__":
    main()
