"""The task hub's entity JSON is the tables SDK's, property for property."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum

import pytest
from azure.data.tables import EdmType, EntityProperty
from azure.data.tables._serialize import _add_entity_properties

from durable_ext.azurestorage.entity_json import entity_properties


class Color(Enum):
    RED = "red"


ENTITIES = [
    {"PartitionKey": "p", "RowKey": "", "S": "text", "E": "", "B": True, "F": False, "I": 7, "N": None},
    {"PartitionKey": "p", "RowKey": "r", "Low": -(2**31), "High": 2**31 - 1},
    {"PartitionKey": "p", "RowKey": "r", "D": datetime(2026, 5, 9, 7, 35, 25, 123456, tzinfo=UTC)},
    {"PartitionKey": "p", "RowKey": "r", "D": datetime(2026, 5, 9, 7, 35, 25, tzinfo=UTC)},
    {"PartitionKey": "p", "RowKey": "r", "D": datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC)},
    {"PartitionKey": "p", "RowKey": "r", "D": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))},
    {"PartitionKey": "p", "RowKey": "r", "D": datetime(2026, 1, 1, 12)},
    {"PartitionKey": "p", "RowKey": "r", "F": 1.5, "U": uuid.UUID(int=5), "Y": b"\x00\x01"},
    {"PartitionKey": "p", "RowKey": "r", "C": Color.RED, "T": EntityProperty(5, EdmType.INT64)},
]


@pytest.mark.parametrize("entity", ENTITIES)
def test_entity_properties_are_the_sdks(entity: dict) -> None:
    ours = entity_properties(entity)
    assert ours == _add_entity_properties(entity)
    assert list(ours) == list(_add_entity_properties(entity))


def test_an_int_too_large_for_int32_is_refused_as_by_the_sdk() -> None:
    entity = {"PartitionKey": "p", "RowKey": "r", "Big": 2**31}
    with pytest.raises(TypeError) as sdk:
        _add_entity_properties(entity)
    with pytest.raises(TypeError) as ours:
        entity_properties(entity)
    assert str(ours.value) == str(sdk.value)
