"""Ids derived from what they identify, so an episode that runs again produces the same ones.

An episode whose messages were sent but whose history never committed (its worker died, storage failed)
runs again and sends them again. Everything a receiver deduplicates on must then come out the same:
the id of an entity request, the execution id of a sub-orchestration it starts, the execution id of the
generation a continue-as-new begins.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6f1c2b0e-3d4a-4c8e-9a57-2b8d1e0f4c63")


def derived_uuid(*parts: object) -> uuid.UUID:
    """A name-based (version 5) UUID of ``parts``: the same parts always give the same UUID."""
    return uuid.uuid5(_NAMESPACE, ":".join(str(p) for p in parts))


def entity_request_id(instance_id: str, execution_id: str, sequence: int) -> str:
    return str(derived_uuid(instance_id, execution_id, sequence))


def child_execution_id(parent_instance_id: str, parent_execution_id: str, task_id: int) -> str:
    return derived_uuid("child", parent_instance_id, parent_execution_id, task_id).hex


def next_execution_id(instance_id: str, execution_id: str) -> str:
    return derived_uuid("continue", instance_id, execution_id).hex
