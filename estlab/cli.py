"""The ``estlab`` command line: ``estlab demo`` runs the main job on a bundled dataset."""

from __future__ import annotations

import argparse
import sys


def _demo(args: argparse.Namespace) -> int:
    from estlab import datasets

    data = datasets.load(args.dataset)
    print(f"{data.name}: {len(data.train)} train / {len(data.test)} test rows, label {data.label!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``estlab`` console script.

    Examples
    --------
    >>> main(["demo", "--dataset", "penguins"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(prog="estlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the main job on a bundled dataset")
    demo.add_argument("--dataset", default="adult")
    demo.set_defaults(handler=_demo)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
