"""`durable-ext start` as a user runs it: clean shutdown, and clear errors for bad apps and settings."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from durable_ext.host.app_loader import load_function_app
from durable_ext.host.settings import load_settings

from .hosting import REPO_ROOT, RunningHost, free_port, start_host, wait_until_serving
from .polling import poll_status

APP = """
import azure.durable_functions as df
app = df.DFApp()

@app.orchestration_trigger(context_name="context")
def orch(context):
    return 1
"""


def write_app(root: Path, host_json: str, app: str = APP) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "function_app.py").write_text(app)
    (root / "host.json").write_text(host_json)
    return root


def run_cli(root: Path, connection_string: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AzureWebJobsStorage": connection_string}
    return subprocess.run(
        [sys.executable, "-m", "durable_ext", "start", "--script-root", str(root), "--port", "0"],
        cwd=str(cwd),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_hub_name_stops_start_up_naming_value_rule_and_source(
    tmp_path: Path, connection_string: str
) -> None:
    root = write_app(
        tmp_path / "app", '{"version": "2.0", "extensions": {"durableTask": {"hubName": "my-hub"}}}'
    )
    result = run_cli(root, connection_string)
    assert result.returncode != 0
    assert "'my-hub'" in result.stderr
    assert "host.json" in result.stderr and "letters and digits" in result.stderr


def test_import_error_in_user_code_is_reported_with_its_traceback(
    tmp_path: Path, connection_string: str
) -> None:
    broken = APP + "\nimport no_such_module_for_durable_ext_tests\n"
    root = write_app(tmp_path / "app", '{"version": "2.0"}', broken)
    result = run_cli(root, connection_string)
    assert result.returncode != 0
    assert "no_such_module_for_durable_ext_tests" in result.stderr
    assert "Traceback" in result.stderr and "function_app.py" in result.stderr


def test_invalid_host_json_in_the_apps_own_folder_is_one_line(tmp_path: Path, connection_string: str) -> None:
    root = write_app(tmp_path / "app", '{"version": "2.0",}')
    result = run_cli(root, connection_string, cwd=root)
    assert result.returncode == 2
    assert "host.json is not valid JSON" in result.stderr
    assert "Traceback" not in result.stderr and "JSONDecodeError" not in result.stderr


def test_a_v1_import_error_names_the_function_folder(tmp_path: Path, connection_string: str) -> None:
    folder = tmp_path / "app" / "Starter"
    folder.mkdir(parents=True)
    (folder / "function.json").write_text('{"bindings": [{"name": "req", "type": "httpTrigger"}]}')
    (folder / "__init__.py").write_text("import no_such_module_for_durable_ext_tests\ndef main(req): pass\n")
    result = run_cli(tmp_path / "app", connection_string)
    assert result.returncode == 2
    assert "function Starter (Starter/__init__.py) raised ModuleNotFoundError" in result.stderr
    assert "Traceback" in result.stderr and "no_such_module_for_durable_ext_tests" in result.stderr


def test_app_without_a_function_app_is_refused(tmp_path: Path, connection_string: str) -> None:
    root = write_app(tmp_path / "app", '{"version": "2.0"}', "x = 1\n")
    result = run_cli(root, connection_string)
    assert result.returncode != 0
    assert "DFApp" in result.stderr or "FunctionApp" in result.stderr


async def test_sigterm_shuts_the_host_down_cleanly(tmp_path: Path, connection_string: str) -> None:
    root = write_app(
        tmp_path / "app", '{"version": "2.0", "extensions": {"durableTask": {"hubName": "CliHub"}}}'
    )
    host = start_host(root, connection_string, tmp_path / "host.log", {})
    await wait_until_serving(host)
    os.killpg(host.process.pid, signal.SIGTERM)
    assert host.process.wait(timeout=20) == 0
    assert "Shutting down" in host.log()


WORKERS_APP = """
import os
import azure.durable_functions as df
import azure.functions as func
app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

