"""``durable-ext``: the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import AppLoadError, ConfigurationError, DurableExtError
from .durable_commands import add_durable_commands, run_durable_command
from .host import FunctionsHost
from .logs import configure_logging
from .supervisor import Supervisor

log = logging.getLogger("durable_ext.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable-ext", description="Run Azure Durable Functions Python apps on a pure-Python host."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="serve the function app in --script-root")
    start.add_argument("--script-root", type=Path, default=Path("."), help="the app folder (default: .)")
    start.add_argument("--port", type=int, default=7071, help="HTTP port (default: 7071)")
    start.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    start.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING or ERROR")
    start.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="worker processes sharing the port and the task hub (default: 1)",
    )
    start.add_argument("--worker-process", action="store_true", help=argparse.SUPPRESS)
    add_durable_commands(commands)
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not '{text}'")
    return value


async def _run_host(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = FunctionsHost(args.script_root, host=args.host, port=args.port, worker_process=args.worker_process)
    await host.serve_forever(stop)


def _run(args: argparse.Namespace) -> int:
    if args.command == "durable":
        output, code = asyncio.run(run_durable_command(args))
        print(output)
        return code
    if args.workers == 1:
        asyncio.run(_run_host(args))
        return 0
    if args.port == 0:
        raise ConfigurationError("--workers needs a fixed --port: every worker serves the same one.")
    supervisor = Supervisor(args.script_root.resolve(), args.host, args.port, args.workers, args.log_level)
    return asyncio.run(supervisor.run())


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level if args.command == "start" else "WARNING")
    try:
        return _run(args)
    except (AppLoadError, ConfigurationError) as exc:
        print(f"durable-ext: {exc}", file=sys.stderr)
        return 2
    except DurableExtError as exc:  # refused by the task hub: unknown instance, wrong state, storage
        print(f"durable-ext: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
