"""Durable time under the test's control, on the in-memory task hub.

Time skipping (on by default there) moves durable time to the next due timer whenever nothing else can
run, so a three-day approval timeout or a thirty-day monitor finishes in milliseconds, through the real
SDK and engine. Between a call that changes the hub (`start`, `raise_event`, ...) and the next call that
waits (`wait_for_completion`, `wait_for_status`, `advance`, ...), time is held: the approval raised right
after the start wins, as it would in production, even though a three-day timer races it.
"""

from datetime import timedelta

import pytest

pytestmark = pytest.mark.durable(storage="memory")  # durable time is a virtual clock only there

THREE_DAYS_S = 3 * 24 * 3600


def test_an_approval_nobody_gives_times_out_after_three_days(durable):
    began = durable.now
    instance_id = durable.start("approval_workflow", THREE_DAYS_S)
    status = durable.wait_for_completion(instance_id)
    assert status.output == "escalated: no decision in time"
    assert durable.now - began >= timedelta(days=3)


def test_an_approval_raised_right_away_wins_over_the_three_day_timer(durable):
    instance_id = durable.start("approval_workflow", THREE_DAYS_S)
    durable.raise_event(instance_id, "Approval", {"approved": True, "by": "Ada"})
    assert durable.wait_for_completion(instance_id).output == "approved by Ada"


def test_an_approval_on_the_second_day_still_wins(durable):
    instance_id = durable.start("approval_workflow", THREE_DAYS_S)
    durable.advance(timedelta(days=2))
    assert durable.get_status(instance_id).custom_status == "waiting for approval"
    durable.raise_event(instance_id, "Approval", {"approved": False, "by": "Grace"})
    assert durable.wait_for_completion(instance_id).output == "rejected by Grace"


def test_without_time_skipping_durable_time_moves_only_when_told(durable):
    durable.time_skipping = False  # the fixture turns it back on after the test
    instance_id = durable.start("approval_workflow", THREE_DAYS_S)
    with pytest.raises(TimeoutError):
        durable.wait_for_completion(instance_id, timeout_s=0.3)
    durable.advance(timedelta(days=3))
    assert durable.get_status(instance_id).output == "escalated: no decision in time"


def test_a_thirty_day_monitor_checks_daily_until_its_deadline(durable):
    began = durable.now
    job = {"checks_until_done": 10_000, "interval_s": 24 * 3600, "timeout_s": 30 * 24 * 3600}
    status = durable.wait_for_completion(durable.start("job_monitor", job))
    assert status.output == {"done": False, "checks": 30}
    assert durable.now - began >= timedelta(days=30)
