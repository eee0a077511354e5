"""``lola-zoo`` command line: one sub-command per module in :mod:`lola_zoo.commands`.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``;
they are discovered here, so adding a command never means editing this file.  Bad input ends
with one clear ``error:`` line and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from typing import Any, Sequence

import lola_zoo
import lola_zoo.commands

__all__ = ["main", "console_main", "build_parser"]


def _command_modules() -> list:
    modules = []
    for info in sorted(pkgutil.iter_modules(lola_zoo.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        modules.append(importlib.import_module(f"lola_zoo.commands.{info.name}"))
    return sorted(modules, key=lambda m: getattr(m, "ORDER", 100))


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The argument parser with every discovered sub-command, and the name -> module map."""
    parser = argparse.ArgumentParser(
        prog="lola-zoo",
        description="Iterated social dilemmas as PettingZoo environments, and LOLA agents that learn in them.",
    )
    parser.add_argument("--version", action="version", version=f"lola-zoo {lola_zoo.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {}
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        commands[module.NAME] = module
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lola-zoo`` console script."""
    parser, commands = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from lola_zoo.commands._common import Terminated

    previous = _terminate_as_interrupt()
    try:
        return int(commands[args.command].run(args) or 0)
    except Terminated:
        print("lola-zoo: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("lola-zoo: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"lola-zoo {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command could not read or write: name it, no traceback
        where = f": {exc.filename}" if exc.filename else ""
        print(f"lola-zoo {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt() -> Any:
    """Turn SIGTERM into :class:`Terminated` while a command runs; return the handler it replaces.

    Without it a ``kill`` ends the process at once: no checkpoint, and a process pool that is
    never shut down.  As an interrupt it runs the same clean-up as Ctrl-C.
    """
    from lola_zoo.commands._common import Terminated

    if threading.current_thread() is not threading.main_thread():
        return None  # signal handlers can only be set from the main thread

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    return signal.signal(signal.SIGTERM, handler)


def console_main() -> None:
    """The ``lola-zoo`` console script: :func:`main`, exiting with its status."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
