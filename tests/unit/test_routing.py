"""FNV-1a routing of instance ids to control queues (reference §5.1)."""

from __future__ import annotations

import pytest

from durable_ext.azurestorage.routing import fnv1a32, partition_for


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a", 0xE40C292C),
        ("foobar", 0xBF9CF968),
        ("", 0x811C9DC5),
        ("2.2-34a2c9d4-306e-4467-8470-a8018b2e4f11", 0xE3731235),
    ],
)
def test_reference_vectors(value: str, expected: int) -> None:
    assert fnv1a32(value) == expected


def test_reference_instance_goes_to_partition_1_of_4() -> None:
    assert partition_for("2.2-34a2c9d4-306e-4467-8470-a8018b2e4f11", 4) == 1


def _reference_fnv(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) % 2**32
    return h


@pytest.mark.parametrize("value", ["é", "日本語-instance", "emoji-\U0001f600", "Ünïcödé/ß"])
def test_non_ascii_ids_hash_their_utf8_bytes(value: str) -> None:
    assert fnv1a32(value) == _reference_fnv(value.encode("utf-8"))
    # UTF-16 or Latin-1 would give something else: the encoding matters
    assert fnv1a32(value) != _reference_fnv(value.encode("utf-16-le"))


def test_single_non_ascii_char_uses_each_utf8_byte() -> None:
    # "é" is C3 A9 in UTF-8; hashing the code point 0xE9 as one byte would differ
    assert fnv1a32("é") == _reference_fnv(b"\xc3\xa9")
    assert fnv1a32("é") != _reference_fnv(b"\xe9")


def test_hash_is_unsigned_32_bit() -> None:
    for i in range(2000):
        h = fnv1a32(f"instance-{i}")
        assert 0 <= h < 2**32


@pytest.mark.parametrize("count", [1, 2, 4, 7, 16])
def test_partition_is_in_range_and_uses_the_unsigned_hash(count: int) -> None:
    seen: set[int] = set()
    for i in range(500):
        instance_id = f"id-{i}"
        p = partition_for(instance_id, count)
        assert 0 <= p < count
        assert p == fnv1a32(instance_id) % count
        seen.add(p)
    assert seen == set(range(count))  # 500 ids reach every partition
