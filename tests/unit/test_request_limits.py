"""The management API's limits: each refusal names its parameter and, for a limit, the limit."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import make_mocked_request

from durable_ext.extension.request_limits import (
    MAX_BODY_BYTES,
    MAX_ENTITY_ID_LENGTH,
    MAX_JSON_DEPTH,
    MAX_PAGE_SIZE,
    MAX_QUERY_VALUE_LENGTH,
    RequestRejected,
    check_entity_key,
    check_length,
    check_page_size,
    check_query_lengths,
    check_seconds,
    compact_json,
    json_depth,
    parse_json,
    read_body,
)
from durable_ext.extension.status_payload import error_body


def test_a_length_check_names_the_parameter_and_the_limit() -> None:
    assert check_length("abc", 3, "eventName", "event name") == "abc"
    with pytest.raises(RequestRejected) as too_long:
        check_length("abcd", 3, "eventName", "event name")
    assert (too_long.value.parameter, too_long.value.limit, too_long.value.status) == ("eventName", 3, 400)
    assert "4 characters long; the limit is 3" in str(too_long.value)
    with pytest.raises(RequestRejected, match="must not be empty"):
        check_length("", 3, "eventName", "event name")


@pytest.mark.parametrize(("value", "expected"), [(None, 100), ("1", 1), (str(MAX_PAGE_SIZE), MAX_PAGE_SIZE)])
def test_page_sizes_from_one_to_the_maximum_are_taken(value: str | None, expected: int) -> None:
    assert check_page_size(value, 100) == expected


@pytest.mark.parametrize("value", ["0", "-5", str(MAX_PAGE_SIZE + 1), "ten", "1.5", ""])
def test_other_page_sizes_are_refused_naming_top(value: str) -> None:
    with pytest.raises(RequestRejected) as refused:
        check_page_size(value, 100)
    assert refused.value.parameter == "top" and refused.value.limit == MAX_PAGE_SIZE


def test_seconds_must_be_finite_and_not_negative() -> None:
    assert check_seconds(None, "timeout") is None
    assert check_seconds("0.5", "timeout") == 0.5
    for value in ["-1", "inf", "nan", "-inf", "soon"]:
        with pytest.raises(RequestRejected) as refused:
            check_seconds(value, "timeout")
        assert refused.value.parameter == "timeout"


def test_entity_keys_follow_the_instance_id_rules() -> None:
    check_entity_key("counter", "apples")
    for key in ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "a\x85b"]:
        with pytest.raises(RequestRejected) as refused:
            check_entity_key("counter", key)
        assert refused.value.parameter == "entityKey"
    room = MAX_ENTITY_ID_LENGTH - len("@counter@")
    check_entity_key("counter", "k" * room)
    with pytest.raises(RequestRejected) as refused:
        check_entity_key("counter", "k" * (room + 1))
    assert refused.value.limit == room


def test_json_nesting_is_measured_and_limited() -> None:
    assert [json_depth(v) for v in (1, [], [[]], {"a": [1, {"b": 2}]})] == [0, 1, 2, 3]
    assert parse_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, "input") is not None
    for depth in (MAX_JSON_DEPTH + 1, 100_000):  # the second would overflow the decoder's recursion
        with pytest.raises(RequestRejected) as refused:
            parse_json("[" * depth + "]" * depth, "input")
        assert refused.value.parameter == "body" and refused.value.limit == MAX_JSON_DEPTH


def test_text_that_is_not_json_is_refused_naming_the_body() -> None:
    with pytest.raises(RequestRejected, match="not valid JSON") as refused:
        parse_json("{nope", "event data")
    assert refused.value.parameter == "body"


def test_a_lone_surrogate_cannot_be_stored() -> None:
    assert compact_json({"a": [1, "é"]}, "input") == '{"a":[1,"é"]}'
    with pytest.raises(RequestRejected, match="surrogate"):
        compact_json(json.loads('"\\ud800"'), "input")


def test_a_query_parameter_or_token_too_long_is_named() -> None:
    fine = make_mocked_request("GET", "/x?reason=" + "r" * MAX_QUERY_VALUE_LENGTH)
    check_query_lengths(fine)
    with pytest.raises(RequestRejected) as refused:
        check_query_lengths(make_mocked_request("GET", "/x?reason=" + "r" * (MAX_QUERY_VALUE_LENGTH + 1)))
    assert refused.value.parameter == "reason" and refused.value.limit == MAX_QUERY_VALUE_LENGTH
    token = {"x-ms-continuation-token": "t" * (MAX_QUERY_VALUE_LENGTH + 1)}
    with pytest.raises(RequestRejected) as refused:
        check_query_lengths(make_mocked_request("GET", "/x", headers=token))
    assert refused.value.parameter == "x-ms-continuation-token"


async def test_a_body_announced_above_the_limit_is_refused_with_413_before_it_is_read() -> None:
    request = make_mocked_request("POST", "/x", headers={"Content-Length": str(MAX_BODY_BYTES + 1)})
    with pytest.raises(RequestRejected) as refused:
        await read_body(request)
    assert (refused.value.status, refused.value.parameter, refused.value.limit) == (
        413,
        "body",
        MAX_BODY_BYTES,
    )


def test_the_error_body_keeps_what_the_sdk_reads_and_adds_the_parameter() -> None:
    assert json.loads(error_body("bad")) == {"Message": "bad", "ExceptionMessage": "bad"}
    assert json.loads(error_body("bad", parameter="top", limit=1000)) == {
        "Message": "bad",
        "ExceptionMessage": "bad",
        "parameter": "top",
        "limit": 1000,
    }
