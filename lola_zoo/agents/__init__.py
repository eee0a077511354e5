"""Agents: the Agent protocol, fixed strategies, and learners (naive, LOLA, opponent modelling)."""

from lola_zoo.agents.base import Agent, Transition, memory1_state
from lola_zoo.agents.lola import LOLA
from lola_zoo.agents.naive import PolicyGradient, PolicyGradientAgent
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
    "Memory1Policy",
    "OpponentModel",
    "PolicyGradient",
    "PolicyGradientAgent",
    "WhiteBoxOpponent",
    "Agent",
    "AlwaysCooperate",
    "AlwaysDefect",
    "Memory1Strategy",
    "RandomStrategy",
    "TitForTat",
    "Transition",
    "make_strategy",
    "memory1_state",
]
