"""Where the pinned Azurite comes from: a copy already installed, or one npm installs into the user's cache.

Looked for in this order: ``node_modules`` of the app folder (or a folder above it), ``node_modules`` of
the durable-ext checkout when durable-ext runs from one, the cache folder
(``$XDG_CACHE_HOME/durable-ext/azurite-<version>``, else ``~/.cache/...``), and an ``azurite`` on PATH of
the pinned major version. When none is found and ``npm`` is there, the pinned version is installed into
the cache folder, once for every app of this user: into a staging folder first, renamed into place when
complete, under a lock file, so first runs started at the same time neither clash nor leave half a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from ..errors import ConfigurationError

log = logging.getLogger("durable_ext.azurite")

AZURITE_VERSION = "3.35.0"
"""The Azurite this host is tested with; package.json pins the same (a unit test keeps them equal)."""
AZURITE_MAJOR = AZURITE_VERSION.split(".", 1)[0]
SCRIPT = Path("node_modules", "azurite", "dist", "src", "azurite.js")
CHECKOUT = Path(__file__).resolve().parents[2]
"""The durable-ext checkout this module runs from (site-packages when installed from a wheel)."""
NPM_TIMEOUT_S = 600.0
LOCK_WAIT_S = 900.0
VERSION_PROBE_TIMEOUT_S = 20.0
NODE = "Node.js 20 or later with npm (https://nodejs.org/)"
ALTERNATIVES = (
    "For `durable-ext start` you can instead start Azurite yourself on its default ports 10000-10002 "
    f"(`npx azurite@{AZURITE_VERSION}`) and keep UseDevelopmentStorage=true, or set AzureWebJobsStorage to "
    "the connection string of a storage account."
)


def cache_folder() -> Path:
    """Where durable-ext keeps the Azurite it installed: one folder per version, shared by every app."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return root / "durable-ext" / f"azurite-{AZURITE_VERSION}"


def find_azurite(app_folder: Path, checkout: Path | None = CHECKOUT) -> list[str] | None:
    """The command that runs the first Azurite found (see the module docstring); None if there is none."""
    script = _installed_script(app_folder, checkout)
    if script is not None:
        return [_node(), str(script)]
    on_path = shutil.which("azurite")
    if on_path is not None and _major_version(on_path) == AZURITE_MAJOR:
        return [on_path]
    return None


async def azurite_command(app_folder: Path) -> list[str]:
    """The command that runs Azurite: one found, else the pinned version installed now with npm."""
    found = await asyncio.to_thread(find_azurite, app_folder)
    return found if found is not None else await install_azurite()


async def install_azurite(target: Path | None = None) -> list[str]:
    """Install the pinned Azurite with npm into ``target`` (the cache folder) unless it is there."""
    target = target or cache_folder()
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(
            "Azurite (the Azure Storage emulator) was not found, and durable-ext cannot install it: "
            f"`npm` is not on PATH. Install {NODE}; durable-ext then installs Azurite {AZURITE_VERSION} "
            f"by itself on the next run. {ALTERNATIVES}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    async with _install_lock(target.parent / f"{target.name}.lock"):
        if not (target / SCRIPT).is_file():
            log.info(
                "Azurite %s was not found; installing it with npm into %s (once; later runs reuse it)",
                AZURITE_VERSION,
                target,
            )
            await _npm_install(npm, target)
    return [_node(), str(target / SCRIPT)]


def _installed_script(app_folder: Path, checkout: Path | None) -> Path | None:
    start = app_folder.resolve()
    folders = [start, *start.parents]
    if checkout is not None and (checkout / "package.json").is_file():
        folders.append(checkout)
    for folder in folders:
        launcher = folder / "node_modules" / ".bin" / "azurite"
        if launcher.exists():
            return launcher.resolve()
    cached = cache_folder() / SCRIPT
    return cached if cached.is_file() else None


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ConfigurationError(f"Azurite needs Node.js, but `node` is not on PATH. Install {NODE}.")
    return node


def _major_version(command: str) -> str | None:
    """The major version an ``azurite`` executable reports; None if it does not run."""
    try:
        done = subprocess.run(
            [command, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_PROBE_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = done.stdout.split()
    return words[0].split(".", 1)[0] if done.returncode == 0 and words else None


async def _npm_install(npm: str, target: Path) -> None:
    """``npm install`` the pinned version into a staging folder beside ``target``, then rename it."""
    staging = _staging_folder(target)
    try:
        output = await _run_npm(npm, staging)
        _move_into_place(staging, target, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _staging_folder(target: Path) -> Path:
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}.", suffix=".partial", dir=target.parent))
    manifest = {"private": True, "dependencies": {"azurite": AZURITE_VERSION}}
    (staging / "package.json").write_text(json.dumps(manifest), encoding="utf-8")
    return staging


def _move_into_place(staging: Path, target: Path, npm_output: str) -> None:
    if not (staging / SCRIPT).is_file():
        raise ConfigurationError(
            f"`npm install` finished, but Azurite {AZURITE_VERSION} is not in the folder it installed into. "
            f"npm said:\n{npm_output}\n{ALTERNATIVES}"
        )
    if target.exists():  # an incomplete copy (the lock is held, so no other install is using it)
        shutil.rmtree(target)
    staging.rename(target)


async def _run_npm(npm: str, folder: Path) -> str:
    arguments = ["install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"]
    process = await asyncio.create_subprocess_exec(
        npm,
        *arguments,
        cwd=folder,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        raw, _ = await asyncio.wait_for(process.communicate(), NPM_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ConfigurationError(
            f"`npm install azurite@{AZURITE_VERSION}` did not finish within {NPM_TIMEOUT_S:.0f} s. Check "
            f"that npm can reach its registry (`npm ping`). {ALTERNATIVES}"
        ) from None
    output = "\n".join(raw.decode(errors="replace").strip().splitlines()[-20:])
    if process.returncode != 0:
        raise ConfigurationError(
            f"`npm install azurite@{AZURITE_VERSION}` failed with exit code {process.returncode}. npm said:\n"
            f"{output}\nCheck that npm can reach its registry (`npm ping`). {ALTERNATIVES}"
        )
    return output


@contextlib.asynccontextmanager
async def _install_lock(path: Path) -> AsyncIterator[None]:
    """Hold an exclusive lock on ``path`` (released by the kernel if this process dies)."""
    if sys.platform == "win32":  # no flock; the rename into place still keeps a copy whole
        yield
        return
    import fcntl

    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_WAIT_S
    with path.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if loop.time() > deadline:
                    raise ConfigurationError(
                        f"Another durable-ext process has been installing Azurite into {path.parent} for "
                        f"over {LOCK_WAIT_S:.0f} s. Stop it and run again."
                    ) from None
                await asyncio.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
