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

from estlab.export.batching import BatchingParameters
from estlab.export.server import (
    DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_ROWS,
    DEFAULT_READ_TIMEOUT,
)

_EPILOG = """\
examples:
  estlab serve model_dir/export --model-name adult
      serve the newest export on http://127.0.0.1:8501/v1/models/adult
  curl -d '{"instances": [{"age": 39, "education": "Bachelors"}]}' \\
      http://127.0.0.1:8501/v1/models/adult:predict
  ESTLAB_SERVE_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))') \\
      estlab serve model_dir/export --host 0.0.0.0 --workers 2
      serve other machines, two processes, every request needing
      the header "Authorization: Bearer $ESTLAB_SERVE_TOKEN"
  estlab serve model_dir/export --batch-timeout-micros 2000 --max-batch-size 512
      wait up to 2 ms for concurrent requests to join a batch of at most 512 rows

Concurrent requests are merged into one model call (dynamic batching, as TF Serving's
--enable_batching); each request still gets its own answer, and a bad request fails alone.
"""


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
        help="serve an export over TensorFlow Serving's REST API",
        description="Serve an export (or the newest version under a base directory) with TF Serving's\n"
        "REST API: POST /v1/models/NAME:predict, :classify and :regress, GET /v1/models/NAME,\n"
        "GET /v1/models/NAME/metadata.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("export_dir", help="an export directory, or a base directory of timestamped versions")
    parser.add_argument("--model-name", default="model", help="the NAME in /v1/models/NAME (default: model)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: 127.0.0.1, this machine only; another address warns unless a "
        "token is set)",
    )
    parser.add_argument(
        "--port", type=int, default=8501, help="port (default: 8501, as TF Serving's REST port)"
    )
    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="worker processes sharing the port, each with its own copy of the model (default: 1)",
    )
    parser.add_argument(
        "--auth-token",
        default=None,
        help="require the header 'Authorization: Bearer TOKEN' (default: $ESTLAB_SERVE_TOKEN, else no "
        "token; prefer the variable: other users can read command lines)",
    )
    parser.add_argument(
        "--max-rows",
        type=_positive_int,
        default=DEFAULT_MAX_ROWS,
        help=f"largest number of rows per request (default: {DEFAULT_MAX_ROWS})",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body in bytes (default: {DEFAULT_MAX_BODY_BYTES})",
    )
    batching = parser.add_argument_group("batching (as TF Serving's batching parameters)")
    batching.add_argument(
        "--enable-batching",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="merge concurrent requests into one model call (default: on)",
    )
    batching.add_argument(
        "--max-batch-size",
        type=_positive_int,
        default=BatchingParameters.max_batch_size,
        help=f"most rows in one merged batch; a larger request runs alone (default: "
        f"{BatchingParameters.max_batch_size})",
    )
    batching.add_argument(
        "--batch-timeout-micros",
        type=_non_negative_int,
        default=BatchingParameters.batch_timeout_micros,
        help="microseconds a batch waits for more requests; 0 takes what queued up while the previous "
        f"batch ran (default: {BatchingParameters.batch_timeout_micros})",
    )
    batching.add_argument(
        "--max-enqueued-batches",
        type=_positive_int,
        default=BatchingParameters.max_enqueued_batches,
        help="rows waiting beyond this many batches are answered 503 (default: "
        f"{BatchingParameters.max_enqueued_batches})",
    )
    limits = parser.add_argument_group("connections and processes")
    limits.add_argument(
        "--read-timeout",
        type=_positive_float,
        default=DEFAULT_READ_TIMEOUT,
        help=f"seconds a client may take to send one request, head and body (default: {DEFAULT_READ_TIMEOUT:g})",
    )
    limits.add_argument(
        "--keep-alive-timeout",
        type=_positive_float,
        default=DEFAULT_KEEP_ALIVE_TIMEOUT,
        help=f"seconds an idle connection stays open (default: {DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
    )
    limits.add_argument(
        "--torch-threads",
        type=_positive_int,
        default=1,
        help="torch threads per worker; small models are fastest on 1, use --workers for more cores "
        "(default: 1)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=0.0,
        help="with a base directory: look for a newer version this often and serve it (default: 0, never)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="server log level; info logs one line per request, never its body (default: info)",
    )
    parser.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="log one line per request at level info (default: on)",
    )
    parser.set_defaults(handler=run_serve)
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text}")
    return value


def run_serve(args: argparse.Namespace) -> int:
    """Run the server for parsed ``serve`` arguments (blocks until interrupted).

    Examples
    --------
    >>> parser = argparse.ArgumentParser()
    >>> _ = add_serve_command(parser.add_subparsers(dest="command"))
    >>> run_serve(parser.parse_args(["serve", "exports", "--workers", "2"]))  # doctest: +SKIP
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
        workers=getattr(args, "workers", 1),
        batching=BatchingParameters(
            enabled=getattr(args, "enable_batching", True),
            max_batch_size=getattr(args, "max_batch_size", BatchingParameters.max_batch_size),
            batch_timeout_micros=getattr(
                args, "batch_timeout_micros", BatchingParameters.batch_timeout_micros
            ),
            max_enqueued_batches=getattr(
                args, "max_enqueued_batches", BatchingParameters.max_enqueued_batches
            ),
        ),
        auth_token=getattr(args, "auth_token", None),
        read_timeout=getattr(args, "read_timeout", DEFAULT_READ_TIMEOUT),
        keep_alive_timeout=getattr(args, "keep_alive_timeout", DEFAULT_KEEP_ALIVE_TIMEOUT),
        torch_threads=getattr(args, "torch_threads", 1),
        access_log=getattr(args, "access_log", True),
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
