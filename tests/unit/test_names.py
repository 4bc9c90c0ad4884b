"""Task hub resource names, table key escaping and instance id validation (reference §1, §2.3)."""

from __future__ import annotations

import pytest

from durable_ext.azurestorage.names import TaskHubNames, escape_key, unescape_key
from durable_ext.core.instance_ids import MAX_INSTANCE_ID_LENGTH, validate_instance_id
from durable_ext.errors import InvalidRequestError


def test_resource_names_for_a_mixed_case_hub() -> None:
    names = TaskHubNames("MyHub7", 4)
    assert names.history_table == "MyHub7History"
    assert names.instances_table == "MyHub7Instances"
    assert names.work_item_queue == "myhub7-workitems"
    assert names.control_queues == [
        "myhub7-control-00",
        "myhub7-control-01",
        "myhub7-control-02",
        "myhub7-control-03",
    ]
    assert names.large_messages_container == "myhub7-largemessages"
    assert names.leases_container == "myhub7-leases"
    assert names.app_lease_container == "myhub7-applease"
    assert names.app_lease_info_blob == "myhub7-appleaseinfo"


def test_control_queue_padding_with_sixteen_partitions() -> None:
    names = TaskHubNames("Hub", 16)
    assert len(names.control_queues) == 16
    assert names.control_queue(0) == "hub-control-00"
    assert names.control_queue(9) == "hub-control-09"
    assert names.control_queue(15) == "hub-control-15"


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain-id_1.2", "plain-id_1.2"),
        ("a^b", "a^^b"),
        ("a/b", "a^0b"),
        ("a\\b", "a^1b"),
        ("a#b", "a^2b"),
        ("a?b", "a^3b"),
        ("\x00", "^\u00c0"),
        ("x\ty", "x^\u00c9y"),
        ("\x1f", "^\u00df"),
        ("\x7f", "^\u013f"),
        ("\x9f", "^\u015f"),
        ("^0", "^^0"),
        ("/^/", "^0^^^0"),
    ],
)
def test_escape_key_hand_cases(raw: str, escaped: str) -> None:
    assert escape_key(raw) == escaped
    assert unescape_key(escaped) == raw


def test_characters_outside_the_control_ranges_are_kept() -> None:
    for ch in [" ", "~", "\xa0", "À", "é", "\u0200", "@"]:
        assert escape_key(ch) == ch


def test_round_trip_every_char_up_to_0x200() -> None:
    for code in range(0x201):
        ch = chr(code)
        for raw in (ch, f"a{ch}b", f"{ch}{ch}", f"^{ch}"):
            escaped = escape_key(raw)
            assert unescape_key(escaped) == raw, (hex(code), raw, escaped)


def test_escaped_keys_contain_no_forbidden_table_key_chars() -> None:
    raw = "".join(chr(c) for c in range(0x201))
    escaped = escape_key(raw)
    for forbidden in "/\\#?":
        assert forbidden not in escaped
    assert not any(ord(c) <= 0x1F or 0x7F <= ord(c) <= 0x9F for c in escaped)
    assert unescape_key(escaped) == raw


def test_valid_instance_ids_pass() -> None:
    for instance_id in ["a", "x" * MAX_INSTANCE_ID_LENGTH, "order-42", "a@b", "Ünïcödé", "with space"]:
        validate_instance_id(instance_id)


def test_empty_instance_id_is_rejected() -> None:
    with pytest.raises(InvalidRequestError, match="must not be empty"):
        validate_instance_id("")


def test_too_long_instance_id_names_length_and_limit() -> None:
    with pytest.raises(InvalidRequestError) as info:
        validate_instance_id("y" * 101)
    message = str(info.value)
    assert "101" in message
    assert "100" in message


def test_leading_at_is_reserved_for_entities() -> None:
    with pytest.raises(InvalidRequestError, match="'@'") as info:
        validate_instance_id("@counter@k1")
    assert "entit" in str(info.value)


@pytest.mark.parametrize("bad", ["/", "\\", "#", "?", "\x00", "\n", "\x7f", "\x85"])
def test_forbidden_characters_are_named(bad: str) -> None:
    instance_id = f"abc{bad}def"
    with pytest.raises(InvalidRequestError) as info:
        validate_instance_id(instance_id)
    assert repr(bad) in str(info.value)
    assert "must not" in str(info.value)
