"""``lola-zoo report``: a Markdown or HTML report of any run or sweep folder."""

from __future__ import annotations

import argparse

NAME = "report"
HELP = "Write report.md (or report.html) with the tables and plots found in a run or sweep folder."
ORDER = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Run folder, format, title."""
    parser.add_argument("run_dir", help="folder written by lola-zoo exact/train/sweep/reproduce (searched recursively)")
    parser.add_argument("--format", choices=("md", "html"), default="md", help="report format (default: md)")
    parser.add_argument("--title", help="report title (default: the folder's name)")


def run(args: argparse.Namespace) -> int:
    """Build the report and print its path."""
    from lola_zoo.experiments.report import write_report

    path = write_report(args.run_dir, args.format, args.title)
    print(f"wrote {path}")
    return 0
