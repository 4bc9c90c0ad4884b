"""The rules the Table service sets on table names and entity keys, checked before a request is made.

A table name is 3 to 63 letters and digits, starting with a letter. A ``PartitionKey`` or ``RowKey`` may be
empty but not missing, and may not hold ``/``, ``\\``, ``#``, ``?`` or a control character (U+0000 to
U+001F, U+007F to U+009F). Checking here gives the Functions host's messages instead of the service's
terse 400.
"""

from __future__ import annotations

import re

from durable_ext.errors import ConfigurationError

_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_INVALID_KEY_CHARACTERS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def check_table_name(name: str, *, function_name: str, binding_name: str) -> str:
    """``name`` if it is a valid table name; ConfigurationError naming the function and binding if not."""
    if not _TABLE_NAME.match(name):
        raise ConfigurationError(
            f"'{name}' is not a valid name for an Azure table (function '{function_name}', table binding "
            f"'{binding_name}'). A table name has 3 to 63 letters and digits and starts with a letter; "
            "change tableName (table_name in the decorator)."
        )
    return name


def is_valid_key(value: str | None) -> bool:
    """True if ``value`` can be a ``PartitionKey`` or ``RowKey`` (empty is allowed, None is not)."""
    return value is not None and not _INVALID_KEY_CHARACTERS.search(value)


class InvalidKeyError(ValueError):
    """An entity's ``PartitionKey`` or ``RowKey`` is missing or holds a character the service refuses."""


def check_key(value: str | None, *, where: str) -> str:
    """``value`` if it is a valid key; InvalidKeyError with the Functions host's message otherwise."""
    if value is None or not is_valid_key(value):
        shown = "" if value is None else value
        raise InvalidKeyError(
            f"'{shown}' is not a valid value for a partition key or row key. Ensure that the table entity "
            f"contains valid 'PartitionKey' and 'RowKey' values. ({where}: a key must be set, and may not "
            "contain / \\ # ? or control characters.)"
        )
    return value


def odata_string(value: str) -> str:
    """``value`` as an OData string literal: in single quotes, each quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"
