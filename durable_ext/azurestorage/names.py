"""Task hub resource names and table key escaping, exactly as DurableTask.AzureStorage spells them."""

from __future__ import annotations

from dataclasses import dataclass

_ESCAPE = "^"
_ESCAPES = {"^": "^^", "/": "^0", "\\": "^1", "#": "^2", "?": "^3"}
_CONTROL_OFFSET = 0xC0  # 'À': control characters become '^' + chr(0xC0 + code)


@dataclass(frozen=True)
class TaskHubNames:
    """Every storage resource name of one task hub."""

    hub: str
    partition_count: int

    @property
    def history_table(self) -> str:
        return f"{self.hub}History"

    @property
    def instances_table(self) -> str:
        return f"{self.hub}Instances"

    @property
    def instance_index_table(self) -> str:
        """durable-ext's own: instances by created time, and counts per status (``instance_index``)."""
        return f"{self.hub}InstanceIndex"

    @property
    def poison_table(self) -> str:
        return f"{self.hub}Poison"

    @property
    def work_item_queue(self) -> str:
        return f"{self.hub.lower()}-workitems"

    def control_queue(self, partition: int) -> str:
        return f"{self.hub.lower()}-control-{partition:02d}"

    @property
    def control_queues(self) -> list[str]:
        return [self.control_queue(i) for i in range(self.partition_count)]

    @property
    def large_messages_container(self) -> str:
        return f"{self.hub.lower()}-largemessages"

    @property
    def leases_container(self) -> str:
        return f"{self.hub.lower()}-leases"

    @property
    def app_lease_container(self) -> str:
        return f"{self.hub.lower()}-applease"

    @property
    def app_lease_info_blob(self) -> str:
        return f"{self.hub.lower()}-appleaseinfo"


def escape_key(instance_id: str) -> str:
    """Escape an instance id for use as a table PartitionKey (DurableTask ``KeySanitation``)."""
    out = []
    for ch in instance_id:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif code <= 0x1F or 0x7F <= code <= 0x9F:
            out.append(_ESCAPE + chr(_CONTROL_OFFSET + code))
        else:
            out.append(ch)
    return "".join(out)


def unescape_key(key: str) -> str:
    """Reverse :func:`escape_key`."""
    out = []
    chars = iter(key)
    for ch in chars:
        if ch != _ESCAPE:
            out.append(ch)
            continue
        nxt = next(chars, "")
        if nxt == _ESCAPE:
            out.append(_ESCAPE)
        elif nxt in "0123":
            out.append("/\\#?"["0123".index(nxt)])
        elif nxt and ord(nxt) >= _CONTROL_OFFSET:
            out.append(chr(ord(nxt) - _CONTROL_OFFSET))
        else:
            out.append(nxt)
    return "".join(out)
