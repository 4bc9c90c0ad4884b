"""Whether a task hub's store answers: the state the HTTP layer, the health routes and the storage watch
read without calling the store, so they answer at once whatever it does.

A provider reports the outcome of its requests (``succeeded`` / ``failed``); the Azure Storage provider
does it from its clients' transport, the memory provider is always reachable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FAULT_KINDS = ("refused", "dns", "timeout", "auth", "error")


@dataclass(frozen=True)
class StorageFault:
    kind: str
    """``refused``, ``dns``, ``timeout``, ``auth`` or ``error``."""
    message: str


def first_line(exc: BaseException, empty: str | None = None) -> str:
    """The first line of ``exc``'s message; ``empty`` (else its type's name) when it has none."""
    lines = str(exc).strip().splitlines()
    if lines:
        return lines[0]
    return type(exc).__name__ if empty is None else empty


class StorageHealth:
    """The last outcome of the requests sent to one storage account."""

    def __init__(self, endpoint: str, setting: str) -> None:
        self.endpoint = endpoint
        self.setting = setting
        self.last_success_monotonic: float | None = None
        self.last_success: datetime | None = None
        self.last_failure_monotonic: float | None = None
        self.fault: StorageFault | None = None
        """The fault of the last failed request, while no request has succeeded since."""
        self.last_fault: StorageFault | None = None

    # ---- what the transports report -------------------------------------------------------------
    def succeeded(self) -> None:
        self.last_success_monotonic = time.monotonic()
        self.last_success = datetime.now(UTC)
        self.fault = None

    def failed(self, fault: StorageFault) -> None:
        self.last_failure_monotonic = time.monotonic()
        self.fault = self.last_fault = fault

    # ---- what readers ask -----------------------------------------------------------------------
    @property
    def reachable(self) -> bool | None:
        """True after a success, False after a failure, None before the first request."""
        if self.fault is not None:
            return False
        return True if self.last_success_monotonic is not None else None

    @property
    def auth_failed(self) -> bool:
        return self.fault is not None and self.fault.kind == "auth"

    def answered_since(self, monotonic: float) -> bool:
        """True when a request succeeded at or after ``monotonic`` (a ``time.monotonic()`` reading)."""
        return self.last_success_monotonic is not None and self.last_success_monotonic >= monotonic

    def describe(self) -> str:
        """One sentence naming the endpoint, the setting it came from and the last error."""
        fault = self.fault or self.last_fault
        error = f"{fault.kind}: {fault.message}" if fault else "no answer yet"
        return f"Storage at {self.endpoint} (from the app setting '{self.setting}') is unavailable ({error})"

    def advice(self) -> str:
        if self.auth_failed:
            return (
                f"The account refused the credentials: check AccountKey (or SharedAccessSignature) in "
                f"'{self.setting}'."
            )
        if self.endpoint.startswith(("http://127.0.0.1", "http://localhost")):
            return "Start Azurite (or the storage emulator) on that port, or point the setting elsewhere."
        return "Check the account name and endpoint in the setting, the network, and the account's firewall."

    def snapshot(self) -> dict[str, Any]:
        fault = self.fault or (self.last_fault if self.reachable is False else None)
        return {
            "endpoint": self.endpoint,
            "setting": self.setting,
            "reachable": self.reachable,
            "lastError": fault.message if fault else None,
            "kind": fault.kind if fault else None,
            "lastSuccess": self.last_success.isoformat() if self.last_success else None,
        }
