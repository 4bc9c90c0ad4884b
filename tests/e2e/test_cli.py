"""`durable-ext start` as a user runs it: clean shutdown, and clear errors for bad apps and settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from .hosting import REPO_ROOT, start_host, wait_until_serving

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


def run_cli(root: Path, connection_string: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AzureWebJobsStorage": connection_string}
    return subprocess.run(
        [sys.executable, "-m", "durable_ext", "start", "--script-root", str(root), "--port", "0"],
        cwd=str(REPO_ROOT),
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
