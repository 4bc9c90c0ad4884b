"""Finding Azurite, and installing the pinned version with npm when there is none (a real npm install)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest

from durable_ext.errors import ConfigurationError
from durable_ext.host.azurite_install import (
    AZURITE_VERSION,
    CHECKOUT,
    SCRIPT,
    cache_folder,
    find_azurite,
    install_azurite,
)

NODE_AND_NPM = os.pathsep.join(
    sorted({str(Path(t).parent) for t in (shutil.which("node"), shutil.which("npm")) if t})
)


def test_the_checkouts_pinned_copy_comes_first(tmp_path: Path) -> None:
    command = find_azurite(tmp_path)
    assert command is not None and Path(command[0]).name == "node"
    assert command[1] == str((CHECKOUT / SCRIPT).resolve())


def test_the_apps_own_copy_wins_over_the_checkout(tmp_path: Path) -> None:
    launcher = tmp_path / "app" / "node_modules" / ".bin" / "azurite"
    script = tmp_path / "app" / SCRIPT
    script.parent.mkdir(parents=True)
    script.write_text("")
    launcher.parent.mkdir(parents=True)
    launcher.symlink_to(script)
    (tmp_path / "app" / "sub").mkdir()
    command = find_azurite(tmp_path / "app" / "sub")  # a folder above the app folder counts too
    assert command is not None and command[1] == str(script)


def test_the_cache_folder_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_folder() == tmp_path / "xdg" / "durable-ext" / f"azurite-{AZURITE_VERSION}"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert cache_folder() == Path.home() / ".cache" / "durable-ext" / f"azurite-{AZURITE_VERSION}"


def test_azurite_on_path_counts_only_in_the_pinned_major_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path))
    fake = tmp_path / "azurite"
    fake.write_text("#!/bin/sh\necho 2.7.1\n")
    fake.chmod(0o755)
    assert find_azurite(tmp_path, checkout=None) is None
    fake.write_text(f"#!/bin/sh\necho {AZURITE_VERSION.split('.')[0]}.99.0\n")
    assert find_azurite(tmp_path, checkout=None) == [str(fake)]


async def test_without_npm_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigurationError) as caught:
        await install_azurite(tmp_path / "azurite")
    message = str(caught.value)
    assert "`npm` is not on PATH" in message and "Node.js 20 or later with npm" in message
    assert "AzureWebJobsStorage" in message and "10000-10002" in message
    assert not (tmp_path / "azurite").exists()


INSTALL = """
import asyncio, logging, sys
from pathlib import Path
from durable_ext.host.azurite_install import install_azurite
logging.basicConfig(level=logging.INFO, format="%(message)s")
print(asyncio.run(install_azurite(Path(sys.argv[1])))[-1], flush=True)
"""


@pytest.mark.timeout(300)
async def test_concurrent_first_runs_install_once_and_whole(tmp_path: Path) -> None:
    """Two processes find no Azurite at the same moment: one installs (npm, about 15-60 s), the other
    waits for it; both get the same complete copy and no staging folder is left behind."""
    if not NODE_AND_NPM:
        pytest.skip("this machine has no node and npm")
    target = tmp_path / "cache" / f"azurite-{AZURITE_VERSION}"
    env = {**os.environ, "PATH": os.pathsep.join([NODE_AND_NPM, "/usr/bin", "/bin"])}
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", INSTALL, str(target), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]  # fmt: skip
    results = [await asyncio.wait_for(run.communicate(), 280) for run in runs]
    for run, (_, err) in zip(runs, results, strict=True):
        assert run.returncode == 0, err.decode()
    assert {out.decode().strip() for out, _ in results} == {str(target / SCRIPT)}
    logs = b"".join(err for _, err in results).decode()
    assert logs.count(f"installing it with npm into {target}") == 1, logs
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name, f"{target.name}.lock"]
    version = await asyncio.create_subprocess_exec(
        shutil.which("node") or "node", str(target / SCRIPT), "--version", stdout=asyncio.subprocess.PIPE
    )
    assert (await version.communicate())[0].decode().strip() == AZURITE_VERSION
    again = await install_azurite(target)  # found in place: nothing is installed again
    assert again[-1] == str(target / SCRIPT)
