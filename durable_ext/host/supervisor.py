"""``durable-ext start --workers N``: N worker processes serving one port and sharing the task hub.

Each worker is a full host (``--worker-process``): it binds the port with ``SO_REUSEPORT``, so the
kernel spreads HTTP connections over the workers, and it takes its share of the control queues
through the partition leases. The supervisor starts Azurite first when the app needs it, restarts a
worker that dies, and on SIGTERM or SIGINT passes the signal on so every worker hands its partitions
off and stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..extension.options import DurableTaskOptions
from .host import start_storage
from .settings import apply_to_environment, load_settings

log = logging.getLogger("durable_ext.supervisor")

RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 90.0
CONFIGURATION_EXIT = 2


@dataclass
class Supervisor:
    script_root: Path
    host: str
    port: int
    workers: int
    log_level: str | None = None
    processes: dict[int, asyncio.subprocess.Process] = field(default_factory=dict)
    exit_code: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "durable_ext", "start", "--worker-process"]
        command += ["--script-root", str(self.script_root), "--host", self.host, "--port", str(self.port)]
        return command + (["--log-level", self.log_level] if self.log_level else [])

    async def run(self) -> int:
        settings = load_settings(self.script_root)
        apply_to_environment(settings)
        azurite = await start_storage(settings, DurableTaskOptions.from_settings(settings), self.script_root)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        try:
            log.info("Starting %d workers on port %d", self.workers, self.port)
            keepers = [asyncio.create_task(self._keep_running(i)) for i in range(self.workers)]
            await self._stop.wait()
            await self._stop_workers()
            await asyncio.gather(*keepers, return_exceptions=True)
        finally:
            if azurite is not None:
                await azurite.stop()
        return self.exit_code

    async def _keep_running(self, index: int) -> None:
        while not self._stop.is_set():
            process = await asyncio.create_subprocess_exec(*self.command())
            self.processes[index] = process
            code = await process.wait()
            if self._stop.is_set():
                return
            if code == CONFIGURATION_EXIT:  # the app or its settings are wrong: restarting will not help
                log.error("Worker %d could not start (exit %d); stopping all workers", index, code)
                self.exit_code = code
                self._stop.set()
                return
            log.warning("Worker %d exited with %s; starting it again", index, code)
            await asyncio.sleep(RESTART_DELAY_S)

    async def _stop_workers(self) -> None:
        running = [p for p in self.processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), STOP_TIMEOUT_S)
        except TimeoutError:
            for process in running:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
