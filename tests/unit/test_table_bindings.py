"""The pure parts of the table bindings: names and keys, filters, entity JSON, entities and batches."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import EdmType, EntityProperty

from bindings.base import FunctionInfo, InvocationContext
from bindings.storage.accounts import StorageAccounts
from bindings.storage.table_binding import TableBindingSettings
from bindings.storage.table_filter import resolve_filter
from bindings.storage.table_input import TableInputBindingProvider, entity_json, json_value, query_text
from bindings.storage.table_names import InvalidKeyError, check_key, check_table_name, odata_string
from bindings.storage.table_output import MAX_BATCH_SIZE, batches, to_entity
from durable_ext.errors import ConfigurationError
from durable_ext.host.settings import AppSettings

KEY_MESSAGE = "is not a valid value for a partition key or row key. Ensure that the table entity contains"


def settings(values: dict[str, str] | None = None) -> AppSettings:
    return AppSettings(Path("."), {"AzureWebJobsStorage": "UseDevelopmentStorage=true", **(values or {})}, {})


def function(binding: dict[str, Any]) -> FunctionInfo:
    def handler(req: Any, rows: Any) -> None:
        return None

    trigger = {"type": "httpTrigger", "name": "req", "direction": "IN"}
    return FunctionInfo("fn", "httpTrigger", trigger, (trigger, binding), handler)


def table_settings(binding: dict[str, Any], values: dict[str, str] | None = None) -> TableBindingSettings:
    app = settings(values)
    binding = {"type": "table", "name": "rows", **binding}
    return TableBindingSettings.from_binding(function(binding), binding, app, StorageAccounts(app.get))


# ---------------------------------------------------------------- names and keys


@pytest.mark.parametrize("name", ["abc", "People", "T" + "a" * 62, "a1b2"])
def test_valid_table_names_pass(name: str) -> None:
    assert check_table_name(name, function_name="fn", binding_name="rows") == name


@pytest.mark.parametrize("name", ["ab", "1abc", "my-table", "my_table", "T" + "a" * 63, ""])
def test_invalid_table_names_say_so(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"'{name}' is not a valid name for an Azure table .*'fn'"):
        check_table_name(name, function_name="fn", binding_name="rows")


@pytest.mark.parametrize("key", ["", " ", "a b", "ünï", "a.b-c_d"])
def test_valid_keys_pass(key: str) -> None:
    assert check_key(key, where="here") == key


@pytest.mark.parametrize("key", [None, "a/b", "a\\b", "a#b", "a?b", "a\tb", "a\x7fb", "a\x9fb"])
def test_invalid_keys_get_the_hosts_message(key: str | None) -> None:
    with pytest.raises(InvalidKeyError, match=KEY_MESSAGE):
        check_key(key, where="here")


def test_odata_strings_double_their_quotes() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"


# ---------------------------------------------------------------- filters


def test_a_quoted_expression_has_its_quotes_doubled() -> None:
    assert resolve_filter("Name eq '{name}'", {"name": "x' or 'a' eq 'a"}) == "Name eq 'x'' or ''a'' eq ''a'"


def test_an_unquoted_expression_must_be_a_number_or_a_boolean() -> None:
    assert (
        resolve_filter("Age gt {age} and Ok eq {ok}", {"age": "41", "ok": "True"})
        == "Age gt 41 and Ok eq True"
    )
    assert resolve_filter("X lt {x}", {"x": "-1.5e3"}) == "X lt -1.5e3"
    with pytest.raises(ConfigurationError, match=r"invalid parameter value .* filter parameter 'age'"):
        resolve_filter("Age gt {age}", {"age": "1 or true"})


def test_an_expression_quoted_in_one_place_only_is_not_a_string_literal() -> None:
    with pytest.raises(ConfigurationError, match="filter parameter 'v'"):
        resolve_filter("A eq '{v}' or B eq {v}", {"v": "text"})
    assert resolve_filter("A eq '{v}' or B eq {v}", {"v": "7"}) == "A eq '7' or B eq 7"


def test_a_filter_that_is_one_expression_is_used_as_given() -> None:
    assert resolve_filter("{query}", {"query": "Name eq 'a' or Age gt 3"}) == "Name eq 'a' or Age gt 3"


def test_dates_in_a_filter_are_utc_iso_text() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    assert (
        resolve_filter("T ge datetime'{when}'", {"when": moment})
        == "T ge datetime'2024-05-01T10:00:00.0000000Z'"
    )


def test_the_partition_predicate_is_joined_to_the_filter_without_parentheses() -> None:
    assert query_text("p'1", "A eq 1 or B eq 2") == "PartitionKey eq 'p''1' and A eq 1 or B eq 2"
    assert query_text("p", None) == "PartitionKey eq 'p'"
    assert query_text("", "A eq 1") == "A eq 1"
    assert query_text(None, None) is None


# ---------------------------------------------------------------- entity JSON (input)


def test_entity_json_has_keys_first_and_json_values() -> None:
    guid = uuid.uuid4()
    entity = {
        "Name": "n",
        "RowKey": "r",
        "PartitionKey": "p",
        "Big": EntityProperty(2**40, EdmType.INT64),
        "When": datetime(2024, 5, 1, 10, 0, tzinfo=UTC),
        "Data": b"\x00\x01",
        "Id": guid,
        "Ok": False,
    }
    body = entity_json(entity)
    assert list(body)[:2] == ["PartitionKey", "RowKey"]
    assert body == {
        "PartitionKey": "p",
        "RowKey": "r",
        "Name": "n",
        "Big": 2**40,
        "When": "2024-05-01T10:00:00Z",
        "Data": "AAE=",
        "Id": str(guid),
        "Ok": False,
    }


def test_non_finite_doubles_are_text() -> None:
    assert [json_value(v) for v in (math.nan, math.inf, -math.inf, 1.5)] == [
        "NaN",
        "Infinity",
        "-Infinity",
        1.5,
    ]


# ---------------------------------------------------------------- entities (output)


def test_keys_come_from_the_item_in_any_case_else_the_binding() -> None:
    entity = to_entity({"partitionkey": "own", "rowKey": 7, "N": 1}, "bound", "r", where="w")
    assert entity == {"PartitionKey": "own", "RowKey": "7", "N": EntityProperty(1, EdmType.INT64)}
    assert to_entity({"PartitionKey": None}, "bound", "r", where="w")["PartitionKey"] == "bound"


def test_a_missing_key_is_refused() -> None:
    with pytest.raises(InvalidKeyError, match=f"'' {KEY_MESSAGE}"):
        to_entity({"RowKey": "r"}, None, None, where="w")


def test_properties_are_json_scalars_and_nulls_are_left_out() -> None:
    entity = to_entity('{"RowKey": "r", "S": "s", "F": 1.5, "B": true, "Z": null}', "p", None, where="w")
    assert entity == {"PartitionKey": "p", "RowKey": "r", "S": "s", "F": 1.5, "B": True}


@pytest.mark.parametrize(("value", "kind"), [({"a": 1}, "a JSON object"), ([1], "a JSON array")])
def test_a_nested_property_is_refused_naming_it(value: Any, kind: str) -> None:
    with pytest.raises(ValueError, match=f"property 'Address' of w is {kind}"):
        to_entity({"RowKey": "r", "Address": value}, "p", None, where="w")


def test_integers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'Huge'.*64-bit"):
        to_entity({"RowKey": "r", "Huge": 2**63}, "p", None, where="w")


def test_an_item_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="w is a str, not a JSON object"):
        to_entity("plain text", "p", "r", where="w")


def test_two_properties_for_one_key_are_refused() -> None:
    with pytest.raises(ValueError, match="2 properties named RowKey"):
        to_entity({"RowKey": "a", "rowkey": "b"}, "p", None, where="w")


# ---------------------------------------------------------------- batches


def entities(*keys: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"PartitionKey": p, "RowKey": r} for p, r in keys]


def test_batches_hold_one_partition_and_at_most_100() -> None:
    many = entities(*[("a", str(i)) for i in range(MAX_BATCH_SIZE + 5)], ("b", "x"))
    found = batches(many)
    assert [len(b) for b in found] == [MAX_BATCH_SIZE, 5, 1]
    assert all(len({e["PartitionKey"] for e in b}) == 1 for b in found)


def test_a_repeated_row_key_starts_a_new_batch() -> None:
    found = batches(entities(("a", "1"), ("b", "1"), ("a", "2"), ("a", "1")))
    assert found == [entities(("a", "1"), ("a", "2")), entities(("b", "1")), entities(("a", "1"))]


# ---------------------------------------------------------------- settings at load


def test_settings_resolve_app_settings_and_check_a_literal_table_name() -> None:
    found = table_settings({"tableName": "%T%", "partitionKey": "{id}"}, {"T": "People"})
    assert (found.table_name, found.partition_key, found.row_key) == ("People", "{id}", None)
    with pytest.raises(ConfigurationError, match="'no_good' is not a valid name for an Azure table"):
        table_settings({"tableName": "no_good"})
    with pytest.raises(ConfigurationError, match="has no tableName"):
        table_settings({})
    with pytest.raises(ConfigurationError, match="Invalid template"):
        table_settings({"tableName": "T{x", "partitionKey": "p"})


def test_a_templated_table_name_is_checked_per_invocation() -> None:
    found = table_settings({"tableName": "{t}"})
    app = settings()
    accounts = StorageAccounts(app.get)
    assert (
        found.table(accounts, InvocationContext("i", "fn", binding_data={"t": "Good"})).table_name == "Good"
    )
    with pytest.raises(ConfigurationError, match="'x' is not a valid name"):
        found.table(accounts, InvocationContext("i", "fn", binding_data={"t": "x"}))


def test_take_must_be_a_whole_number() -> None:
    app = settings({"TAKE": "3"})
    provider = TableInputBindingProvider(StorageAccounts(app.get), app)
    binding = {"type": "table", "name": "rows", "tableName": "People", "take": "%TAKE%"}
    assert provider.create_input(function(binding), binding).take == 3
    bad = {**binding, "take": "many"}
    with pytest.raises(ConfigurationError, match=r"take of .* is 'many'"):
        provider.create_input(function(bad), bad)
