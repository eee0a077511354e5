"""``lola-zoo envs``: list the registered dilemmas."""

from __future__ import annotations

import argparse

import lola_zoo

NAME = "envs"
HELP = "List the registered dilemmas with their descriptions."
ORDER = 90


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    """Print one line per registered id."""
    entries = lola_zoo.registered()
    width = max(map(len, entries))
    for env_id, description in entries.items():
        print(f"{env_id:<{width}}  {description}")
    return 0
