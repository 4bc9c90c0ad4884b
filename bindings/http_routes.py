"""HTTP route templates as the Functions host reads them.

Literal segments (case-insensitive), ``{name}``, trailing optional ``{name?}``, constrained ``{id:int}``
(``int``, ``long``, ``bool``, ``guid``, ``alpha``, ``length()``, ``regex()`` ...) and a final catch-all
``{*rest}``.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from durable_ext.errors import ConfigurationError

Constraint = Callable[[str], bool]


# --------------------------------------------------------------------------- route constraints


def _int_in(low: int, high: int) -> Constraint:
    def check(value: str) -> bool:
        return re.fullmatch(r"[+-]?\d+", value) is not None and low <= int(value) <= high

    return check


def _parses_as(parse: Callable[[str], Any]) -> Constraint:
    def check(value: str) -> bool:
        try:
            parse(value)
        except ValueError:
            return False
        return True

    return check


_is_number = _parses_as(float)


def _number(check: Callable[[float], bool]) -> Constraint:
    return lambda value: _is_number(value) and check(float(value))


def _numbers(raw: str, count: int) -> list[float]:
    values = [float(a) for a in raw.split(",")]
    if len(values) != count:
        raise ValueError(f"expected {count} argument(s)")
    return values


def _length(raw: str) -> Constraint:
    bounds = [int(a) for a in raw.split(",")]
    if len(bounds) not in (1, 2):
        raise ValueError("expected length(n) or length(min,max)")
    low, high = bounds[0], bounds[-1]
    return lambda value: low <= len(value) <= high


def _regex(raw: str) -> Constraint:
    pattern = re.compile(raw, re.IGNORECASE)
    return lambda value: pattern.search(value) is not None


def _min_length(raw: str) -> Constraint:
    low = int(raw)
    return lambda value: len(value) >= low


def _max_length(raw: str) -> Constraint:
    high = int(raw)
    return lambda value: len(value) <= high


def _min(raw: str) -> Constraint:
    (low,) = _numbers(raw, 1)
    return _number(lambda number: number >= low)


def _max(raw: str) -> Constraint:
    (high,) = _numbers(raw, 1)
    return _number(lambda number: number <= high)


def _range(raw: str) -> Constraint:
    low, high = _numbers(raw, 2)
    return _number(lambda number: low <= number <= high)


_SIMPLE_CONSTRAINTS: dict[str, Constraint] = {
    "int": _int_in(-(2**31), 2**31 - 1),
    "long": _int_in(-(2**63), 2**63 - 1),
    "alpha": lambda value: re.fullmatch(r"[A-Za-z]+", value) is not None,
    "bool": lambda value: value.lower() in ("true", "false"),
    "guid": _parses_as(uuid.UUID),
    "datetime": _parses_as(datetime.fromisoformat),
    "decimal": _is_number,
    "double": _is_number,
    "float": _is_number,
}

_CONSTRAINT_FACTORIES: dict[str, Callable[[str], Constraint]] = {
    "minlength": _min_length,
    "maxlength": _max_length,
    "length": _length,
    "min": _min,
    "max": _max,
    "range": _range,
    "regex": _regex,
}


def _parse_constraint(text: str, template: str) -> Constraint:
    call = re.fullmatch(r"(\w+)\((.*)\)", text, re.DOTALL)
    name = (call.group(1) if call else text).lower()
    try:
        if not call and name in _SIMPLE_CONSTRAINTS:
            return _SIMPLE_CONSTRAINTS[name]
        if call and name in _CONSTRAINT_FACTORIES:
            return _CONSTRAINT_FACTORIES[name](call.group(2))
    except (ValueError, re.error) as exc:
        raise _template_error(template, f"the constraint '{text}' has invalid arguments ({exc})") from exc
    supported = sorted([*_SIMPLE_CONSTRAINTS, *(f"{n}(...)" for n in _CONSTRAINT_FACTORIES)])
    raise _template_error(template, f"unknown constraint '{text}'; supported: {', '.join(supported)}")


def _template_error(template: str, problem: str) -> ConfigurationError:
    return ConfigurationError(f"Invalid HTTP route template '{template}': {problem}. Fix the route.")


# --------------------------------------------------------------------------- route templates


@dataclass(frozen=True)
class RouteParameter:
    name: str
    optional: bool = False
    catch_all: bool = False
    constraints: tuple[Constraint, ...] = ()

    def accepts(self, value: str) -> bool:
        return all(check(value) for check in self.constraints)


@dataclass(frozen=True)
class RouteSegment:
    """One ``/``-separated part of a template: a literal, a parameter, or literals mixed with parameters."""

    parts: tuple[str | RouteParameter, ...]
    pattern: re.Pattern[str]

    @property
    def parameters(self) -> list[RouteParameter]:
        return [p for p in self.parts if isinstance(p, RouteParameter)]

    @property
    def is_literal(self) -> bool:
        return not self.parameters

    @property
    def optional(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], RouteParameter) and self.parts[0].optional

    @property
    def catch_all(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], RouteParameter) and self.parts[0].catch_all

    @property
    def precedence(self) -> int:
        """Lower is more specific: literal, mixed, constrained, plain, optional, catch-all."""
        if self.is_literal:
            return 0
        if len(self.parts) > 1:
            return 1
        param = self.parameters[0]
        if param.catch_all:
            return 5
        if param.optional:
            return 4
        return 2 if param.constraints else 3

    def match(self, text: str, values: dict[str, str]) -> bool:
        found = self.pattern.fullmatch(text)
        if found is None:
            return False
        captured = dict(zip((p.name for p in self.parameters), found.groups(), strict=True))
        if not all(p.accepts(captured[p.name]) for p in self.parameters):
            return False
        values.update(captured)
        return True


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[RouteSegment, ...]

    @classmethod
    def parse(cls, text: str) -> RouteTemplate:
        stripped = text.strip().strip("/")
        segments = tuple(_parse_segment(part, text) for part in stripped.split("/")) if stripped else ()
        _validate_segments(segments, text)
        return cls(text=stripped, segments=segments)

    @property
    def literal_count(self) -> int:
        return sum(1 for segment in self.segments if segment.is_literal)

    def specificity_key(self) -> tuple[Any, ...]:
        """Sort key: more literal segments first, then more specific segments, then the text."""
        return (-self.literal_count, tuple(s.precedence for s in self.segments), self.text.lower())

    def match(self, path_segments: list[str]) -> dict[str, str] | None:
        """Route values if ``path_segments`` (decoded) match this template, else ``None``."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            if segment.catch_all:
                return _match_catch_all(segment, "/".join(path_segments[index:]), values)
            if index >= len(path_segments):
                return values if segment.optional else None
            if not segment.match(path_segments[index], values):
                return None
        return values if len(path_segments) == len(self.segments) else None


