"""The testing benchmark in its short form, so it cannot rot: both suite runs and the monitor reported.
It also proves the samples' storage-neutral tests pass on Azurite: the bench fails when they do not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .quick_form import run_quick


@pytest.mark.timeout(400)
def test_the_short_form_times_both_storages_and_the_monitor(tmp_path: Path) -> None:
    done = run_quick("bench.testing_speed", tmp_path)
    table = (tmp_path / "testing_results.md").read_text()
    assert table in done.stdout
    for key in ("T1-memory", "T1-azurite", "T2-24h"):
        assert f"| {key} |" in table, key
    assert re.search(r"\| T1-azurite \|.*\| [\d.]+x the time on memory \|", table)
    assert "| 30 checks |" in table and "30 days of durable time passed" in table
