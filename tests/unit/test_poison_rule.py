"""The one poison rule every provider applies to an instance whose messages keep failing."""

from __future__ import annotations

from durable_ext.core.poison import PoisonAction, judge_poison

ENTITY = "@counter@a"


def test_messages_within_the_threshold_run_normally() -> None:
    assert judge_poison("o1", [1, 5, 5], 5, "ValueError: boom") is None
    assert judge_poison("o1", [], 5, None) is None


def test_an_orchestration_past_the_threshold_is_failed_with_the_last_error() -> None:
    verdict = judge_poison("o1", [2, 6], 5, "ValueError: boom", kept_in="the poison queue")
    assert verdict is not None and verdict.action is PoisonAction.FAIL
    assert "delivered 6 times" in verdict.reason
    assert "(last error: ValueError: boom)" in verdict.reason
    assert "the poison queue" in verdict.reason


def test_past_twice_the_threshold_every_message_is_moved_aside() -> None:
    verdict = judge_poison("o1", [11, 3], 5, None)
    assert verdict is not None and verdict.action is PoisonAction.FAIL_AND_MOVE_ALL
    assert "last error" not in verdict.reason
    assert judge_poison("o1", [10], 5, None).action is PoisonAction.FAIL  # type: ignore[union-attr]


def test_an_entity_is_never_failed_only_its_poison_messages_move() -> None:
    verdict = judge_poison(ENTITY, [1, 6, 30], 5, "KeyError: 'x'")
    assert verdict is not None and verdict.action is PoisonAction.MOVE_POISON
    assert [verdict.is_poison(n) for n in (1, 5, 6, 30)] == [False, False, True, True]
    assert "the entity's batches" in verdict.reason
