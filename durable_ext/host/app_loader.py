"""Loading the function app, in either programming model, into one list of :class:`FunctionInfo`.

v2: import the script file (``function_app.py``) and index its one ``FunctionRegister``
(``df.DFApp`` and ``func.FunctionApp`` are; blueprints registered on the app are included by
``get_functions()``). v1: with no script file, every folder holding a ``function.json`` is a function
(:mod:`.function_folders`). An app with both is refused, as it is ambiguous which one runs.
"""

from __future__ import annotations

import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import azure.functions as func
from azure.functions.decorators.function_app import Function

from bindings.base import FunctionInfo

from ..errors import AppLoadError
from .function_folders import FUNCTION_JSON, function_folders, load_function_folders
from .settings import AppSettings

SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"
DEFAULT_SCRIPT_FILE = "function_app.py"


@dataclass(frozen=True)
class LoadedApp:
    """The functions the app defines, and for a v2 app its script module and function register."""

    model: str
    """``v2`` (a script file with decorators) or ``v1`` (``function.json`` folders)."""
    functions: list[FunctionInfo]
    register: func.FunctionRegister | None = None
    module: ModuleType | None = None


def load_function_app(script_root: Path, settings: AppSettings) -> LoadedApp:
    """Index the app in ``script_root`` (fresh modules each call), in whichever model it is written."""
    path = script_path(script_root, settings)
    folders = function_folders(script_root)
    if path.is_file() and folders:
        listed = ", ".join(f"{f.name}/{FUNCTION_JSON}" for f in folders[:5])
        raise AppLoadError(
            f"The app in {script_root} has both a {path.name} (the v2 programming model) and function "
            f"folders with function.json ({listed}; the v1 model). Keep one: delete {path.name} to run the "
            "function.json folders, or move those functions into decorators and delete the folders' "
            "function.json files."
        )
    if folders:
        return LoadedApp("v1", load_function_folders(script_root, folders))
    if not path.is_file():
        raise AppLoadError(
            f"The function app script {path} does not exist, and no folder under {script_root} holds a "
            f"{FUNCTION_JSON}. Create it, run from the app's folder (--script-root), or set the app setting "
            f"{SCRIPT_FILE_SETTING} to the script's file name (default {DEFAULT_SCRIPT_FILE})."
        )
    module = _import_script(path, script_root)
    register = _find_register(module, path)
    try:
        functions: list[Function] = register.get_functions()
        infos = [FunctionInfo.from_function(f) for f in functions]
    except Exception as exc:
        raise AppLoadError(f"Indexing the functions of {path} failed: {exc}") from exc
    return LoadedApp("v2", infos, register, module)


def script_path(script_root: Path, settings: AppSettings) -> Path:
    """The script file: ``PYTHON_SCRIPT_FILE_NAME`` (default ``function_app.py``) under the script root."""
    name = settings.get(SCRIPT_FILE_SETTING) or DEFAULT_SCRIPT_FILE
    path = script_root / name
    if path.suffix != ".py":
        raise AppLoadError(
            f"The app setting {SCRIPT_FILE_SETTING} is '{name}', which is not a Python file. "
            f"Name a .py file in the script root, or remove the setting to use {DEFAULT_SCRIPT_FILE}."
        )
    return path


def _import_script(path: Path, script_root: Path) -> ModuleType:
    root = str(script_root.resolve())
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    name = path.stem
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"Cannot import {path} as a Python module. Check the file name.")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        sys.modules.pop(name, None)
        details = _user_traceback(exc, path)
        raise AppLoadError(
            f"Importing the function app {path} raised {type(exc).__name__}. Fix the error below:\n{details}"
        ) from exc
    return module


def _user_traceback(exc: BaseException, path: Path) -> str:
    """The formatted traceback, starting at the script's own frame (the import machinery is noise)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != str(path):
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb or exc.__traceback__)
    return "".join(lines).rstrip()


def _find_register(module: ModuleType, path: Path) -> func.FunctionRegister:
    found: dict[int, list[str]] = {}
    registers: dict[int, func.FunctionRegister] = {}
    for variable, value in vars(module).items():
        if isinstance(value, func.FunctionRegister):
            found.setdefault(id(value), []).append(variable)
            registers[id(value)] = value
    if not registers:
        raise AppLoadError(
            f"{path} defines no FunctionApp/DFApp instance at module level; add `app = df.DFApp()` "
            "(import azure.durable_functions as df) or `app = func.FunctionApp()` and register the "
            "functions on it."
        )
    if len(registers) > 1:
        names = ", ".join(" = ".join(variables) for variables in found.values())
        raise AppLoadError(
            f"{path} defines {len(registers)} FunctionApp/DFApp instances at module level ({names}); "
            "exactly one is allowed. Keep one app and move the other functions to a Blueprint registered "
            "on it with app.register_functions(bp)."
        )
    return next(iter(registers.values()))
