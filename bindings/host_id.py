"""The host id: the name under which a Functions app keeps its timers, locks and blob receipts.

Set it with ``AzureFunctionsWebHost__hostid``. Otherwise, as the Functions host does outside Azure:
the machine name (letters and digits) and a stable hash of the script root's path; on Azure App
Service, ``WEBSITE_SITE_NAME`` (plus ``-<slot>``). At most 32 characters, lower case. Every worker of
one app on one machine gets the same id; workers on several machines share one when the setting is set
(or the app is on App Service), which is what makes a timer run once across all of them.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from pathlib import Path

HOST_ID_SETTING = "AzureFunctionsWebHost__hostid"


def stable_hash(text: str) -> int:
    """The Functions host's 32-bit string hash (``h = h * 31 + c`` over UTF-16 code units, from 23)."""
    value = 23
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        value = (value * 31 + int.from_bytes(data[i : i + 2], "little")) & 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


def host_id(get_setting: Callable[[str], str | None], script_root: Path) -> str:
    explicit = get_setting(HOST_ID_SETTING)
    if explicit:
        return explicit.lower()
    site = get_setting("WEBSITE_SITE_NAME")
    if site:
        slot = get_setting("WEBSITE_SLOT_NAME")
        raw = site if not slot or slot.lower() == "production" else f"{site}-{slot}"
    else:
        machine = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname()) or "host"
        raw = f"{machine}-{abs(stable_hash(str(script_root)))}"
    return raw[:32].lower().rstrip("-")
