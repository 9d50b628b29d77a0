"""``estlab serve EXPORT_DIR``: the command line of the predict server.

Wire it into the main parser with :func:`add_serve_command`, or run ``python -m estlab.export.cli``.

Examples
--------
>>> main(["serve", "model_dir/export", "--model-name", "adult", "--port", "8501"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from estlab.export.server import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_ROWS


def add_serve_command(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``serve`` subcommand to an ``argparse`` subparsers object; its handler is :func:`run_serve`.

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> serve = add_serve_command(parser.add_subparsers(dest="command"))
    >>> parser.parse_args(["serve", "exports"]).port
    8501
    """
    parser = subparsers.add_parser(
        "serve",
        help="serve an export over TensorFlow Serving's REST predict API",
        description="Serve an export (or the newest version under a base directory) with TF Serving's "
        "REST API.",
    )
    parser.add_argument("export_dir", help="an export directory, or a base directory of timestamped versions")
    parser.add_argument("--model-name", default="model", help="the NAME in /v1/models/NAME (default: model)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)"
    )
    parser.add_argument(
        "--port", type=int, default=8501, help="port (default: 8501, as TF Serving's REST port)"
    )
    parser.add_argument(
        "--max-rows", type=int, default=DEFAULT_MAX_ROWS, help="largest number of rows per request"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="largest request body in bytes"
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=0.0,
        help="with a base directory: look for a newer version this often and serve it (default 0: never)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    parser.set_defaults(handler=run_serve)
    return parser


def run_serve(args: argparse.Namespace) -> int:
    """Run the server for parsed ``serve`` arguments (blocks until interrupted).

    Examples
    --------
    >>> run_serve(argparse.Namespace(export_dir="exports", model_name="m", host="127.0.0.1", port=8501,
    ...                              max_rows=100, max_body_bytes=1 << 20, poll_seconds=0.0,
    ...                              log_level="info"))  # doctest: +SKIP
    """
    from estlab.export.server import serve

    serve(
        args.export_dir,
        args.model_name,
        args.host,
        args.port,
        max_rows=args.max_rows,
        max_body_bytes=args.max_body_bytes,
        poll_seconds=getattr(args, "poll_seconds", 0.0),
        log_level=args.log_level,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m estlab.export.cli serve EXPORT_DIR ...``.

    Examples
    --------
    >>> main(["serve", "exports", "--port", "8502"])  # doctest: +SKIP
    """
    parser = argparse.ArgumentParser(prog="estlab")
    add_serve_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
