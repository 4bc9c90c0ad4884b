"""What an exception raised by the app's code says: its type and message, and the app's own frames.

The SDK reports an orchestrator's or an entity operation's exception as ``str(exc)`` only; these
helpers keep what it drops, so a failure names its type and the log shows where the app raised it.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import sysconfig
from pathlib import Path
from types import TracebackType
from typing import Any

import azure.functions

import durable_ext


def _package_dir(name: str) -> Path:
    """Where a package lives, without importing it (importing the SDK reads ./host.json)."""
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    return Path(locations[0]) if locations else Path(name)


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]

_FRAMEWORK_DIRS = tuple(
    str(Path(path).resolve())
    for path in (
        _package_dir("azure.durable_functions"),
        Path(azure.functions.__file__).parent,
        Path(durable_ext.__file__).parent,
        sysconfig.get_paths()["stdlib"],
    )
)
_SDK_DIR = _FRAMEWORK_DIRS[0]

MAX_QUOTED_INPUT_CHARS = 200
"""A longer input is not repeated in the failure message that explains it."""


def describe(exc: BaseException) -> str:
    """``KeyError: 'key'``: the type and the message, as activity failures are reported.

    A plain ``Exception`` is given by its message alone: that is what the SDK raises into the
    orchestrator for a failed activity, sub-orchestration or entity call, and its message says it all.
    """
    message = str(exc)
    if type(exc) is Exception and message:
        return message
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def _in(directory: str, filename: str) -> bool:
    try:
        return str(Path(filename).resolve()).startswith(directory)
    except (OSError, ValueError):
        return False


def _is_framework(filename: str) -> bool:
    return any(_in(directory, filename) for directory in _FRAMEWORK_DIRS)


def user_exc_info(exc: BaseException) -> ExcInfo:
    """``exc_info`` for a log record whose traceback starts at the app's first frame.

    The frames of the SDK, of durable-ext and of the standard library that called into the app are
    left out; if none of the frames is the app's, the whole traceback is kept.
    """
    first = exc.__traceback__
    tb = first
    while tb is not None and _is_framework(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return type(exc), exc, tb or first


def _raised_in_get_input(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name == "get_input" and _in(_SDK_DIR, code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _unreadable_input(exc: BaseException, value: Any) -> bool:
    """True when ``get_input()`` raised because the stored input is not the JSON text of a value."""
    if not _raised_in_get_input(exc):
        return False
    if isinstance(exc, TypeError):  # a JSON number, array, true or false: json.loads() needs text
        return value is not None and not isinstance(value, (str, dict))
    return isinstance(exc, ValueError) and isinstance(value, str)  # a JSON string that is not JSON


def input_hint(exc: BaseException, instance_id: str, function: str, input_json: str | None) -> str:
    """Why the SDK's ``get_input()`` could not read an input started over the raw HTTP API, and how to
    send it; ``""`` when that is not what happened.

    The SDK client posts ``json.dumps(json.dumps(value))``: a JSON string holding the JSON text of the
    value, which the SDK's ``get_input()`` parses. A raw ``POST`` of ``10`` is stored as the number.
    """
    if input_json is None:
        return ""
    try:
        value = json.loads(input_json)
    except ValueError:
        return ""
    if not _unreadable_input(exc, value):
        return ""
    text = json.dumps(value, ensure_ascii=False)
    what = "the JSON string" if isinstance(value, str) else "the JSON value"
    if len(text) > MAX_QUOTED_INPUT_CHARS:  # too long to repeat: say what it is, not what it holds
        kind = {str: "string", list: "array", bool: "boolean"}.get(type(value), "number")
        shown, cli, body = f"a JSON {kind}", "'<its JSON>'", "its JSON text as a JSON string"
    else:
        shown, cli = f"{what} {text}", shlex.quote(text)
        body = f"that text as a JSON string: the body {json.dumps(text, ensure_ascii=False)}"
    return (
        f" The input of instance '{instance_id}' is {shown}, but the Python SDK's get_input() "
        "expects the JSON text its client sends. Start the instance with client.start_new(...), with "
        f"`durable-ext durable start-new --function-name {shlex.quote(function)} --input {cli}`, "
        f"or POST {body}."
    )
