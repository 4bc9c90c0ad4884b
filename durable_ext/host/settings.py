"""App settings: ``local.settings.json`` ``Values``, the environment, ``host.json`` and ``%Name%`` references.

A real environment variable wins over a ``local.settings.json`` value of the same name, as in the
Functions host. ``host.json`` keys are matched case-insensitively, as the .NET host binds them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError

LOCAL_SETTINGS_FILE = "local.settings.json"
HOST_JSON_FILE = "host.json"
DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HOST_JSON: dict[str, Any] = {"version": "2.0"}
DEFAULT_BINDING_SOURCE = "a function binding (the script file or a blueprint)"

_REFERENCE = re.compile(r"%([^%\s]+)%")


def find_key(mapping: Mapping[str, Any], key: str) -> Any:
    """The value of ``key`` in ``mapping``, matched case-insensitively (exact match first); None if absent."""
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if name.lower() == lowered:
            return value
    return None


@dataclass(frozen=True)
class AppSettings:
    """The app's settings: file ``Values`` overlaid by the environment, plus ``host.json``.

    ``values`` holds the names defined in ``local.settings.json`` (with the environment's value where
    the environment also defines them); ``environ`` is the environment when the settings were loaded.
    """

    script_root: Path
    values: dict[str, str] = field(repr=False)
    host_json: dict[str, Any]
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        """An app setting: the environment first, then ``local.settings.json`` ``Values``."""
        if name in self.environ:
            return self.environ[name]
        return self.values.get(name, default)

    def resolve(self, value: str, where: str = DEFAULT_BINDING_SOURCE) -> str:
        """Replace every ``%Name%`` in ``value`` with the app setting ``Name``; ``where`` names the source."""

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            setting = self.get(name)
            if setting is None:
                raise ConfigurationError(
                    f"The app setting '{name}' referenced as %{name}% in {where} is not set. "
                    f"Add '{name}' to the Values of {LOCAL_SETTINGS_FILE} or set the environment "
                    f"variable {name}."
                )
            return setting

        return _REFERENCE.sub(substitute, value)

    def host_section(self, *path: str) -> dict[str, Any]:
        """The ``host.json`` object at ``path`` (keys matched case-insensitively); empty if absent."""
        node: Any = self.host_json
        for depth, key in enumerate(path):
            node = find_key(node, key)
            if node is None:
                return {}
            if not isinstance(node, dict):
                dotted = ".".join(path[: depth + 1])
                raise ConfigurationError(
                    f"{HOST_JSON_FILE} {dotted} must be a JSON object, not {json.dumps(node)}. "
                    f"Fix {self.script_root / HOST_JSON_FILE}."
                )
        return node

    @property
    def route_prefix(self) -> str:
        """``extensions.http.routePrefix`` without slashes; ``"api"`` by default, ``""`` for no prefix."""
        prefix = find_key(self.host_section("extensions", "http"), "routePrefix")
        if prefix is None:
            return DEFAULT_ROUTE_PREFIX
        if not isinstance(prefix, str):
            raise ConfigurationError(
                f"{HOST_JSON_FILE} extensions.http.routePrefix must be a string, not {json.dumps(prefix)}. "
                'Use "" for no prefix.'
            )
        return prefix.strip("/")


def load_settings(script_root: Path, environ: Mapping[str, str] | None = None) -> AppSettings:
    """Read ``local.settings.json`` and ``host.json`` (both optional) from ``script_root``."""
    env = dict(os.environ if environ is None else environ)
    file_values = _read_local_values(script_root / LOCAL_SETTINGS_FILE)
    host_json = _read_host_json(script_root / HOST_JSON_FILE)
    merged = {name: env.get(name, value) for name, value in file_values.items()}
    return AppSettings(script_root, merged, host_json, env)


def apply_to_environment(settings: AppSettings) -> list[str]:
    """Put the file ``Values`` into ``os.environ`` where not already set; return the names set."""
    applied = [name for name in settings.values if name not in os.environ]
    for name in applied:
        os.environ[name] = settings.values[name]
    return applied


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or None if the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot read {path}: {exc.strerror}. Check the file's permissions."
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. "
            f"Fix {path.name} (comments and trailing commas are not allowed)."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path} must contain a JSON object ({{...}}), not {type(data).__name__}.")
    return data


def _read_host_json(path: Path) -> dict[str, Any]:
    data = read_json_object(path)
    return dict(DEFAULT_HOST_JSON) if data is None else data


def _read_local_values(path: Path) -> dict[str, str]:
    data = read_json_object(path)
    if data is None:
        return {}
    if find_key(data, "IsEncrypted") is True:
        raise ConfigurationError(
            f"{path} has IsEncrypted set to true, and durable-ext cannot decrypt it. "
            "Decrypt it (func settings decrypt) or set IsEncrypted to false with plain values."
        )
    values = find_key(data, "Values")
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigurationError(f"{path}: Values must be a JSON object of setting names to strings.")
    return {name: _setting_text(path, name, value) for name, value in values.items() if value is not None}


def _setting_text(path: Path, name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ConfigurationError(
        f"{path}: Values.{name} is {json.dumps(value)}; app settings must be strings. "
        f'Write it as a string, e.g. "{name}": "..." .'
    )
