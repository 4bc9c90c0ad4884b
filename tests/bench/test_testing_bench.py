"""The testing benchmark in its short form, so it cannot rot: both suite runs and the monitor reported."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(400)
def test_the_short_form_times_both_storages_and_the_monitor(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.testing_speed", "--quick", "--output", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=380,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = (tmp_path / "testing_results.md").read_text()
    assert table in done.stdout
    for key in ("T1-memory", "T1-azurite", "T2-24h"):
        assert f"| {key} |" in table, key
    assert re.search(r"\| T1-azurite \|.*\| [\d.]+x the time on memory \|", table)
    assert "| 30 checks |" in table and "30 days of durable time passed" in table
