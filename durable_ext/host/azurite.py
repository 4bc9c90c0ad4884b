"""Azurite, the Azure Storage emulator: run the pinned copy (found or installed by ``azurite_install``) and
wait until it serves."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from ..azurestorage.connection import (
    DEV_STORAGE_HOST,
    DEV_STORAGE_PORTS,
    emulator_connection_string,
)
from ..errors import ConfigurationError
from .azurite_install import azurite_command
from .child_process import ChildServer, free_ports, port_accepts

log = logging.getLogger("durable_ext.azurite")

SERVICES = ("blob", "queue", "table")
STARTUP_TIMEOUT_S = 30.0
FREE_PORT_ATTEMPTS = 3


class AzuriteProcess(ChildServer):
    """One Azurite process (blob, queue and table services) in its own process group."""

    def __init__(
        self,
        blob_port: int = 0,
        queue_port: int = 0,
        table_port: int = 0,
        location: Path | None = None,
        host: str = DEV_STORAGE_HOST,
        command: list[str] | None = None,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> None:
        self.requested_ports = (blob_port, queue_port, table_port)
        self.ports = self.requested_ports
        self.location = location
        self.host = host
        self.command = command
        self.startup_timeout_s = startup_timeout_s
        super().__init__()

    @property
    def blob_port(self) -> int:
        return self.ports[0]

    @property
    def queue_port(self) -> int:
        return self.ports[1]

    @property
    def table_port(self) -> int:
        return self.ports[2]

    @property
    def connection_string(self) -> str:
        if 0 in self.ports:
            raise RuntimeError("Azurite's ports are chosen when it starts; call start() first.")
        client_host = DEV_STORAGE_HOST if self.host in ("0.0.0.0", "") else self.host
        return emulator_connection_string(*self.ports, host=client_host)

    async def start(self) -> None:
        """Start Azurite and wait until all three services accept connections."""
        if self.running:
            return
        if self.command is None:
            self.command = await azurite_command(self.location or Path.cwd())
        auto_ports = 0 in self.requested_ports
        for attempt in range(1, FREE_PORT_ATTEMPTS + 1):
            try:
                await self._start_once()
                return
            except ConfigurationError:
                if not (auto_ports and "EADDRINUSE" in self.output_tail()) or attempt == FREE_PORT_ATTEMPTS:
                    raise
                log.info("A port Azurite was given was taken meanwhile; retrying with other ports")

    async def _start_once(self) -> None:
        picked = iter(free_ports(self.requested_ports.count(0), self.host))
        ports = tuple(port or next(picked) for port in self.requested_ports)
        self.ports = (ports[0], ports[1], ports[2])
        assert self.command is not None
        process = await self._spawn(*self.command, *self._arguments())
        try:
            await self._wait_until_ready(process)
        except BaseException:
            await self.stop()
            raise
        log.debug("Azurite serving blob/queue/table on %s ports %s", self.host, self.ports)

    def _arguments(self) -> list[str]:
        args: list[str] = []
        for service, port in zip(SERVICES, self.ports, strict=True):
            args += [f"--{service}Host", self.host, f"--{service}Port", str(port)]
        args += ["--disableTelemetry", "--skipApiVersionCheck", "--silent", "--loose"]
        if self.location is None:
            return [*args, "--inMemoryPersistence"]
        self.location.mkdir(parents=True, exist_ok=True)
        return [*args, "--location", str(self.location)]

    async def _wait_until_ready(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_s
        probe_host = DEV_STORAGE_HOST if self.host in ("0.0.0.0", "") else self.host
        while True:
            if process.returncode is not None:
                await self._drain_output()
                raise ConfigurationError(
                    f"Azurite exited with code {process.returncode} before it was ready "
                    f"(ports {self._describe_ports()}). Its output:\n{self.output_tail()}"
                )
            answers = await asyncio.gather(*(port_accepts(probe_host, port) for port in self.ports))
            if all(answers):
                return
            if loop.time() > deadline:
                raise ConfigurationError(
                    f"Azurite did not accept connections on {self._describe_ports()} within "
                    f"{self.startup_timeout_s:.0f} s. Its output:\n{self.output_tail()}"
                )
            await asyncio.sleep(0.1)

    def _describe_ports(self) -> str:
        return ", ".join(f"{s} {self.host}:{p}" for s, p in zip(SERVICES, self.ports, strict=True))


async def ensure_dev_storage(
    script_root: Path, *, host: str = DEV_STORAGE_HOST, ports: tuple[int, int, int] = DEV_STORAGE_PORTS
) -> AzuriteProcess | None:
    """Make ``UseDevelopmentStorage=true`` work: None if an emulator already answers on the three ports,
    else a started Azurite keeping its data under ``script_root/.azurite`` (the caller stops it)."""
    answers = await asyncio.gather(*(port_accepts(host, port) for port in ports))
    if all(answers):
        return None
    if any(answers):
        raise ConfigurationError(_partial_ports_message(host, ports, answers))
    azurite = AzuriteProcess(*ports, location=script_root / ".azurite", host=host)
    await azurite.start()
    return azurite


def _partial_ports_message(host: str, ports: tuple[int, int, int], answers: list[bool]) -> str:
    states = list(zip(SERVICES, ports, answers, strict=True))
    held = [f"{port} ({service})" for service, port, taken in states if taken]
    free = ", ".join(f"{port} ({service})" for service, port, taken in states if not taken)
    verb = f"port {held[0]} is" if len(held) == 1 else f"ports {', '.join(held)} are"
    return (
        f"UseDevelopmentStorage=true needs Azurite on {host} ports {', '.join(map(str, ports))}, but only "
        f"{verb} in use (free: {free}), so durable-ext cannot start Azurite there. Stop the "
        "program holding it, or start Azurite yourself with all three services (`npx azurite`), "
        "or set AzureWebJobsStorage to an explicit connection string."
    )