@app.route(route="pid")
def pid(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(str(os.getpid()))

@app.orchestration_trigger(context_name="context")
def fan(context):
    results = yield context.task_all([context.call_activity("where", i) for i in range(20)])
    return len(results)

@app.activity_trigger(input_name="i")
def where(i: int) -> int:
    return os.getpid()
"""


def start_workers(
    root: Path, port: int, workers: int, connection_string: str, log_path: Path
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "durable_ext", "start", "--script-root", str(root), "--port", str(port)]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=str(REPO_ROOT),
            env={**os.environ, "AzureWebJobsStorage": connection_string},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


async def test_workers_share_the_port_and_the_hub_and_stop_together(
    tmp_path: Path, connection_string: str
) -> None:
    root = write_app(
        tmp_path / "app",
        '{"version": "2.0", "extensions": {"durableTask": {"hubName": "WorkersHub"}}}',
        WORKERS_APP,
    )
    port = free_port()
    log_path = tmp_path / "workers.log"
    supervisor = start_workers(root, port, 2, connection_string, log_path)
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[str] = set()
        async with aiohttp.ClientSession() as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            while len(pids) < 2:  # the kernel spreads new connections over both workers
                assert loop.time() < deadline, f"only workers {pids} answered:\n{log_path.read_text()}"
                with contextlib.suppress(aiohttp.ClientError):
                    async with aiohttp.ClientSession() as fresh, fresh.get(f"{base}/api/pid") as response:
                        pids.add(await response.text())
                await asyncio.sleep(0.05)
            async with http.post(f"{base}/runtime/webhooks/durabletask/orchestrators/fan") as response:
                status_url = (await response.json())["statusQueryGetUri"]
            final = await poll_status(http, status_url, 60)
        assert final["runtimeStatus"] == "Completed" and final["output"] == 20
    finally:
        os.killpg(supervisor.pid, signal.SIGTERM)
        code = supervisor.wait(timeout=60)
    assert code == 0
    assert log_path.read_text().count("Shutting down") == 2


async def banner_of(host: RunningHost, timeout_s: float = 30.0) -> list[str]:
    """The messages the host logged from ``Functions:`` to ``Host listening``, once it has logged them."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while "Host listening on" not in host.log():
        assert asyncio.get_running_loop().time() < deadline, f"no start-up banner:\n{host.log()}"
        await asyncio.sleep(0.1)
    messages = [line.split("durable_ext.host: ", 1)[-1] for line in host.log().splitlines()]
    first = messages.index("Functions:")
    return messages[first : next(i for i, m in enumerate(messages) if m.startswith("Host listening"))]


async def test_the_banner_lists_every_function_by_kind(sample_host: RunningHost) -> None:
    banner = await banner_of(sample_host)
    assert f"  http_start: [POST] {sample_host.base_url}/api/orchestrators/{{functionName}}" in banner
    kinds = {line.split(": ", 1)[0].strip(): line.split(": ", 1)[1] for line in banner[1:]}
    for name in ("hello_cities", "fan_out_fan_in", "approval_workflow", "deploy_region", "count_words"):
        assert kinds[name] == "orchestrationTrigger", name
    for name in ("say_hello", "square", "record_decision", "count_line_words"):
        assert kinds[name] == "activityTrigger", name
    assert kinds["counter"] == kinds["aggregator"] == "entityTrigger"
    assert kinds["order_queued"] == "queueTrigger (queue orders)"
    assert kinds["nightly_cleanup"].startswith("timerTrigger (schedule %NIGHTLY_SCHEDULE% = ")
    order = [line.split(": ", 1)[1].split()[0] for line in banner[1:]]
    assert order.index("orchestrationTrigger") < order.index("activityTrigger") < order.index("entityTrigger")
    loaded = load_function_app(REPO_ROOT, load_settings(REPO_ROOT)).functions
    assert sorted(kinds) == sorted(f.name for f in loaded) and len(banner) - 1 == len(loaded)
