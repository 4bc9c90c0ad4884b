"""``durable-ext``: the command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import signal
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..errors import AppLoadError, ConfigurationError, DurableExtError
from ..extension.options import MEMORY, DurableTaskOptions
from . import cli_arguments
from .durable_commands import add_durable_commands, run_durable_command
from .host import FunctionsHost
from .logs import configure_logging
from .sdk2_runtime import needs_sdk2_runtime, run_in_sdk2_runtime
from .settings import load_settings
from .sidecar_host import DEFAULT_GRPC_PORT, SidecarHost
from .supervisor import Supervisor

log = logging.getLogger("durable_ext.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable-ext",
        description="Run Azure Durable Functions Python apps on a pure-Python host.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # keeps --version on three lines
    )
    parser.add_argument(
        "--version",
        action="version",
        version=version_text(),
        help="print the versions of durable-ext, the Durable Functions SDK and Python, and exit",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="serve the function app in --script-root")
    start.add_argument("--script-root", type=Path, default=Path("."), help="the app folder (default: .)")
    start.add_argument(
        "--port", type=cli_arguments.port, default=7071, help="HTTP port, 0 for any free one (default: 7071)"
    )
    start.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    start.add_argument(
        "--log-level",
        type=cli_arguments.log_level,
        default=None,
        help="DEBUG, INFO (default), WARNING or ERROR",
    )
    start.add_argument(
        "--workers",
        type=cli_arguments.workers,
        default=1,
        help=f"processes sharing the port and the task hub (1 to {cli_arguments.MAX_WORKERS}, default: 1)",
    )
    start.add_argument(
        "--storage",
        type=cli_arguments.storage,
        default=None,
        help="the task hub's provider: azurestorage, or memory for a demo (nothing durable); "
        "default: host.json storageProvider.type, else azurestorage",
    )
    start.add_argument(
        "--grpc-port",
        type=cli_arguments.port,
        default=None,
        help="also serve the Durable Task gRPC protocol to clients on this port, 0 for any free one "
        "(an app of the 2.x SDK always has it; default: any free port for those, else not served)",
    )
    start.add_argument("--worker-process", action="store_true", help=argparse.SUPPRESS)
    _add_sidecar_command(commands)
    add_durable_commands(commands)
    return parser


def _add_sidecar_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sidecar = commands.add_parser(
        "sidecar",
        help="serve the task hub to Durable Task SDK workers and clients over gRPC (no app)",
        description="Serve TaskHubSidecarService, the backend protocol of every Durable Task SDK, on "
        "the task hub named by host.json in --script-root (if there is one), on any provider.",
    )
    sidecar.add_argument(
        "--script-root", type=Path, default=Path("."), help="where host.json and local.settings.json are"
    )
    sidecar.add_argument(
        "--port",
        type=cli_arguments.port,
        default=DEFAULT_GRPC_PORT,
        help=f"gRPC port, 0 for any free one (default: {DEFAULT_GRPC_PORT})",
    )
    sidecar.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    sidecar.add_argument(
        "--http-port",
        type=cli_arguments.port,
        default=None,
        help="also serve the management API and the monitor on this port (default: not served)",
    )
    sidecar.add_argument(
        "--storage", type=cli_arguments.storage, default=None, help="the task hub's provider"
    )
    sidecar.add_argument("--log-level", type=cli_arguments.log_level, default=None, help="DEBUG, INFO, ...")


def version_text() -> str:
    """``durable-ext X``, the SDK it runs apps with and the Python it runs on, one per line."""
    try:
        sdk = metadata.version("azure-functions-durable")
    except metadata.PackageNotFoundError:
        sdk = "not installed"
    return f"durable-ext {__version__}\nazure-functions-durable {sdk}\nPython {platform.python_version()}"


async def _run_host(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    host = FunctionsHost(
        args.script_root,
        host=args.host,
        port=args.port,
        worker_process=args.worker_process,
        storage=args.storage,
        grpc_port=args.grpc_port,
    )
    await host.serve_forever(stop)


async def _run_sidecar(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sidecar = SidecarHost(
        args.script_root, host=args.host, port=args.port, http_port=args.http_port, storage=args.storage
    )
    await sidecar.serve_forever(stop)


def _run(args: argparse.Namespace, argv: list[str]) -> int:
    if args.command == "start" and needs_sdk2_runtime(args.script_root.resolve()):
        run_in_sdk2_runtime(args.script_root.resolve(), argv)  # does not return
    if args.command == "sidecar":
        asyncio.run(_run_sidecar(args))
        return 0
    if args.command == "durable":
        output, code = asyncio.run(run_durable_command(args))
        print(output)
        return code
    if args.workers == 1:
        asyncio.run(_run_host(args))
        return 0
    if args.port == 0:
        raise ConfigurationError("--workers needs a fixed --port: every worker serves the same one.")
    if (args.storage or _configured_storage(args.script_root)) == MEMORY:
        raise ConfigurationError(
            "--workers cannot share a memory task hub: it lives in one process. Use --workers 1 with "
            "--storage memory, or the Azure Storage provider to share a hub between workers."
        )
    supervisor = Supervisor(args.script_root.resolve(), args.host, args.port, args.workers, args.log_level)
    return asyncio.run(supervisor.run())


def _configured_storage(script_root: Path) -> str:
    return DurableTaskOptions.from_settings(load_settings(script_root.resolve())).storage_type


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    configure_logging(args.log_level if args.command in ("start", "sidecar") else "WARNING")
    try:
        return _run(args, arguments)
    except (AppLoadError, ConfigurationError) as exc:
        print(f"durable-ext: {exc}", file=sys.stderr)
        return 2
    except DurableExtError as exc:  # refused by the task hub: unknown instance, wrong state, storage
        print(f"durable-ext: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
