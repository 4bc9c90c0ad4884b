"""Recovery from a worker that died between its history commit and its status update."""

from __future__ import annotations

import asyncio

from azure.data.tables import UpdateMode

from durable_ext.core.history import OrchestrationStatus

from .test_engine import Engine, _sdk_input, engine  # noqa: F401 (the fixture)


async def test_a_status_row_left_running_is_repaired_from_history(engine: Engine) -> None:  # noqa: F811
    instance_id = await engine.client.start("chain", _sdk_input(["a"]))
    done = await engine.client.wait_for_completion(instance_id, 20)
    assert done.status == OrchestrationStatus.Completed
    row = {"PartitionKey": instance_id, "RowKey": "", "RuntimeStatus": "Running", "Output": None}
    await engine.service.instances.table.upsert_entity(row, mode=UpdateMode.MERGE)  # as if it died
    await engine.client.raise_event(instance_id, "late", None)  # any message for the finished instance
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while True:
        state = await engine.client.get_state(instance_id)
        assert state is not None
        if state.status == OrchestrationStatus.Completed:
            break
        assert loop.time() < deadline, f"the row stayed {state.status.name}"
        await asyncio.sleep(0.1)
    assert state.output == '["Hello a"]'
