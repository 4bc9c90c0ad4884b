"""Lifecycle log lines and OpenTelemetry spans of a real run (engine on Azurite)."""

from __future__ import annotations

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from durable_ext.core.history import OrchestrationStatus

from .test_engine import Engine, _sdk_input, engine  # noqa: F401 (the fixture)

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def tracing() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)  # the process's first provider: later calls are ignored


async def test_each_lifecycle_step_is_a_line_with_the_instance_fields(
    engine: Engine,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="durable_ext.lifecycle")
    instance_id = await engine.client.start("chain", _sdk_input(["a", "b"]))
    assert (await engine.client.wait_for_completion(instance_id, 20)).status == OrchestrationStatus.Completed
    mine = [r for r in caplog.records if getattr(r, "instance_id", None) == instance_id]
    messages = [r.getMessage() for r in mine]
    assert messages[0] == f"Orchestration 'chain' ({instance_id}) started"
    assert messages.count(f"Orchestration 'chain' ({instance_id}) scheduled activity 'hello'") == 2
    assert sum(1 for m in messages if m.startswith(f"Activity 'hello' of {instance_id} completed in")) == 2
    assert messages[-1] == f"Orchestration 'chain' ({instance_id}) completed"
    episodes = [r.episode for r in mine if r.getMessage().startswith("Orchestration")]  # type: ignore[attr-defined]
    assert episodes[0] == 1 and episodes[-1] == 3
    assert all(r.execution_id for r in mine)  # type: ignore[attr-defined]


async def test_a_failure_is_a_warning_with_its_reason(
    engine: Engine,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="durable_ext.lifecycle")
    instance_id = await engine.client.start("fails", _sdk_input(None))
    await engine.client.wait_for_completion(instance_id, 20)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and getattr(r, "instance_id", None) == instance_id
    ]
    assert any(
        m.startswith(f"Activity 'explode' of {instance_id} failed") and "kaboom now" in m for m in warnings
    )
    assert any(m.startswith(f"Orchestration 'fails' ({instance_id}) failed:") for m in warnings)


async def test_episodes_and_activities_are_spans(engine: Engine) -> None:  # noqa: F811
    EXPORTER.clear()
    instance_id = await engine.client.start("chain", _sdk_input(["x"]))
    await engine.client.wait_for_completion(instance_id, 20)
    spans = [
        s
        for s in EXPORTER.get_finished_spans()
        if (s.attributes or {}).get("durable.instance_id") == instance_id
    ]
    names = sorted(s.name for s in spans)
    assert names == ["activity hello", "orchestration chain", "orchestration chain"]
    activity = next(s for s in spans if s.name == "activity hello")
    assert (activity.attributes or {}).get("durable.function") == "hello"


def test_json_lines_carry_the_fields() -> None:
    from durable_ext.host.logs import JsonFormatter, TextFormatter

    record = logging.LogRecord(
        "durable_ext.lifecycle", logging.WARNING, __file__, 1, "failed: %s", ("x",), None
    )
    record.instance_id, record.function, record.episode = "abc", "chain", 2
    body = json.loads(JsonFormatter().format(record))
    assert body["message"] == "failed: x" and body["level"] == "WARNING"
    assert (body["instance_id"], body["function"], body["episode"]) == ("abc", "chain", 2)
    assert TextFormatter().format(record).endswith("[instance_id=abc function=chain episode=2]")
