"""Which indexed functions run: the ``functions`` allow list in host.json and disabled functions.

A function is disabled by the app setting ``AzureWebJobs.<FunctionName>.Disabled`` (or
``AzureWebJobs_<FunctionName>_Disabled``) set to ``true`` or ``1``, in either programming model, or
by ``"disabled": true`` in its ``function.json`` (a setting's name there is read as that setting). A
disabled function gets no listener: its timer does not fire, its queue is not read, its route is 404.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bindings.base import FunctionInfo

from ..errors import ConfigurationError
from .settings import HOST_JSON_FILE, AppSettings, find_key

log = logging.getLogger("durable_ext.host")


def enabled_functions(functions: list[FunctionInfo], settings: AppSettings) -> list[FunctionInfo]:
    allowed = _allow_list(settings)
    if allowed is not None:
        log.info(
            "A function allow list is set in %s: only %s run.", HOST_JSON_FILE, ", ".join(sorted(allowed))
        )
        functions = [f for f in functions if f.name.lower() in allowed]
    kept: list[FunctionInfo] = []
    for function in functions:
        reason = disabled_by(function, settings.get)
        if reason:
            log.info("Function '%s' is disabled (%s).", function.name, reason)
        else:
            kept.append(function)
    return kept


def _allow_list(settings: AppSettings) -> set[str] | None:
    names = find_key(settings.host_json, "functions")
    if names is None or names == []:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigurationError(
            f"{HOST_JSON_FILE} 'functions' must be a list of function names, not {names!r}. List the "
            "functions to run, or remove it to run them all."
        )
    return {name.lower() for name in names}


def disabled_by(function: FunctionInfo, get: Callable[[str], str | None]) -> str | None:
    """Why ``function`` is disabled (the setting or file that says so), or None if it is not."""
    for setting in (f"AzureWebJobs.{function.name}.Disabled", f"AzureWebJobs_{function.name}_Disabled"):
        if _is_true(get(setting)):
            return f"app setting {setting}"
    flag = function.disabled
    if flag is True or (isinstance(flag, str) and (_is_true(flag) or _is_true(get(flag)))):
        return "disabled in function.json"
    return None


def _is_true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")
