"""A throw-away PostgreSQL server: ``initdb`` into a folder, ``postgres`` on a free port, stopped (and the
folder removed) at the end. For tests and benchmarks, as Azurite is; apps point at their own server.

The binaries come from ``PATH`` or from Debian's ``/usr/lib/postgresql/<version>/bin``. PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` user the Debian package
creates (or ``nobody``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path

from ..errors import ConfigurationError
from .child_process import LOCALHOST, ChildServer, free_ports, port_accepts

log = logging.getLogger("durable_ext.postgres_server")

DEBIAN_BIN = Path("/usr/lib/postgresql")
USER = "durable"
STARTUP_TIMEOUT_S = 30.0
SERVER_SETTINGS = {
    # a test server: losing the last commits on a machine crash is fine, waiting for fsync is not
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "listen_addresses": LOCALHOST,
}


def postgres_binary(name: str) -> str:
    """The path of ``initdb`` or ``postgres``; a :class:`ConfigurationError` saying what to install."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        (p for p in DEBIAN_BIN.glob("*/bin") if (p / name).exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return str(versions[-1] / name)
    raise ConfigurationError(
        f"PostgreSQL's '{name}' was not found on PATH or under {DEBIAN_BIN}: install it "
        "(sudo apt-get install postgresql) or point the app at a running server."
    )


def _run_as() -> pwd.struct_passwd | None:
    """The user to run the server as when this process is root (PostgreSQL will not run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ConfigurationError("PostgreSQL will not run as root, and there is no 'postgres' user to run it as.")


class PostgresServer(ChildServer):
    """One PostgreSQL server with its own data folder, trusting local connections as user ``durable``."""

    stop_signal = signal.SIGINT  # PostgreSQL's fast shutdown
    stop_grace_s = 10.0

    def __init__(self, port: int = 0, startup_timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        super().__init__()
        self.requested_port = port
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.folder: Path | None = None

    @property
    def dsn(self) -> str:
        """The connection string of the server's ``postgres`` database."""
        return self.dsn_of("postgres")

    def dsn_of(self, database: str) -> str:
        if not self.port:
            raise RuntimeError("the server's port is chosen when it starts; call start() first")
        return f"postgresql://{USER}@{LOCALHOST}:{self.port}/{database}"

    async def start(self) -> None:
        if self.running:
            return
        user = _run_as()
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="durable-ext-pg-"))
            if user is not None:
                os.chown(self.folder, user.pw_uid, user.pw_gid)
            await self._initdb(user)
        self.port = self.requested_port or free_ports(1)[0]
        settings = [arg for key, value in SERVER_SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        process = await self._spawn(
            postgres_binary("postgres"),
            "-D",
            str(self.folder / "data"),
            "-p",
            str(self.port),
            "-k",
            str(self.folder),
            *settings,
            user=user.pw_uid if user is not None else None,
            group=user.pw_gid if user is not None else None,
        )
        try:
            await self._wait_until_ready(process)
        except BaseException:
            await self.stop()
            raise
        log.debug("PostgreSQL serving on %s:%d", LOCALHOST, self.port)

    async def _initdb(self, user: pwd.struct_passwd | None) -> None:
        assert self.folder is not None
        process = await asyncio.create_subprocess_exec(
            postgres_binary("initdb"),
            "-D",
            str(self.folder / "data"),
            "-U",
            USER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            user=user.pw_uid if user is not None else None,
            group=user.pw_gid if user is not None else None,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise ConfigurationError(f"initdb failed (exit {process.returncode}):\n{output.decode()[-2000:]}")

    async def _wait_until_ready(self, process: asyncio.subprocess.Process) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.startup_timeout_s
        while not (await port_accepts(LOCALHOST, self.port) and self._accepting()):
            if process.returncode is not None:
                await self._drain_output()
                raise ConfigurationError(
                    f"PostgreSQL exited with code {process.returncode} before it was ready "
                    f"(port {self.port}). Its output:\n{self.output_tail()}"
                )
            if loop.time() > deadline:
                raise ConfigurationError(
                    f"PostgreSQL did not accept connections on port {self.port} within "
                    f"{self.startup_timeout_s:.0f} s. Its output:\n{self.output_tail()}"
                )
            await asyncio.sleep(0.05)

    def _accepting(self) -> bool:
        return any("ready to accept connections" in line for line in self._output)

    async def stop(self, *, keep_data: bool = False) -> None:
        """Stop the server (a fast shutdown, then SIGKILL); remove its folder unless ``keep_data``."""
        await super().stop()
        if not keep_data and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    async def restart(self) -> None:
        """Stop and start again on the same port with the same data (for outage tests)."""
        await self.stop(keep_data=True)
        self.requested_port = self.port
        await self.start()
