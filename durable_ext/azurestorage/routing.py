"""Which control queue (partition) owns an instance: 32-bit FNV-1a over the UTF-8 bytes of its id."""

from __future__ import annotations

_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(value: str) -> int:
    h = _FNV_OFFSET
    for byte in value.encode("utf-8"):
        h ^= byte
        h = (h * _FNV_PRIME) & 0xFFFFFFFF
    return h


def partition_for(instance_id: str, partition_count: int) -> int:
    return fnv1a32(instance_id) % partition_count
