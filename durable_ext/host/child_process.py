"""The servers the host and the tests start as child processes (Azurite, PostgreSQL): free ports, a port
that answers, a child that dies with its parent, its output kept, and stopping its process group."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

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


OUTPUT_TAIL_LINES = 40


class ChildServer:
    """A server process in its own process group, its last lines of output kept for error messages.
    Subclasses start it with :meth:`_spawn`; :meth:`stop` signals the group with ``stop_signal``, then
    SIGKILL after ``stop_grace_s``."""

    stop_signal = signal.SIGTERM
    stop_grace_s = 5.0

    def __init__(self) -> None:
        self._process: asyncio.subprocess.Process | None = None
        self._output: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_LINES)
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    def output_tail(self) -> str:
        """The last lines the server wrote to stdout/stderr."""
        return "\n".join(self._output)

    async def start(self) -> None:
        raise NotImplementedError

    async def _spawn(self, *command: str, **options: Any) -> asyncio.subprocess.Process:
        self._output.clear()
        self._process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
            **options,
        )
        self._reader = asyncio.create_task(self._read_output(self._process))
        return self._process

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self._output.append(line.decode(errors="replace").rstrip())

    async def _drain_output(self) -> None:
        """Wait (a little) for the output of a process that exited."""
        if self._reader is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._reader), 2.0)

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            signal_group(process.pid, self.stop_signal)
            try:
                await asyncio.wait_for(process.wait(), self.stop_grace_s)
            except TimeoutError:
                signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
