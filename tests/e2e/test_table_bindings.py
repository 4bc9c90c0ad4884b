"""Table inputs and outputs end to end (app: tests/e2e/apps/tables), checked through the tables SDK."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from azure.data.tables import EdmType, EntityProperty
from azure.data.tables.aio import TableServiceClient

from .conftest import APPS, serve
from .hosting import RunningHost
from .polling import poll_status


@pytest.fixture(scope="module")
async def tables_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve(APPS / "tables", connection_string, tmp_path_factory):
        yield host


@pytest.fixture
async def service(connection_string: str) -> AsyncIterator[TableServiceClient]:
    async with TableServiceClient.from_connection_string(connection_string) as client:
        yield client


@pytest.fixture
def partition() -> str:
    return "p" + uuid.uuid4().hex[:10]


async def rows(service: TableServiceClient, table: str, partition: str) -> dict[str, dict[str, Any]]:
    """The entities of ``partition`` in ``table``, by RowKey."""
    client = service.get_table_client(table)
    found = client.query_entities("PartitionKey eq @p", parameters={"p": partition})
    return {str(e["RowKey"]): dict(e) async for e in found}


async def post(
    http: aiohttp.ClientSession, url: str, body: Any, params: dict[str, str] | None = None
) -> tuple[int, str]:
    async with http.post(url, data=json.dumps(body), params=params or {}) as response:
        return response.status, await response.text()


async def test_writes_one_entity_as_json_text_with_typed_properties(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    entity = {"RowKey": "ann", "Name": "Ann", "Age": 34, "Height": 1.7, "Member": True, "Note": None}
    status, text = await post(http, f"{tables_host.base_url}/api/people/{partition}", entity)
    assert status == 201, text
    stored = (await rows(service, "People", partition))["ann"]
    assert stored["PartitionKey"] == partition
    assert stored["Name"] == "Ann"
    assert stored["Age"] == EntityProperty(34, EdmType.INT64)
    assert stored["Height"] == 1.7
    assert stored["Member"] is True
    assert "Note" not in stored


async def test_writes_a_list_with_keys_in_any_case_overriding_the_binding(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    other = partition + "x"
    body = [{"RowKey": "a", "N": 1}, {"rowkey": "b", "N": 2}, {"partitionKey": other, "ROWKEY": "c", "N": 3}]
    status, text = await post(http, f"{tables_host.base_url}/api/people/{partition}", body, {"as": "object"})
    assert status == 201, text
    assert sorted(await rows(service, "People", partition)) == ["a", "b"]
    moved = await rows(service, "People", other)
    assert list(moved) == ["c"]
    assert "partitionKey" not in moved["c"] and "ROWKEY" not in moved["c"]


async def test_reads_one_entity_by_route_parameters_and_none_when_missing(
    tables_host: RunningHost, http: aiohttp.ClientSession, partition: str
) -> None:
    entity = {"RowKey": "bob", "Name": "Bob", "Age": 41}
    assert (await post(http, f"{tables_host.base_url}/api/people/{partition}", entity))[0] == 201

    async with http.get(f"{tables_host.base_url}/api/entity/People/{partition}/bob") as response:
        assert response.status == 200
        body = await response.json()
    assert body == {"PartitionKey": partition, "RowKey": "bob", "Name": "Bob", "Age": 41}

    async with http.get(f"{tables_host.base_url}/api/entity/People/{partition}/nobody") as response:
        assert (response.status, await response.text()) == (404, "none")
    async with http.get(f"{tables_host.base_url}/api/entity/NoSuchTable/{partition}/bob") as response:
        assert (response.status, await response.text()) == (404, "none")


async def test_query_joins_the_partition_and_a_filter_with_quoted_values_and_stops_at_take(
    tables_host: RunningHost, http: aiohttp.ClientSession, partition: str
) -> None:
    people = [
        {"RowKey": "a", "Name": "Ann", "Age": 20},
        {"RowKey": "b", "Name": "O'Brien", "Age": 45},
        {"RowKey": "c", "Name": "Cy", "Age": 50},
        {"RowKey": "d", "Name": "Di", "Age": 60},
    ]
    assert (await post(http, f"{tables_host.base_url}/api/people/{partition}", people))[0] == 201
    elsewhere = {"PartitionKey": partition + "y", "RowKey": "z", "Name": "Zed", "Age": 70}
    assert (await post(http, f"{tables_host.base_url}/api/people/{partition}", elsewhere))[0] == 201

    async with http.get(f"{tables_host.base_url}/api/older/{partition}/30/O'Brien") as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["type"] == "str"
    assert [p["RowKey"] for p in body["people"]] == ["c", "d"]
    assert all(p["PartitionKey"] == partition for p in body["people"])

    async with http.get(f"{tables_host.base_url}/api/older/{partition}/0/Nobody") as response:
        found = (await response.json())["people"]
    assert [p["RowKey"] for p in found] == ["a", "b"]  # take=2 of the 4 that match

    async with http.get(f"{tables_host.base_url}/api/older/{partition}/1 or true/Nobody") as response:
        assert response.status == 500
        assert "invalid parameter value was specified for filter parameter 'age'" in await response.text()


async def test_invalid_key_is_refused_with_the_hosts_message(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    body = [{"RowKey": "fine"}, {"RowKey": "a/b"}]
    status, text = await post(http, f"{tables_host.base_url}/api/people/{partition}", body)
    assert status == 500
    assert "'a/b' is not a valid value for a partition key or row key." in text
    assert "Ensure that the table entity contains valid 'PartitionKey' and 'RowKey' values." in text
    assert await rows(service, "People", partition) == {}


async def test_nested_property_is_refused_naming_it(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    body = {"RowKey": "r", "Address": {"City": "Oslo"}}
    status, text = await post(http, f"{tables_host.base_url}/api/people/{partition}", body)
    assert status == 500
    assert "property 'Address'" in text and "JSON object" in text
    assert await rows(service, "People", partition) == {}


async def test_existing_entity_fails_the_function_and_writes_nothing_of_its_batch(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    url = f"{tables_host.base_url}/api/people/{partition}"
    assert (await post(http, url, {"RowKey": "dup", "Version": 1}))[0] == 201
    status, text = await post(
        http, url, [{"RowKey": "n1"}, {"RowKey": "dup", "Version": 2}, {"RowKey": "n2"}]
    )
    assert status == 500
    assert "RowKey 'dup' already exists" in text
    stored = await rows(service, "People", partition)
    assert list(stored) == ["dup"]
    assert stored["dup"]["Version"] == EntityProperty(1, EdmType.INT64)


async def test_invalid_literal_table_name_keeps_the_function_from_loading(
    tables_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    assert "'ab' is not a valid name for an Azure table" in tables_host.log()
    async with http.post(f"{tables_host.base_url}/api/bad-table") as response:
        assert response.status == 404


async def test_activity_writes_a_table_output(
    tables_host: RunningHost, http: aiohttp.ClientSession, service: TableServiceClient, partition: str
) -> None:
    async with http.post(f"{tables_host.base_url}/api/orchestrators/rows/{partition}") as response:
        assert response.status == 202
        urls = await response.json()
    status = await poll_status(http, urls["statusQueryGetUri"])
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == 3
    stored = await rows(service, "ActivityRows", partition)
    assert sorted(stored) == ["row0", "row1", "row2"]
    assert stored["row2"]["Index"] == EntityProperty(2, EdmType.INT64)
