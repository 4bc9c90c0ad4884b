"""The getting-started guide, followed as written from a fresh durable-ext checkout.

The checkout is a copy of the project's files (what git tracks, plus files not yet added) without
``node_modules``, so no Azurite comes with it, and the user's cache folder (``XDG_CACHE_HOME``) is empty:
the guide's commands must find or install everything themselves. Each step's commands are read from the
guide's code blocks and run in a shell in the app's folder; only the placeholder path and the HTTP port
are replaced. ``pip install`` really installs (from PyPI or the local wheel cache, about 20-40 s), and the
first ``durable-ext start`` really installs Azurite with npm into the empty cache (about 15-60 s), so this
test takes one to three minutes.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from durable_ext.azurestorage.connection import DEV_STORAGE_HOST, DEV_STORAGE_PORTS
from durable_ext.host.azurite_install import AZURITE_VERSION, SCRIPT
from durable_ext.host.child_process import port_accepts

from .hosting import REPO_ROOT, RunningHost, free_port
from .polling import poll_status

GUIDE = REPO_ROOT / "docs" / "getting-started.md"
PLACEHOLDER = "/path/to/durable-ext"
GUIDE_PORT = "7071"
STEP_TIMEOUT_S = 240
DROPPED_ENV = (
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "AzureWebJobsStorage",
)


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def block_with(language: str, text: str) -> str:
    return next(block for block in blocks(language) if text in block)


def fresh_checkout(target: Path) -> Path:
    """The project's files as a clone would have them, plus the working tree's new files; nothing ignored."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO_ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is gone from the checkout too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def user_environment(tmp_path: Path) -> dict[str, str]:
    """A shell as a newcomer has it: `python` is Python 3.11+, node and npm are installed, nothing else of
    ours is on PATH, and the cache folder is empty."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    node_dirs = [str(Path(found).parent) for found in map(shutil.which, ("node", "npm", "curl")) if found]
    path = os.pathsep.join(dict.fromkeys([str(tools), *node_dirs, "/usr/bin", "/bin"]))
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    return {**env, "PATH": path, "XDG_CACHE_HOME": str(tmp_path / "cache")}


class Shell:
    """Runs the guide's commands in the app folder, the virtual environment active after step 1."""

    def __init__(self, folder: Path, env: dict[str, str], checkout: Path, port: int) -> None:
        self.folder, self.env, self.checkout, self.port = folder, env, checkout, port

    def script(self, commands: str) -> str:
        text = commands.replace(PLACEHOLDER, str(self.checkout)).replace(GUIDE_PORT, str(self.port))
        activate = ". .venv/bin/activate\n" if (self.folder / ".venv").is_dir() else ""
        return f"set -e\n{activate}{text}"

    def run(self, commands: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            ["bash", "-c", self.script(commands)],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"{commands}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        return done

    def start(self, commands: str, log_path: Path) -> subprocess.Popen[bytes]:
        with log_path.open("wb") as log:
            return subprocess.Popen(
                ["bash", "-c", self.script(f"exec {commands.strip()}")],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def read_log(log_path: Path) -> str:
    return log_path.read_text(errors="replace")


async def wait_for_line(log_path: Path, text: str, process: subprocess.Popen[bytes]) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STEP_TIMEOUT_S
    while text not in (log := read_log(log_path)):
        assert process.poll() is None, f"the host exited with {process.returncode}:\n{log}"
        assert loop.time() < deadline, f"no '{text}' within {STEP_TIMEOUT_S} s:\n{log}"
        await asyncio.sleep(0.2)
    return log


@pytest.mark.timeout(600)
async def test_the_guide_works_from_a_fresh_checkout(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    # An emulator already serving the default ports serves step 3 instead (as the guide says); then the
    # install happens in step 5.
    emulator_running = all(
        await asyncio.gather(*(port_accepts(DEV_STORAGE_HOST, port) for port in DEV_STORAGE_PORTS))
    )
    installed_azurite = tmp_path / "cache" / "durable-ext" / f"azurite-{AZURITE_VERSION}" / SCRIPT
    checkout = fresh_checkout(tmp_path / "durable-ext")
    assert not (checkout / "node_modules").exists() and (checkout / "package.json").is_file()
    app = tmp_path / "my-app"
    app.mkdir()
    shell = Shell(app, user_environment(tmp_path), checkout, free_port())

    # 1. Install
    shell.run(block_with("sh", "pip install"))
    installed = shell.run(
        "python -c 'import durable_ext, importlib.metadata as m; print(durable_ext.__file__); "
        'print(m.requires("durable-ext"))\''
    ).stdout.splitlines()
    assert installed[0].startswith(str(checkout)), installed  # the copy is what runs, not this tree
    assert 'extra == "testing"' in installed[1] and "pytest>=" in installed[1]

    # 2. Write the app
    (app / "function_app.py").write_text(block_with("python", "df.DFApp"))
    host_json, settings = (block for block in blocks("json") if "{" in block)
    (app / "host.json").write_text(host_json)
    (app / "local.settings.json").write_text(settings)

    # 3. Run it: no Azurite anywhere yet, so the host installs the pinned one into the cache and starts it
    log_path = tmp_path / "host.log"
    host = shell.start(block_with("sh", "durable-ext start"), log_path)
    try:
        log = await wait_for_line(log_path, "Host listening on", host)
        if not emulator_running:
            assert f"Azurite {AZURITE_VERSION} was not found; installing it with npm" in log
            assert installed_azurite.is_file() and "Started Azurite for UseDevelopmentStorage=true" in log
        assert "  greet_all: orchestrationTrigger" in log and "  greet: activityTrigger" in log
        answer = shell.run(block_with("sh", "curl")).stdout
        links = json.loads(answer)
        final = await poll_status(http, links["statusQueryGetUri"], 60)
        assert final["runtimeStatus"] == "Completed"
        assert final["output"] == ["Hello Oslo!", "Hello Lima!"]

        # 4. Look at it
        async with http.get(f"http://localhost:{shell.port}/runtime/webhooks/durabletask/monitor") as page:
            assert page.status == 200
        listing, history = block_with("sh", "durable-ext durable").strip().splitlines()
        assert links["id"] in shell.run(listing).stdout
        events = shell.run(history.replace("<instance id>", links["id"])).stdout
        assert "ExecutionStarted" in events and "ExecutionCompleted" in events
    finally:
        os.killpg(host.pid, signal.SIGTERM)
        code = host.wait(timeout=30)
    assert code == 0, log_path.read_text()

    # 5. Test it: the durable fixture starts an Azurite of its own, the one installed in step 3
    (app / "test_app.py").write_text(block_with("python", "def test_"))
    tested = shell.run(block_with("sh", "pytest"))
    assert "1 passed" in tested.stdout, tested.stdout
    assert installed_azurite.is_file()


README = REPO_ROOT / "README.md"


def curl_commands(text: str) -> list[str]:
    """Every curl command in the text: lines of shell blocks and `inline code` alike."""
    inline = re.findall(r"`(curl [^`]+)`", text)
    in_blocks = [
        line for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) for line in block.splitlines()
    ]
    return inline + [line.strip() for line in in_blocks if line.strip().startswith("curl ")]


def bash(command: str) -> str:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    ).stdout


@pytest.mark.parametrize("document", [README, GUIDE], ids=lambda path: path.name)
def test_every_curl_that_posts_json_says_so(document: Path) -> None:
    posting = [command for command in curl_commands(document.read_text()) if " -d " in command]
    assert posting, f"no curl with a body in {document.name}"
    for command in posting:
        assert "-H 'Content-Type: application/json'" in command, command


async def test_the_readme_human_interaction_row_works_as_written(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    row = next(line for line in README.read_text().splitlines() if line.startswith("| human interaction |"))
    start, approve = curl_commands(row)
    port = sample_host.base_url.rsplit(":", 1)[1]
    links = json.loads(bash(start.replace("-i ", "-s ").replace("localhost:7071", f"localhost:{port}")))
    placeholder = re.search(r"'<[^>]*sendEventPostUri[^>]*>'", approve)
    assert placeholder is not None, approve
    event_uri = links["sendEventPostUri"].replace("{eventName}", "Approval")
    approved = bash(approve.replace(placeholder.group(0), f"'{event_uri}'"))
    assert approved.startswith("HTTP/1.1 202"), approved
    final = await poll_status(http, links["statusQueryGetUri"], 30)
    assert final["runtimeStatus"] == "Completed" and final["output"] == "approved by someone"
