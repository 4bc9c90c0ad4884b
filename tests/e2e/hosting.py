"""Running `durable-ext start` as a subprocess on a free port, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningHost:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_host(
    script_root: Path,
    connection_string: str,
    log_path: Path,
    extra_env: dict[str, str],
    extra_args: Sequence[str] = (),
    *,
    launcher: Sequence[str] = (),
    address: str = "127.0.0.1",
) -> RunningHost:
    """``launcher`` prefixes the command (e.g. ``ip netns exec <ns>``); ``address`` is where callers reach
    the host (pass the matching ``--host`` in ``extra_args`` when it is not loopback)."""
    port = free_port()
    env = {**os.environ, "AzureWebJobsStorage": connection_string, **extra_env}
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [
            *launcher,
            sys.executable,
            "-m",
            "durable_ext",
            "start",
            "--script-root",
            str(script_root),
            "--port",
            str(port),
            *extra_args,
        ],
        cwd=str(REPO_ROOT),
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return RunningHost(f"http://{address}:{port}", process, log_path)


async def wait_until_serving(host: RunningHost, timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            if host.process.poll() is not None:
                raise RuntimeError(f"the host exited with {host.process.returncode}:\n{host.log()}")
            try:
                async with session.get(f"{host.base_url}/runtime/webhooks/durabletask/instances/none"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    raise TimeoutError(f"the host did not start serving in {timeout_s} s:\n{host.log()}")


def stop_host(host: RunningHost) -> None:
    if host.process.poll() is None:
        os.killpg(host.process.pid, signal.SIGTERM)
        try:
            host.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(host.process.pid, signal.SIGKILL)
            host.process.wait()
