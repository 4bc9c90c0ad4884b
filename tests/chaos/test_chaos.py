"""Chaos, short form: workers killed with SIGKILL mid-run and the storage restarted in the middle, on
Azure Storage and on PostgreSQL.

Every accepted instance must complete with the right output; no history may schedule a task id twice;
the counter entity fed by the slow chains and by clients must count each signal exactly once.
The long form is run by hand: ``python -m tests.chaos.harness`` (figures in docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import ChaosConfig, run_chaos


def _assert_nothing_lost(summary: str, report: object) -> None:
    print(summary)
    assert report.stuck == [], summary  # type: ignore[attr-defined]
    assert report.wrong_output == [], summary  # type: ignore[attr-defined]
    assert report.tasks_scheduled_twice == [], summary  # type: ignore[attr-defined]
    assert report.listing_differs == [], summary  # type: ignore[attr-defined]
    assert report.counter == report.counter_expected, summary  # type: ignore[attr-defined]
    assert report.client_signals_acknowledged > 0, summary  # type: ignore[attr-defined]


@pytest.mark.timeout(400)
async def test_killing_workers_and_restarting_storage_loses_nothing(tmp_path: Path) -> None:
    """Three kills, the second with Azurite stopped and started again in the middle of the run."""
    report = await run_chaos(ChaosConfig(kills=3, restart_storage=True), tmp_path)
    _assert_nothing_lost(report.summary(), report)
    assert report.kills == 3 and report.kills_during_work >= 1
    assert report.storage_restarts == 1
    assert report.completed == report.instances == 60


@pytest.mark.timeout(400)
async def test_killing_workers_and_restarting_postgres_loses_nothing(tmp_path: Path) -> None:
    """A few hundred orchestrations on PostgreSQL: a killed worker's locks lapse (10 s here) and the others
    take its work up; the database restart drops every worker's connections at once."""
    config = ChaosConfig(
        chains=200,
        chain_steps=3,
        fans=50,
        fan_width=4,
        counted=10,
        step_seconds=0.1,
        kills=3,
        restart_storage=True,
        store="postgres",
    )
    report = await run_chaos(config, tmp_path)
    _assert_nothing_lost(report.summary(), report)
    assert report.kills == 3 and report.kills_during_work >= 1
    assert report.storage_restarts == 1
    assert report.completed == report.instances == 260
