"""The entity JSON the tables SDK sends, written directly for the values the task hub stores.

The SDK's ``_add_entity_properties`` turns each property into its JSON value and, where the Table
service needs it, an ``@odata.type`` beside it. For the plain ``str``, ``bool``, 32-bit ``int`` and
UTC ``datetime`` values of the task hub's rows this writes the same properties in the same order with
less work; an entity holding any other value is left to the SDK's serializer whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from azure.data.tables._serialize import _add_entity_properties

_INT32 = 2**31


def entity_properties(entity: Mapping[str, Any]) -> dict[str, Any]:
    """What ``_add_entity_properties(entity)`` returns."""
    properties: dict[str, Any] = {}
    for name, value in entity.items():
        kind = type(value)
        if kind is str:
            properties[name] = value
            properties[name + "@odata.type"] = "Edm.String"
        elif kind is bool or (kind is int and -_INT32 <= value < _INT32):
            properties[name] = value
        elif value is None:
            continue
        elif kind is datetime and value.tzinfo is UTC and value.year >= 1000:
            properties[name] = (
                f"{value.year}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}:"
                f"{value.second:02d}.{value.microsecond:06d}Z"
            )
            properties[name + "@odata.type"] = "Edm.DateTime"
        else:
            return _add_entity_properties(entity)
    return properties
