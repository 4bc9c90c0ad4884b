"""Binding expressions in a table input's OData ``filter``, resolved so a value cannot change the query.

As in the Functions host: a filter that is one expression alone (``{filter}``) is used as its value says.
Otherwise an expression every occurrence of which sits inside single quotes (``Name eq '{name}'``) is a
string literal, and quotes in its value are doubled; any other expression (``Age gt {age}``) must give a
boolean or a number, or the invocation fails. Dates become ISO 8601 UTC text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bindings import expressions
from durable_ext.errors import ConfigurationError

_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
_BOOLEAN = re.compile(r"^\s*(true|false)\s*$", re.IGNORECASE)


def resolve_filter(template: str, binding_data: Mapping[str, Any]) -> str:
    """The OData filter ``template`` with its ``{expressions}`` replaced by safely quoted values."""
    tokens = expressions.parse(template)
    if len(tokens) == 1 and tokens[0].is_parameter:
        return expressions.resolve(template, binding_data)
    quoted = _string_literal_names(tokens)
    parts: list[str] = []
    for token in tokens:
        if not token.is_parameter:
            parts.append(token.text)
            continue
        text = _value_text(token, binding_data)
        if token.name.lower() in quoted:
            parts.append(text.replace("'", "''"))
        elif _NUMBER.match(text) or _BOOLEAN.match(text):
            parts.append(text.strip())
        else:
            raise ConfigurationError(
                f"An invalid parameter value was specified for filter parameter '{token.name}': "
                f"'{text}' is not a boolean or a number. To compare with text, put the expression in "
                f"single quotes in the filter ('{{{token.text}}}')."
            )
    return "".join(parts)


def _string_literal_names(tokens: list[expressions.Token]) -> set[str]:
    """The (lower-cased) expression names all of whose occurrences are written ``'{name}'``."""
    quoted: dict[str, bool] = {}
    for i, token in enumerate(tokens):
        if not token.is_parameter:
            continue
        before = tokens[i - 1] if i > 0 else None
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        inside = (
            before is not None
            and not before.is_parameter
            and before.text.endswith("'")
            and after is not None
            and not after.is_parameter
            and after.text.startswith("'")
        )
        name = token.name.lower()
        quoted[name] = quoted.get(name, True) and inside
    return {name for name, inside in quoted.items() if inside}


def _value_text(token: expressions.Token, binding_data: Mapping[str, Any]) -> str:
    found, value = expressions.lookup(binding_data, token.name)
    if found and isinstance(value, datetime):
        return expressions.dotnet_format(
            value.astimezone(UTC), token.format or "yyyy-MM-ddTHH:mm:ss.fffffffK"
        )
    return expressions.resolve("{" + token.text + "}", binding_data)
