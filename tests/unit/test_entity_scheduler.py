"""Planning an entity batch from new requests, ordering them, and recording what the batch did."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from durable_ext.core.entities import CONTINUE_EVENT, RequestMessage, SchedulerState
from durable_ext.core.entity_scheduler import OperationResult, finish_batch, plan_batch
from durable_ext.core.history import EventType, OrchestrationStatus, event, execution_started
from durable_ext.core.message_sorter import MessageSorter, label_outgoing
from durable_ext.core.state import OrchestrationRuntimeState

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=30)


def _state(scheduler: SchedulerState | None, *requests: RequestMessage) -> OrchestrationRuntimeState:
    started = execution_started(
        instance_id="@counter@k",
        execution_id="e1",
        name="counter",
        input_json=None if scheduler is None else scheduler.to_json(),
    )
    state = OrchestrationRuntimeState(past_events=[event(EventType.OrchestratorStarted), started])
    for request in requests:
        state.add(event(EventType.EventRaised, -1, Name="op", Input=request.to_json()))
    return state


def _from(parent: str, n: int) -> list[RequestMessage]:
    """``n`` requests one orchestration sent to the entity, labelled in order."""
    requests, last = [], None
    for i in range(n):
        request = RequestMessage("add", f"{parent}-{i}", is_signal=True, parent_instance_id=parent)
        last = label_outgoing(request, T0, last, None)
        requests.append(request)
    return requests


def test_a_batch_takes_at_most_the_limit_and_asks_to_continue() -> None:
    requests = [RequestMessage("add", f"r{i}", is_signal=True) for i in range(5)]
    batch = plan_batch(_state(None, *requests), max_batch_size=2, reorder_window=WINDOW)
    assert [r.id for r in batch.requests] == ["r0", "r1"]
    assert batch.continue_later and len(batch.state.queue) == 3
    outcome = finish_batch(batch, [OperationResult(False, "null")] * 2, True, "2")
    assert [c.event.name for c in outcome.new_commands] == [CONTINUE_EVENT]
    assert outcome.completion is not None
    assert outcome.completion.status == OrchestrationStatus.ContinuedAsNew
    carried = SchedulerState.from_json(outcome.completion.continue_input)
    assert carried.suspended and carried.state == "2" and len(carried.queue) == 3
    suspended = plan_batch(_state(carried), max_batch_size=2, reorder_window=WINDOW)
    assert suspended.requests == []  # waits for its continue message


def test_calls_get_responses_and_errors_are_marked() -> None:
    call = RequestMessage("get", "c1", parent_instance_id="orch", parent_execution_id="x1")
    failing = RequestMessage("boom", "c2", parent_instance_id="orch", parent_execution_id="x1")
    signal = RequestMessage("add", "s1", is_signal=True, parent_instance_id="orch")
    batch = plan_batch(_state(None, call, failing, signal), max_batch_size=10, reorder_window=WINDOW)
    results = [OperationResult(False, "5"), OperationResult(True, '"bad"'), OperationResult(False, "null")]
    outcome = finish_batch(batch, results, True, "5")
    responses = {
        c.event.name: (c.target_execution_id, json.loads(c.event.input or "")) for c in outcome.new_commands
    }
    assert responses == {
        "c1": ("x1", {"result": "5"}),
        "c2": ("x1", {"result": '"bad"', "exceptionType": "Error"}),
    }
    assert json.loads(outcome.custom_status or "") == {"entityExists": True, "queueSize": 0}


def test_a_deleted_entity_stores_no_state() -> None:
    batch = plan_batch(
        _state(SchedulerState(True, "3"), RequestMessage("delete", "d", is_signal=True)),
        max_batch_size=5,
        reorder_window=WINDOW,
    )
    outcome = finish_batch(batch, [OperationResult(False, "null")], False, "null")
    assert outcome.completion is not None
    carried = SchedulerState.from_json(outcome.completion.continue_input)
    assert not carried.exists and carried.state is None


def test_early_scheduled_requests_are_sent_again_for_their_time() -> None:
    due = datetime.now(UTC) + timedelta(minutes=5)
    later = RequestMessage("add", "later", is_signal=True, scheduled_time=due)
    batch = plan_batch(_state(None, later), max_batch_size=5, reorder_window=WINDOW)
    assert batch.requests == [] and [r.id for r in batch.reschedule] == ["later"]
    outcome = finish_batch(batch, [], False, None)
    assert outcome.new_commands[0].visible_at == due
    assert (outcome.new_commands[0].event.name or "").startswith("op@")


def test_sorter_delivers_each_senders_requests_in_order_once() -> None:
    sorter = MessageSorter({}, WINDOW)
    a = _from("orch-a", 4)
    delivered: list[str] = []
    for request in [a[2], a[0], a[3], a[0], a[1]]:  # overtaken, and one duplicate
        delivered += [r.id for r in sorter.receive(request)]
    assert delivered == ["orch-a-0", "orch-a-1", "orch-a-2", "orch-a-3"]


def test_sorter_passes_client_requests_through() -> None:
    sorter = MessageSorter({}, WINDOW)
    client = RequestMessage("add", "c", is_signal=True)
    assert [r.id for r in sorter.receive(client)] == ["c"]
    assert [r.id for r in sorter.receive(client)] == ["c"]  # clients are not deduplicated


def test_sorter_state_survives_a_round_trip_through_json() -> None:
    data: dict = {}
    a = _from("orch-a", 3)
    assert list(MessageSorter(data, WINDOW).receive(a[1])) == []
    restored = json.loads(json.dumps(data))
    assert [r.id for r in MessageSorter(restored, WINDOW).receive(a[0])] == ["orch-a-0", "orch-a-1"]


class _Sender:
    """An orchestration execution sending to one entity, episode by episode, as ``ReplayContext`` does:
    an episode whose commit fails is run again later and sends its requests again, stamped later."""

    def __init__(self, instance: str, execution: str = "x1") -> None:
        self.instance, self.execution = instance, execution
        self.seq = 0
        self.committed: datetime | None = None
        self.committed_seq = 0

    def attempt(self, at: datetime, *ops: str) -> list[RequestMessage]:
        self.seq, last, sent = self.committed_seq, self.committed, []
        for op in ops:
            request = RequestMessage(
                op,
                f"{self.instance}:{self.execution}:{self.seq}",
                is_signal=True,
                parent_instance_id=self.instance,
                parent_execution_id=self.execution,
            )
            last = label_outgoing(request, at, last, self.committed)
            self.seq += 1
            sent.append(request)
        self._pending = (last, self.seq)
        return sent

    def commit(self) -> None:
        self.committed, self.committed_seq = self._pending


def _deliver_all(sorter: MessageSorter, requests: list[RequestMessage]) -> list[str]:
    return [f"{r.id}/{r.operation}" for m in requests for r in sorter.receive(m)]


def test_sorter_drops_the_requests_an_episode_sends_again_after_its_commit_failed() -> None:
    sorter, sender = MessageSorter({}, WINDOW), _Sender("orch")
    first = sender.attempt(T0, "add", "add")  # sent, then the worker died before the commit
    again = sender.attempt(T0 + timedelta(seconds=40), "add", "add")
    sender.commit()
    later = sender.attempt(T0 + timedelta(seconds=50), "sub")
    sender.commit()
    delivered = _deliver_all(sorter, [*first, *again, *later])
    assert delivered == ["orch:x1:0/add", "orch:x1:1/add", "orch:x1:2/sub"]


def test_sorter_drops_resends_whatever_order_they_arrive_in() -> None:
    for order in ([1, 0, 2], [2, 0, 1], [2, 1, 0], [0, 2, 1]):
        sorter, sender = MessageSorter({}, WINDOW), _Sender("orch")
        groups = [sender.attempt(T0, "add"), sender.attempt(T0 + timedelta(seconds=9), "add")]
        sender.commit()
        groups.append(sender.attempt(T0 + timedelta(seconds=20), "sub"))
        delivered = _deliver_all(sorter, [m for i in order for m in groups[i]])
        assert delivered == ["orch:x1:0/add", "orch:x1:1/sub"], order


def test_a_resend_that_differs_is_not_taken_for_the_first_one() -> None:
    """The episode ran again on more messages and took another path: both requests are delivered."""
    sorter, sender = MessageSorter({}, WINDOW), _Sender("orch")
    ghost = sender.attempt(T0, "add")
    real = sender.attempt(T0 + timedelta(seconds=5), "reset")
    assert _deliver_all(sorter, [*ghost, *real]) == ["orch:x1:0/add", "orch:x1:0/reset"]


def test_sorter_forgets_requests_once_the_sender_has_committed_past_them() -> None:
    data: dict = {}
    sorter, sender = MessageSorter(data, WINDOW), _Sender("orch")
    for i in range(20):
        sent = sender.attempt(T0 + timedelta(seconds=i), "add")
        sender.commit()
        _deliver_all(sorter, sent)
    assert len(data["Recent"]["x1"]) == 1


def test_resends_from_every_generation_of_a_sender_that_continued_as_new_are_dropped() -> None:
    sorter = MessageSorter({}, WINDOW)
    generations = [_Sender("orch", f"x{i}") for i in range(3)]  # signal, continue-as-new, ... in one episode
    first = [m for g in generations for m in g.attempt(T0, "add")]
    again = [m for g in generations for m in g.attempt(T0 + timedelta(seconds=30), "add")]
    delivered = _deliver_all(sorter, [first[1], first[0], first[2], again[2], again[0], again[1]])
    assert sorted(delivered) == ["orch:x0:0/add", "orch:x1:0/add", "orch:x2:0/add"]


def test_requests_without_a_checkpoint_are_ordered_as_before() -> None:
    sorter = MessageSorter({}, WINDOW)
    a = _from("orch-a", 2)
    for request in a:
        request.tracked = False
    assert [r.id for m in [a[1], a[0]] for r in sorter.receive(m)] == ["orch-a-0", "orch-a-1"]
    assert "Recent" not in json.dumps(sorter.data)


def test_requests_that_waited_when_the_sender_moved_on_are_not_delivered_twice() -> None:
    sorter = MessageSorter({}, WINDOW)
    old, new = _Sender("orch", "x1"), _Sender("orch", "x2")
    r1, r2 = old.attempt(T0, "add", "add")  # r2 waits for r1
    (rb,) = new.attempt(T0, "add")  # the same episode continued as new, then died
    again = old.attempt(T0 + timedelta(seconds=30), "add", "add") + new.attempt(
        T0 + timedelta(seconds=30), "add"
    )
    delivered = _deliver_all(sorter, [r2, rb, r1, *again])
    assert sorted(delivered) == ["orch:x1:0/add", "orch:x1:1/add", "orch:x2:0/add"]


def test_an_earlier_runs_copy_that_waited_does_not_hold_up_the_requests_after_it() -> None:
    sorter, sender = MessageSorter({}, WINDOW), _Sender("orch")
    r1, r2 = sender.attempt(T0, "add", "sub")
    r1_again, r2_again = sender.attempt(T0 + timedelta(seconds=10), "add", "sub")
    sender.commit()
    (r3,) = sender.attempt(T0 + timedelta(seconds=20), "mul")
    delivered = _deliver_all(sorter, [r2, r2_again, r1_again, r1, r3])
    assert sorted(delivered) == ["orch:x1:0/add", "orch:x1:1/sub", "orch:x1:2/mul"]


def test_a_resend_whose_input_was_built_from_the_time_is_recognised() -> None:
    sorter, sender = MessageSorter({}, WINDOW), _Sender("orch")
    (first,) = sender.attempt(T0, "add")
    (again,) = sender.attempt(T0 + timedelta(seconds=10), "add")
    first.input, again.input = '"at 10:00:00"', '"at 10:00:10"'
    assert _deliver_all(sorter, [first, again]) == ["orch:x1:0/add"]
