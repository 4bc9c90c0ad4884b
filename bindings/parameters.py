"""The Python worker's load-time check: a function's parameters and its bindings name the same things.

Every parameter but ``context`` needs a binding of its name, and every binding but ``$return`` a
parameter; an output parameter that is annotated must be ``func.Out[T]``. A function that fails is not
loaded (with a message saying what to change), so it is never called with an argument missing.
Orchestrator and entity functions are called by the durable engine with their context alone and are
not checked here.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import azure.functions as func

from .base import RETURN_NAME, FunctionInfo, direction_of
from .conversion import annotation_of
from .invoker import CONTEXT_PARAMETER

_CALLED_BY_THE_ENGINE = {"orchestrationtrigger", "entitytrigger"}


def check_parameters(function: FunctionInfo) -> None:
    """Raise ValueError naming the mismatch if ``function`` cannot be called with its bindings."""
    for binding in function.bindings:
        if direction_of(binding) == "inout":
            raise ValueError(
                f"its binding '{binding.get('name')}' has direction 'inout', which Python functions do not "
                "support. Declare an 'in' binding and an 'out' binding instead."
            )
    if function.trigger_type.lower() in _CALLED_BY_THE_ENGINE:
        return
    parameters = _parameters(function.user_function)
    if parameters is None:
        return
    names = {str(b.get("name")) for b in function.bindings if b.get("name") != RETURN_NAME}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    declared = {
        name
        for name, p in parameters.items()
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }
    unbound = sorted(declared - names - {CONTEXT_PARAMETER})
    missing = [] if takes_any else sorted(names - declared)
    where = "function.json" if function.directory else "its decorators"
    if unbound:
        raise ValueError(
            f"the parameter(s) {', '.join(unbound)} of its Python function have no binding in {where}. "
            "Add a binding of that name, or remove the parameter."
        )
    if missing:
        raise ValueError(
            f"the binding(s) {', '.join(missing)} in {where} have no parameter of that name in its Python "
            "function. Add the parameter, or rename the binding to match."
        )
    _check_out_annotations(function)


def _parameters(target: Any) -> dict[str, inspect.Parameter] | None:
    try:
        return dict(inspect.signature(target).parameters)
    except (TypeError, ValueError):
        return None


def _check_out_annotations(function: FunctionInfo) -> None:
    for binding in function.output_bindings():
        name = str(binding.get("name"))
        if name == RETURN_NAME:
            continue
        annotation = annotation_of(function, name)
        if annotation is not None and typing.get_origin(annotation) is not func.Out:
            raise ValueError(
                f"its output binding '{name}' is annotated {_type_name(annotation)}; an output parameter "
                "must be annotated func.Out[T] (or not annotated), and set with .set(value)."
            )
    for binding in [*function.input_bindings(), function.trigger]:
        name = str(binding.get("name"))
        if typing.get_origin(annotation_of(function, name)) is func.Out:
            raise ValueError(
                f"its input binding '{name}' is annotated func.Out; only an output binding (direction "
                "'out') takes func.Out."
            )


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation)
