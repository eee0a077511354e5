"""Agents: the Agent protocol, fixed strategies, and learners (naive, LOLA, opponent modelling).

``PolicyGradientAgent`` is the in-loop agent of :mod:`lola_zoo.agents.in_loop`: NL-PG, LOLA-PG or
LOLA-OM in a plain PettingZoo parallel loop with any observation space and any torch policy
(``make_pg_agent`` builds one; ``observe_all`` feeds a loop's dicts to every agent).
"""

from lola_zoo.agents.base import Agent, Transition, memory1_state, observe_all
from lola_zoo.agents.in_loop import (
    MLPPolicy,
    PolicyGradientAgent,
    SB3PolicyModule,
    make_pg_agent,
    torch_policy_of,
)
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient
from lola_zoo.agents.opponent_model import OpponentModel, WhiteBoxOpponent
from lola_zoo.agents.policies import Memory1Policy
from lola_zoo.agents.strategies import (
    AlwaysCooperate,
    AlwaysDefect,
    Memory1Strategy,
    RandomStrategy,
    TitForTat,
    make_strategy,
)

__all__ = [
    "LOLA",
    "MLPPolicy",
    "Memory1Policy",
    "OpponentModel",
    "PolicyGradient",
    "PolicyGradientAgent",
    "SB3PolicyModule",
    "WhiteBoxOpponent",
    "Agent",
    "AlwaysCooperate",
    "AlwaysDefect",
    "Memory1Strategy",
    "RandomStrategy",
    "TitForTat",
    "Transition",
    "make_pg_agent",
    "make_strategy",
    "memory1_state",
    "observe_all",
    "torch_policy_of",
]
