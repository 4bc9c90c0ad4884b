"""The benchmark harness in its short form, so it cannot rot: every scenario runs and is reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .quick_form import run_quick

SCENARIOS = {"B0", "B0-q", "B1-1", "B1-3", "B2", "B3", "B4-20", "B5", "B6", "B7", "B7-calls", "B8"}


@pytest.mark.timeout(400)
def test_the_short_form_runs_every_scenario_and_writes_both_reports(tmp_path: Path) -> None:
    run_quick("bench.run", tmp_path)
    report = json.loads((tmp_path / "results.json").read_text())
    rows = {row["key"]: row for row in report["rows"]}
    assert SCENARIOS | {"B10-1", "B10-2"} <= set(rows)
    for key, row in rows.items():
        assert row["count"] > 0 and row["per_second"] > 0, key
        assert row["python"] and row["date"] and row["machine"], key
    for key in SCENARIOS - {"B0", "B0-q"}:
        assert rows[key]["storage_operations_per_orchestration"] > 0, key
    assert rows["B1-1"]["p99_ms"] >= rows["B1-1"]["p50_ms"] > 0
    assert {t["name"] for t in report["targets"]} == {
        "storage operations per chain of 3",
        "chain-of-3 throughput vs storage floor",
        "first start after idle",
        "p50 latency, chain of 1, idle worker",
    }
    assert "| B3 |" in (tmp_path / "results.md").read_text()
