"""A fix applied to the SDK's client in this process: signals with falsy inputs keep their input.

``DurableOrchestrationClient.signal_entity`` sends a body only when the input is truthy, so ``0``,
``""``, ``False``, ``[]`` and ``{}`` reach the entity as no input at all. The fix sends those inputs
too; every other call goes through the SDK's own method unchanged.
"""

from __future__ import annotations

import json
from typing import Any

_MARK = "_durable_ext_keeps_falsy_inputs"


def keep_falsy_signal_inputs() -> None:
    from azure.durable_functions.models.DurableOrchestrationClient import DurableOrchestrationClient
    from azure.durable_functions.models.RpcManagementOptions import RpcManagementOptions

    sdk_signal = DurableOrchestrationClient.signal_entity
    if getattr(sdk_signal, _MARK, False):
        return

    async def signal_entity(
        self: Any,
        entityId: Any,
        operation_name: str,
        operation_input: Any = None,
        task_hub_name: str | None = None,
        connection_name: str | None = None,
    ) -> None:
        if operation_input is None or operation_input:
            await sdk_signal(self, entityId, operation_name, operation_input, task_hub_name, connection_name)
            return
        options = RpcManagementOptions(
            operation_name=operation_name,
            connection_name=connection_name,
            task_hub_name=task_hub_name,
            entity_Id=entityId,
        )
        url = options.to_url(self._orchestration_bindings.rpc_base_url)
        invocation_id = getattr(self, "_function_invocation_id", None)
        status, _ = await self._post_async_request(
            url, json.dumps(operation_input), None, None, invocation_id
        )
        if status != 202:
            raise Exception(f"The operation failed with an unexpected status code {status}")

    setattr(signal_entity, _MARK, True)
    signal_entity.__doc__ = sdk_signal.__doc__
    DurableOrchestrationClient.signal_entity = signal_entity
