"""`durable-ext sidecar` as a subprocess on free ports, with a durabletask worker and client on it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from durabletask import client

from .hosting import REPO_ROOT, free_port


@dataclass
class RunningSidecar:
    address: str
    hub: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def client(self) -> client.TaskHubGrpcClient:
        return client.TaskHubGrpcClient(host_address=self.address)


def _wait_until_serving(sidecar: RunningSidecar, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(sidecar.address) as channel:
        while time.monotonic() < deadline:
            if sidecar.process.poll() is not None:
                raise RuntimeError(f"the sidecar exited with {sidecar.process.returncode}:\n{sidecar.log()}")
            try:
                grpc.channel_ready_future(channel).result(timeout=0.5)
            except grpc.FutureTimeoutError:
                continue
            if "served to Durable Task workers" in sidecar.log():
                return
            time.sleep(0.1)
    raise TimeoutError(f"the sidecar did not start serving in {timeout_s} s:\n{sidecar.log()}")


@dataclass(frozen=True)
class SidecarStorage:
    args: Sequence[str]
    env: dict[str, str]


def run_sidecar(
    root: Path, storage: SidecarStorage, extra_args: Sequence[str] = ()
) -> Iterator[RunningSidecar]:
    """A sidecar on its own task hub (``host.json`` in ``root``) until the generator is closed."""
    hub = f"sidecar{uuid.uuid4().hex[:10]}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "host.json").write_text(
        json.dumps({"version": "2.0", "extensions": {"durableTask": {"hubName": hub}}})
    )
    port = free_port()
    log_path = root / "sidecar.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "durable_ext",
            "sidecar",
            "--script-root",
            str(root),
            "--port",
            str(port),
            *storage.args,
            *extra_args,
        ],
        cwd=str(REPO_ROOT),
        env={**os.environ, **storage.env},
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    sidecar = RunningSidecar(f"127.0.0.1:{port}", hub, process, log_path)
    try:
        _wait_until_serving(sidecar)
        yield sidecar
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def start_worker_process(address: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """A durabletask worker in its own process (``tests.e2e.durabletask_app``), to be killed."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.durabletask_app", address],
        cwd=str(REPO_ROOT),
        env={**os.environ, **env},
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
