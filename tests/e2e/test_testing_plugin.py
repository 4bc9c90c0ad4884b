"""The `durable` pytest fixture as users get it: the installed plugin, run by pytest in a subprocess."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from .hosting import REPO_ROOT

TEST_HOST_APP = REPO_ROOT / "tests" / "integration" / "apps" / "test_host"


def pytest_run(
    *arguments: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def passed(done: subprocess.CompletedProcess[str]) -> int:
    found = re.search(r"(\d+) passed", done.stdout)
    return int(found.group(1)) if found else 0


def project(tmp_path: Path, tests: str, ini: str = "") -> Path:
    """A user's project: the test host's app, a test file and a pytest.ini."""
    shutil.copytree(TEST_HOST_APP, tmp_path, dirs_exist_ok=True)
    (tmp_path / "test_project.py").write_text(tests)
    (tmp_path / "pytest.ini").write_text(f"[pytest]\n{ini}\n")
    return tmp_path


def run_project(
    root: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return pytest_run(str(root), "--rootdir", str(root), *arguments, cwd=root, env=env)


def test_the_samples_tests_pass_with_the_installed_fixture() -> None:
    done = pytest_run("samples/tests")
    assert done.returncode == 0, done.stdout[-3000:]
    assert passed(done) >= 20
    assert "skipped" not in done.stdout


STORAGE_TESTS = """
import pytest

def test_unmarked(durable):
    assert durable.storage == EXPECTED
    assert durable.wait_for_completion(durable.start("chain", 1)).output == 4

@pytest.mark.durable(storage="azurite")
def test_marked_azurite(durable):
    assert durable.storage == "azurite"

@pytest.mark.durable(storage="memory")
def test_marked_memory(durable):
    assert durable.storage == "memory"
"""


def test_the_marker_wins_over_the_option_and_the_option_over_the_ini(tmp_path: Path) -> None:
    memory = project(tmp_path / "memory", STORAGE_TESTS.replace("EXPECTED", "'memory'"))
    assert passed(done := run_project(memory)) == 3, done.stdout[-3000:]
    azurite = project(tmp_path / "option", STORAGE_TESTS.replace("EXPECTED", "'azurite'"))
    assert passed(done := run_project(azurite, "--durable-storage", "azurite")) == 3, done.stdout[-3000:]
    ini = project(
        tmp_path / "ini", STORAGE_TESTS.replace("EXPECTED", "'azurite'"), "durable_ext_storage = azurite"
    )
    assert passed(done := run_project(ini)) == 3, done.stdout[-3000:]
    overridden = project(
        tmp_path / "both", STORAGE_TESTS.replace("EXPECTED", "'memory'"), "durable_ext_storage = azurite"
    )
    done = run_project(overridden, "--durable-storage", "memory", "-k", "not marked_azurite")
    assert passed(done) == 2, done.stdout[-3000:]  # the option over the ini, and no Azurite needed


def test_the_marker_is_registered(tmp_path: Path) -> None:
    root = project(tmp_path, STORAGE_TESTS.replace("EXPECTED", "'memory'"))
    done = run_project(root, "--strict-markers", "-k", "marked_memory")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "durable(storage=" in run_project(root, "--markers").stdout


RESET_TESTS = """
from datetime import timedelta

seen = []

def test_one_changes_everything(durable):
    seen.append(id(durable))
    durable.mock_activity("double", 0)
    durable.time_skipping = False
    durable.start("sleeper", 60)
    assert durable.time_held

def test_two_starts_clean(durable):
    seen.append(id(durable))
    assert (durable.time_skipping, durable.time_held) == (True, False)
    assert durable.wait_for_completion(durable.start("chain", 1)).output == 4
    assert seen[0] == seen[1]  # one host per storage for the session
"""


def test_each_test_starts_without_mocks_hold_or_changed_time_skipping(tmp_path: Path) -> None:
    root = project(tmp_path, RESET_TESTS)
    done = run_project(root)
    assert passed(done) == 2, done.stdout[-3000:]


def test_memory_tests_need_no_node(tmp_path: Path) -> None:
    root = project(tmp_path, STORAGE_TESTS.replace("EXPECTED", "'memory'"))
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no node on the path
    done = run_project(root, "-k", "not azurite", env=env)
    assert passed(done) == 2, done.stdout[-3000:]


def test_a_storage_nobody_offers_is_named_in_the_error(tmp_path: Path) -> None:
    marked = project(
        tmp_path / "marker",
        '@__import__("pytest").mark.durable(storage="sql")\ndef test_it(durable):\n    pass\n',
    )
    done = run_project(marked)
    assert done.returncode != 0
    assert "@pytest.mark.durable(storage=...) on test_project.py::test_it is 'sql'" in done.stdout
    ini = project(tmp_path / "ini", "def test_it(durable):\n    pass\n", "durable_ext_storage = sql")
    done = run_project(ini)
    assert (
        "The ini option durable_ext_storage is 'sql': use 'memory' (the default) or 'azurite'." in done.stdout
    )
    done = run_project(ini, "--durable-storage", "sql")
    assert done.returncode != 0 and "invalid choice: 'sql'" in done.stderr


def test_a_folder_without_an_app_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_it(durable):\n    durable.start('x')\n")
    done = pytest_run(str(tmp_path), "--rootdir", str(tmp_path), cwd=tmp_path)
    assert done.returncode != 0
    assert f"No function_app.py in '{tmp_path}'" in done.stdout
