"""Arguments and outputs converted as the Python worker converts them, with ``azure.functions``' converters.

Every binding type ``azure.functions`` knows has a converter in its registry (``meta``): ``queueTrigger``
decodes to ``func.QueueMessage``, ``blob`` to ``func.InputStream``, ``timerTrigger`` to
``func.TimerRequest``... A parameter annotated ``str`` or ``bytes`` whose converter has no implicit output
gets the raw value instead, and a binding type with no converter (``table``) is *generic*: the raw value
in, ``str``/``bytes``/JSON out. That is the worker's rule, kept here so every provider shares it.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

import azure.functions as func
from azure.functions import meta

from .base import FunctionInfo

Datum = meta.Datum


def annotation_of(function: FunctionInfo, parameter: str) -> Any:
    """The annotation of the user function's ``parameter`` (string annotations resolved); None if none."""
    target = inspect.unwrap(function.user_function)
    try:
        hints = typing.get_type_hints(target)
    except Exception:
        hints = dict(getattr(target, "__annotations__", {}) or {})
    found = hints.get("return") if parameter == "$return" else hints.get(parameter)
    return without_none(found)


def without_none(annotation: Any) -> Any:
    """``T`` for ``T | None`` (``Optional[T]``): a missing input blob or row is None either way."""
    args = typing.get_args(annotation)
    if args and type(None) in args and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def out_type(annotation: Any) -> Any:
    """``T`` for an annotation ``func.Out[T]``; the annotation itself otherwise."""
    if typing.get_origin(annotation) is func.Out:
        args = typing.get_args(annotation)
        return args[0] if args else None
    return annotation


def converter_for(binding_type: str) -> Any:
    """The ``azure.functions`` converter registered for ``binding_type``, or None (a generic binding)."""
    return meta.get_binding_registry().get(binding_type)


def has_implicit_output(converter: Any) -> bool:
    """True for converters whose function's return value is the binding's own result (activities)."""
    implicit = getattr(converter, "has_implicit_output", None)
    return bool(implicit is not None and implicit())


def _is_generic(converter: Any, annotation: Any) -> bool:
    if converter is None:
        return True
    return annotation in (str, bytes) and not has_implicit_output(converter)


def decode_argument(
    binding_type: str,
    annotation: Any,
    datum: Datum | None,
    trigger_metadata: Mapping[str, Datum] | None = None,
) -> Any:
    """The Python value of a trigger or input argument, as the worker would pass it."""
    converter = converter_for(binding_type)
    if _is_generic(converter, annotation):
        return None if datum is None else datum.value
    if datum is None:
        datum = Datum(None, None)
    metadata = trigger_metadata if converter.has_trigger_support() else None
    return converter.decode(datum, trigger_metadata=dict(metadata or {}))


def encode_output(binding_type: str, annotation: Any, value: Any) -> Datum:
    """The typed value an output binding writes: the converter's encoding, or the generic one."""
    converter = converter_for(binding_type)
    expected = out_type(annotation)
    if not _is_generic(converter, expected):
        encoded = converter.encode(value, expected_type=expected)
        if encoded is not None:
            return typing.cast(Datum, encoded)
    return generic_datum(value)


def generic_datum(value: Any) -> Datum:
    """What the worker's generic binding sends for ``value``."""
    if isinstance(value, str):
        return Datum(value, "string")
    if isinstance(value, bytes | bytearray):
        return Datum(bytes(value), "bytes")
    if isinstance(value, bool):
        return Datum(int(value), "int")
    if isinstance(value, int):
        return Datum(value, "int")
    if isinstance(value, float):
        return Datum(value, "double")
    if isinstance(value, dict | list | tuple):
        return Datum(json.dumps(value), "json")
    if hasattr(value, "read"):
        return generic_datum(value.read())
    raise TypeError(
        f"an output value of type {type(value).__name__} cannot be written; use str, bytes, a number, "
        "or a JSON-serializable dict or list"
    )


def collector_items(datum: Datum) -> list[Any]:
    """The items a collector output (queue, table) gets from one value, as the Functions host splits them.

    A JSON array gives one item per element, and so does a string that holds one; a JSON object (or a
    string holding one) is one item; anything else is one item as it is.
    """
    value = datum.value
    if datum.type == "json" or (isinstance(value, str) and _looks_like_json(value)):
        try:
            parsed = json.loads(value) if isinstance(value, str | bytes) else value
        except ValueError:
            return [value]
        return list(parsed) if isinstance(parsed, list) else [parsed]
    if datum.type and datum.type.startswith("collection_"):
        return list(value)
    return [value]


def _looks_like_json(text: str) -> bool:
    stripped = text.strip()
    return (stripped.startswith("{") and stripped.endswith("}")) or (
        stripped.startswith("[") and stripped.endswith("]")
    )


def item_text(item: Any) -> str | bytes:
    """One collector item as the message text or bytes the host writes (JSON objects indented)."""
    if isinstance(item, str | bytes):
        return item
    if isinstance(item, dict | list):
        return json.dumps(item, indent=2)
    if isinstance(item, bool):
        return "true" if item else "false"
    return str(item)
