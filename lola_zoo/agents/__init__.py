"""Agents: the Agent protocol, fixed strategies, and learners (naive, LOLA, opponent modelling)."""

from lola_zoo.agents.base import Agent, Transition, memory1_state
from lola_zoo.agents.strategies import (
    AlwaysCooperate,
    AlwaysDefect,
    Memory1Strategy,
    RandomStrategy,
    TitForTat,
    make_strategy,
)

__all__ = [
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
