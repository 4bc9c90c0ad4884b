"""Binding expressions: ``{name}`` in a binding's ``path``, ``queueName`` or keys, as the host reads them.

A template such as ``out/{queueTrigger}-{rand-guid}.txt`` is resolved for each invocation against the
binding data (trigger metadata, route parameters, top-level JSON properties of the trigger payload),
matched case-insensitively. ``{a.b}`` reads into JSON objects. ``{rand-guid}`` (``{rand-guid:N}``) and
``{DateTime}`` (``{DateTime:yyyy-MM-dd}``) are built in; ``{{`` and ``}}`` are literal braces. The same
parse turns a blob trigger's ``path`` into a pattern whose ``{name}`` parts capture.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from durable_ext.errors import ConfigurationError

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_.$-]*(:[^{}]*)?$")


@dataclass(frozen=True)
class Token:
    text: str
    is_parameter: bool

    @property
    def name(self) -> str:
        return self.text.split(":", 1)[0]

    @property
    def format(self) -> str | None:
        parts = self.text.split(":", 1)
        return parts[1] if len(parts) == 2 else None


def parse(template: str) -> list[Token]:
    """The literal and ``{parameter}`` parts of ``template``; a malformed one raises ConfigurationError."""
    tokens: list[Token] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            literal.append(char)
            i += 2
            continue
        if char == "}":
            raise _invalid(template, f"'}}' at position {i} has no matching '{{'")
        if char != "{":
            literal.append(char)
            i += 1
            continue
        end = template.find("}", i)
        if end < 0:
            raise _invalid(template, f"'{{' at position {i} is never closed")
        name = template[i + 1 : end]
        if not _IDENTIFIER.match(name):
            raise _invalid(template, f"'{{{name}}}' is not a parameter name")
        if literal:
            tokens.append(Token("".join(literal), False))
            literal = []
        tokens.append(Token(name, True))
        i = end + 1
    if literal:
        tokens.append(Token("".join(literal), False))
    return tokens


def _invalid(template: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Invalid template '{template}': {why}. Use {{name}} for a binding expression and {{{{ }}}} for "
        "literal braces."
    )


def parameter_names(template: str) -> list[str]:
    return [token.name for token in parse(template) if token.is_parameter]


def resolve(template: str, binding_data: Mapping[str, Any], *, now: datetime | None = None) -> str:
    """``template`` with each ``{parameter}`` replaced by its value in ``binding_data``."""
    parts: list[str] = []
    for token in parse(template):
        parts.append(_value(token, binding_data, now) if token.is_parameter else token.text)
    return "".join(parts)


def _value(token: Token, data: Mapping[str, Any], now: datetime | None) -> str:
    found, value = lookup(data, token.name)
    if found:
        return _text(value, token.format)
    lowered = token.name.lower()
    if lowered in ("rand-guid", "sys.randguid"):
        return _guid(uuid.uuid4(), token.format)
    if lowered in ("datetime", "sys.utcnow"):
        moment = now or datetime.now(UTC)
        return dotnet_format(moment, token.format or "yyyy-MM-ddTHH-mm-ssK")
    raise ConfigurationError(
        f"No value for named parameter '{token.name}'. The binding expression {{{token.text}}} must name "
        f"trigger data ({', '.join(sorted(data)) or 'none here'}), {{rand-guid}} or {{DateTime}}."
    )


def lookup(data: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    """The value at ``dotted`` (``a.b.c``), keys matched case-insensitively; (False, None) if absent."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return False, None
        key = next((k for k in node if str(k).lower() == part.lower()), None)
        if key is None:
            return False, None
        node = node[key]
    return True, node


def _text(value: Any, fmt: str | None) -> str:
    if isinstance(value, datetime):
        return dotnet_format(value, fmt or "yyyy-MM-ddTHH:mm:ss.fffffffK")
    if isinstance(value, uuid.UUID):
        return _guid(value, fmt)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, dict | list):
        raise ConfigurationError(
            "A binding expression names a JSON object or array; name one of its properties instead "
            "({object.property})."
        )
    return str(value)


def _guid(value: uuid.UUID, fmt: str | None) -> str:
    text = str(value)
    spec = (fmt or "D").upper()
    if spec == "N":
        return value.hex
    if spec == "B":
        return "{" + text + "}"
    if spec == "P":
        return "(" + text + ")"
    return text


_DOTNET_PARTS = re.compile(r"yyyy|yy|MM|dd|HH|hh|mm|ss|f{1,7}|tt|K|'[^']*'|.")


def dotnet_format(moment: datetime, fmt: str) -> str:
    """``moment`` in a .NET custom date format (the common specifiers: ``yyyy MM dd HH mm ss fff K``)."""
    out: list[str] = []
    for part in _DOTNET_PARTS.findall(fmt):
        out.append(_dotnet_part(moment, part))
    return "".join(out)


def _dotnet_part(moment: datetime, part: str) -> str:
    simple = {
        "yyyy": f"{moment.year:04d}",
        "yy": f"{moment.year % 100:02d}",
        "MM": f"{moment.month:02d}",
        "dd": f"{moment.day:02d}",
        "HH": f"{moment.hour:02d}",
        "hh": f"{(moment.hour % 12) or 12:02d}",
        "mm": f"{moment.minute:02d}",
        "ss": f"{moment.second:02d}",
        "tt": "AM" if moment.hour < 12 else "PM",
    }
    if part in simple:
        return simple[part]
    if part.startswith("f"):
        return f"{moment.microsecond:06d}0"[: len(part)]
    if part == "K":
        return _offset(moment)
    if part.startswith("'"):
        return part[1:-1]
    return part


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset()
    if offset is None:
        return ""
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def pattern(template: str) -> re.Pattern[str]:
    """A regex for ``template`` whose ``{name}`` parts capture (greedy, may span ``/``), anchored."""
    pieces: list[str] = []
    seen: dict[str, str] = {}
    for token in parse(template):
        if not token.is_parameter:
            pieces.append(re.escape(token.text))
            continue
        group = re.sub(r"\W", "_", token.name)
        if group in seen:
            pieces.append(f"(?P={group})")
            continue
        seen[group] = token.name
        pieces.append(f"(?P<{group}>.*)")
    return re.compile("^" + "".join(pieces) + "$", re.DOTALL)


def captures(template: str, text: str) -> dict[str, str] | None:
    """The ``{name}`` values that make ``template`` match ``text``; None if it does not match."""
    names = {re.sub(r"\W", "_", name): name for name in parameter_names(template)}
    found = pattern(template).match(text)
    if found is None:
        return None
    return {names[group]: value for group, value in found.groupdict().items()}
