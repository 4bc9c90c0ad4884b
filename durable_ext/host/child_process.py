"""Helpers for the servers the host and the tests start as child processes (Azurite, PostgreSQL):
free ports, a port that answers, a child that dies with its parent, and signalling its group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable

LOCALHOST = "127.0.0.1"


def free_ports(count: int, host: str = LOCALHOST) -> list[int]:
    """``count`` distinct TCP ports that were free on ``host`` a moment ago."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


async def port_accepts(host: str, port: int, timeout_s: float = 1.0) -> bool:
    """True if something accepts TCP connections on ``host:port``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def die_with_parent() -> Callable[[], None] | None:
    """On Linux, have the kernel SIGTERM the child when our process dies without stopping it (a test run
    killed by a timeout, a crashed host), so no orphan server keeps holding ports and memory."""
    if sys.platform != "linux":
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork; the child only calls it
    pr_set_pdeathsig = 1

    def set_parent_death_signal() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return set_parent_death_signal


def signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