def _match_catch_all(segment: RouteSegment, rest: str, values: dict[str, str]) -> dict[str, str] | None:
    if not rest:
        return values
    return values if segment.match(rest, values) else None


def split_path(raw_path: str) -> list[str]:
    """The decoded segments of a raw (percent-encoded) URL path; ``%2F`` stays inside its segment."""
    stripped = raw_path.strip("/")
    return [unquote(part) for part in stripped.split("/")] if stripped else []


def _parse_segment(text: str, template: str) -> RouteSegment:
    parts: list[str | RouteParameter] = []
    index = 0
    while index < len(text):
        if text[index] == "{":
            end = _closing_brace(text, index, template)
            parts.append(_parse_parameter(text[index + 1 : end], template))
            index = end + 1
        elif text[index] == "}":
            raise _template_error(template, f"unmatched '}}' in segment '{text}'")
        else:
            end = min(
                (i for i in (text.find("{", index), text.find("}", index)) if i >= 0), default=len(text)
            )
            parts.append(text[index:end])
            index = end
    return RouteSegment(parts=tuple(parts), pattern=_segment_pattern(parts, text, template))


def _closing_brace(text: str, start: int, template: str) -> int:
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return index
    raise _template_error(template, f"unmatched '{{' in segment '{text}'")


def _parse_parameter(body: str, template: str) -> RouteParameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    optional = body.endswith("?")
    body = body.removesuffix("?")
    name, *constraint_texts = _split_outside_parens(body, ":")
    if "=" in name:
        raise _template_error(template, f"default values ('{{{body}}}') are not supported; use '{{{name}?}}'")
    if not re.fullmatch(r"[A-Za-z_][\w-]*", name):
        raise _template_error(template, f"'{name}' is not a valid parameter name")
    constraints = tuple(_parse_constraint(c, template) for c in constraint_texts)
    return RouteParameter(name=name, optional=optional, catch_all=catch_all, constraints=constraints)


def _split_outside_parens(text: str, separator: str) -> list[str]:
    pieces, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == separator and depth == 0:
            pieces.append(text[start:index])
            start = index + 1
    return [*pieces, text[start:]]


def _segment_pattern(parts: list[str | RouteParameter], text: str, template: str) -> re.Pattern[str]:
    params = [p for p in parts if isinstance(p, RouteParameter)]
    if len(parts) > 1 and any(p.optional or p.catch_all for p in params):
        raise _template_error(
            template, f"optional and catch-all parameters must fill a whole segment ('{text}')"
        )
    if any(
        isinstance(a, RouteParameter) and isinstance(b, RouteParameter) for a, b in itertools.pairwise(parts)
    ):
        raise _template_error(template, f"two parameters need a literal between them ('{text}')")
    lazy = "(.+?)" if len(parts) > 1 else "(.+)"
    regex = "".join(lazy if isinstance(p, RouteParameter) else re.escape(p) for p in parts)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _validate_segments(segments: tuple[RouteSegment, ...], template: str) -> None:
    names = [p.name.lower() for s in segments for p in s.parameters]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _template_error(template, f"parameter names repeat: {', '.join(duplicates)}")
    for index, segment in enumerate(segments):
        rest = segments[index + 1 :]
        if segment.catch_all and rest:
            raise _template_error(template, "a catch-all parameter '{*name}' must be the last segment")
        if segment.optional and not all(s.optional or s.catch_all for s in rest):
            raise _template_error(template, "optional parameters '{name?}' may only be trailing segments")
