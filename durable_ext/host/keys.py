"""The host's keys: the master key, host keys, function keys and the durable task system key.

They come from app settings (``local.settings.json`` ``Values`` or the environment), so every worker
process and machine of one app reads the same keys:

* ``DURABLE_EXT_MASTER_KEY`` opens everything: admin-level functions, function-level functions, the
  management API and the monitor.
* ``DURABLE_EXT_HOST_KEYS`` (comma-separated) open every function-level function.
* ``DURABLE_EXT_FUNCTION_KEYS`` (a JSON object, function name to a key or a list of keys) open one
  function-level function each.
* ``DURABLE_EXT_DURABLETASK_KEY`` opens the durable task management API only; it is the ``code`` in the
  management links the host hands out. Unset, it is derived from the master key, so the master key never
  appears in a link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigurationError

MASTER_KEY_SETTING = "DURABLE_EXT_MASTER_KEY"
HOST_KEYS_SETTING = "DURABLE_EXT_HOST_KEYS"
FUNCTION_KEYS_SETTING = "DURABLE_EXT_FUNCTION_KEYS"
DURABLETASK_KEY_SETTING = "DURABLE_EXT_DURABLETASK_KEY"
MIN_KEY_LENGTH = 16
_SYSTEM_KEY_NAME = b"durabletask_extension"

SettingLookup = Callable[[str], "str | None"]


def _checked(key: str, setting: str) -> str:
    key = key.strip()
    if len(key) < MIN_KEY_LENGTH or any(ch.isspace() or ch in "&#" for ch in key):
        raise ConfigurationError(
            f"A key in the app setting {setting} is too weak or not URL-safe: keys are at least "
            f"{MIN_KEY_LENGTH} characters with no spaces, '&' or '#' (they travel as ?code=...). "
            'Generate one with: python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return key


def _function_keys(raw: str) -> dict[str, frozenset[str]]:
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"The app setting {FUNCTION_KEYS_SETTING} is not valid JSON ({exc}); write an object of "
            'function names to keys, e.g. {"orders_api": "<key>", "admin_api": ["<key1>", "<key2>"]}.'
        ) from None
    if not isinstance(parsed, dict):
        raise ConfigurationError(
            f"The app setting {FUNCTION_KEYS_SETTING} must be a JSON object of function names to keys, "
            f"not a {type(parsed).__name__}."
        )
    keys: dict[str, frozenset[str]] = {}
    for name, value in parsed.items():
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) for v in values):
            raise ConfigurationError(
                f"The app setting {FUNCTION_KEYS_SETTING} gives function '{name}' something other than a "
                "key string or a list of key strings."
            )
        keys[name.lower()] = frozenset(_checked(v, FUNCTION_KEYS_SETTING) for v in values)
    return keys


def derived_system_key(master_key: str) -> str:
    """The durable task system key of a master key: stable on every worker that shares the master key."""
    digest = hmac.new(master_key.encode(), _SYSTEM_KEY_NAME, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def matches(presented: str, keys: Iterable[str]) -> bool:
    # Every key is compared (no early exit) so timing does not tell which prefix matched.
    found = False
    for key in keys:
        found |= hmac.compare_digest(presented.encode(), key.encode())
    return found


@dataclass(frozen=True)
class HostKeys:
    master: str | None = None
    host: frozenset[str] = frozenset()
    functions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    durabletask: str | None = None

    @classmethod
    def from_settings(cls, get_setting: SettingLookup) -> HostKeys:
        master_raw = get_setting(MASTER_KEY_SETTING)
        master = _checked(master_raw, MASTER_KEY_SETTING) if master_raw else None
        host_raw = get_setting(HOST_KEYS_SETTING) or ""
        host = frozenset(_checked(k, HOST_KEYS_SETTING) for k in host_raw.split(",") if k.strip())
        functions_raw = get_setting(FUNCTION_KEYS_SETTING)
        functions = _function_keys(functions_raw) if functions_raw else {}
        durabletask_raw = get_setting(DURABLETASK_KEY_SETTING)
        if durabletask_raw:
            durabletask: str | None = _checked(durabletask_raw, DURABLETASK_KEY_SETTING)
        else:
            durabletask = derived_system_key(master) if master else None
        return cls(master, host, functions, durabletask)

    @property
    def any_configured(self) -> bool:
        return bool(self.master or self.host or self.functions or self.durabletask)

    def admin_keys(self) -> list[str]:
        return [self.master] if self.master else []

    def function_keys(self, function_name: str) -> list[str]:
        """Every key that opens one function-level function: its own, the host keys, the master key."""
        own = self.functions.get(function_name.lower(), frozenset())
        return [*self.admin_keys(), *self.host, *own]

    def durabletask_keys(self) -> list[str]:
        return [*self.admin_keys(), *([self.durabletask] if self.durabletask else [])]

    def opens_admin(self, presented: str) -> bool:
        return matches(presented, self.admin_keys())

    def opens_function(self, function_name: str, presented: str) -> bool:
        return matches(presented, self.function_keys(function_name))

    def opens_durabletask(self, presented: str) -> bool:
        return matches(presented, self.durabletask_keys())
