"""The `durable` pytest fixture as users get it: the installed plugin, run by pytest in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .hosting import REPO_ROOT


def pytest_run(*arguments: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_samples_tests_pass_with_the_installed_fixture() -> None:
    done = pytest_run("samples/tests")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "3 passed" in done.stdout


def test_a_folder_without_an_app_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "test_mine.py").write_text("def test_it(durable):\n    durable.start('x')\n")
    done = pytest_run(str(tmp_path), "--rootdir", str(tmp_path), cwd=tmp_path)
    assert done.returncode != 0
    assert f"No function_app.py in '{tmp_path}'" in done.stdout
