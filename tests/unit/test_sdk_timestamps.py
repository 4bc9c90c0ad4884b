"""The SDK's history timestamps are parsed once each, to the values dateutil gives."""

from __future__ import annotations

import importlib

from dateutil.parser import parse

from durable_ext.extension import sdk_timestamps
from durable_ext.extension.functions import FunctionRegistry
from durable_ext.extension.runners import SdkOrchestrationRunner

TEXTS = [
    "2026-05-09T07:35:25.1234560Z",
    "2026-05-09T07:35:25.9999999Z",
    "2026-05-09T07:35:25Z",
    "2026-05-09T07:35:25.123+02:00",
    "2026-05-09 07:35:25",
    "0001-01-01T00:00:00",
]


def test_the_values_are_dateutils() -> None:
    for text in TEXTS:
        for _ in range(2):
            value = sdk_timestamps.parse_timestamp(text)
            assert value == parse(text)
            assert (value.tzinfo is None) == (parse(text).tzinfo is None)
            assert value.utcoffset() == parse(text).utcoffset()
    assert sdk_timestamps.parse_timestamp(TEXTS[0]) is sdk_timestamps.parse_timestamp(TEXTS[0])
    assert sdk_timestamps.parse_timestamp("10/11/12", dayfirst=True) == parse("10/11/12", dayfirst=True)


def test_the_orchestration_runner_installs_it_for_the_sdks_history_events() -> None:
    SdkOrchestrationRunner(FunctionRegistry(), executor=None)  # type: ignore[arg-type]
    module = importlib.import_module("azure.durable_functions.models.history.HistoryEvent")
    assert module.dt_parse is sdk_timestamps.parse_timestamp
    event = module.HistoryEvent(EventType=12, EventId=-1, IsPlayed=True, Timestamp=TEXTS[0])
    assert event.timestamp == parse(TEXTS[0])
