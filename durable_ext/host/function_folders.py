"""The v1 programming model: one folder per function, each with a ``function.json`` and its script.

Every direct sub-folder of the script root holding a ``function.json`` is a function named after the
folder. Its script (``scriptFile``, default ``__init__.py``) is imported as the Python worker does it:
the script root is the package ``__app__``, so ``Folder/__init__.py`` is the module ``__app__.Folder``
and ``from ..shared_code import x``, ``from __app__.shared_code import x`` and (the script root is on
``sys.path``) ``from shared_code import x`` all work. ``entryPoint`` (default ``main``) names the callable.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
import traceback
import types
from pathlib import Path
from typing import Any

from bindings.base import FunctionInfo

from ..errors import AppLoadError

FUNCTION_JSON = "function.json"
APP_PACKAGE = "__app__"
DEFAULT_SCRIPT_FILE = "__init__.py"
DEFAULT_ENTRY_POINT = "main"
SKIPPED_FOLDERS = {"node_modules", "__pycache__", "site-packages", "bin", "obj"}
_HOST_PACKAGES = {"durable_ext", "bindings", "tests"}
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_\-]{0,127}$", re.IGNORECASE)


def function_folders(script_root: Path) -> list[Path]:
    """The sub-folders of ``script_root`` that hold a ``function.json``, sorted by name."""
    if not script_root.is_dir():
        return []
    found = [
        entry
        for entry in script_root.iterdir()
        if entry.is_dir() and not _skipped(entry) and (entry / FUNCTION_JSON).is_file()
    ]
    return sorted(found, key=lambda path: path.name.lower())


def _skipped(folder: Path) -> bool:
    name = folder.name
    is_virtualenv = (folder / "pyvenv.cfg").is_file()
    return name.startswith(".") or name in SKIPPED_FOLDERS or is_virtualenv


def load_function_folders(script_root: Path, folders: list[Path]) -> list[FunctionInfo]:
    """Import every function folder's script and describe the function (fresh modules each call)."""
    _install_app_package(script_root)
    loaded: list[FunctionInfo] = []
    errors: list[str] = []
    for folder in folders:
        try:
            loaded.append(_load_folder(script_root, folder))
        except AppLoadError as exc:
            errors.append(str(exc))
    if len(errors) == 1:
        raise AppLoadError(errors[0])
    if errors:
        raise AppLoadError(f"{len(errors)} functions failed to load:\n\n" + "\n\n".join(errors))
    return loaded


def _install_app_package(script_root: Path) -> None:
    for name in [m for m in sys.modules if m == APP_PACKAGE or m.startswith(APP_PACKAGE + ".")]:
        del sys.modules[name]
    root = str(script_root.resolve())
    for name in _modules_under(root) + _shadowed_by(script_root):
        sys.modules.pop(name, None)
    if root in sys.path:
        sys.path.remove(root)
    sys.path.insert(0, root)
    package = types.ModuleType(APP_PACKAGE)
    package.__path__ = [root]
    package.__package__ = APP_PACKAGE
    sys.modules[APP_PACKAGE] = package


def _shadowed_by(script_root: Path) -> list[str]:
    """Loaded modules that share a name with a module or package of this app (another app's copy)."""
    own = {
        e.stem if e.suffix == ".py" else e.name for e in script_root.iterdir() if not e.name.startswith(".")
    }
    own -= _HOST_PACKAGES
    return [name for name in list(sys.modules) if name.split(".")[0] in own]


def _modules_under(root: str) -> list[str]:
    """Modules a previous load of this app imported from its own files (``shared_code`` ...)."""
    prefix = root.rstrip("/") + "/"
    return [
        name
        for name, module in list(sys.modules.items())
        if str(getattr(module, "__file__", None) or "").startswith(prefix)
        and name.split(".")[0] not in _HOST_PACKAGES
    ]


def _load_folder(script_root: Path, folder: Path) -> FunctionInfo:
    name = folder.name
    if not _FUNCTION_NAME.match(name) or name.lower() == "host":
        raise AppLoadError(
            f"'{name}' is not a valid function name (folder {folder}). A function folder's name starts "
            "with a letter and holds only letters, digits, '_' and '-'; rename the folder."
        )
    config = _read_function_json(folder)
    bindings = _bindings(folder, config)
    script = _script_file(folder, config)
    entry_point = str(config.get("entryPoint") or DEFAULT_ENTRY_POINT)
    module = _import(script_root, folder, script)
    user_function = getattr(module, entry_point, None)
    if not callable(user_function):
        raise AppLoadError(
            f"Cannot load function {name}: function {entry_point}() is not present in "
            f"{script.relative_to(script_root)}. Define it, or set entryPoint in {folder / FUNCTION_JSON} "
            "to the callable's name."
        )
    triggers = [b for b in bindings if str(b.get("type", "")).lower().endswith("trigger")]
    if len(triggers) != 1:
        what = "no trigger binding" if not triggers else f"{len(triggers)} trigger bindings"
        raise AppLoadError(
            f"{folder / FUNCTION_JSON} declares {what}; a function has exactly one binding whose type ends "
            "with 'Trigger'."
        )
    trigger = triggers[0]
    return FunctionInfo(
        name=name,
        trigger_type=str(trigger["type"]),
        trigger=trigger,
        bindings=tuple(bindings),
        user_function=user_function,
        directory=str(folder.resolve()),
        disabled=config.get("disabled"),
    )


def _read_function_json(folder: Path) -> dict[str, Any]:
    path = folder / FUNCTION_JSON
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise AppLoadError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Fix the file."
        ) from exc
    if not isinstance(data, dict):
        raise AppLoadError(f"{path} must hold a JSON object with a 'bindings' array.")
    return data


def _bindings(folder: Path, config: dict[str, Any]) -> list[dict[str, Any]]:
    path = folder / FUNCTION_JSON
    bindings = config.get("bindings")
    if not isinstance(bindings, list) or not bindings:
        raise AppLoadError(f"{path}: at least one binding must be declared in its 'bindings' array.")
    names: set[str] = set()
    for index, binding in enumerate(bindings):
        if not isinstance(binding, dict) or not binding.get("type") or not binding.get("name"):
            raise AppLoadError(
                f"{path}: binding {index} must be an object with a 'type' and a 'name', not "
                f"{json.dumps(binding)}."
            )
        direction = str(binding.get("direction") or "in").lower()
        if direction not in ("in", "out", "inout"):
            raise AppLoadError(
                f"{path}: binding '{binding['name']}' has direction '{binding.get('direction')}'; use "
                "'in', 'out' or 'inout'."
            )
        if binding["name"] == "$return" and direction != "out":
            raise AppLoadError(f"{path}: $return bindings must specify a direction of 'out'.")
        key = str(binding["name"]).lower()
        if key in names:
            raise AppLoadError(
                f"{path}: multiple bindings with name '{binding['name']}'. Binding names must be unique."
            )
        names.add(key)
    return bindings


def _script_file(folder: Path, config: dict[str, Any]) -> Path:
    declared = config.get("scriptFile")
    if declared:
        script = (folder / str(declared)).resolve()
        if not script.is_file():
            raise AppLoadError(
                f"{folder / FUNCTION_JSON}: its scriptFile '{declared}' does not exist. Point scriptFile at "
                "the function's Python file, relative to its folder."
            )
    else:
        script = folder / DEFAULT_SCRIPT_FILE
        candidates = [p for p in folder.glob("*.py")]
        if not script.is_file() and len(candidates) == 1:
            script = candidates[0]
        if not script.is_file():
            raise AppLoadError(
                f"Unable to determine the primary function script of {folder.name}: add "
                f"{DEFAULT_SCRIPT_FILE} to {folder}, or set scriptFile in its {FUNCTION_JSON}."
            )
    if script.suffix != ".py":
        raise AppLoadError(
            f"Cannot load function {folder.name}: invalid Python filename {script.name}. scriptFile must "
            "name a .py file."
        )
    return script


def _import(script_root: Path, folder: Path, script: Path) -> types.ModuleType:
    root = script_root.resolve()
    try:
        relative = script.resolve().relative_to(root)
    except ValueError as exc:
        raise AppLoadError(
            f"The script {script} of function {folder.name} is outside the script root {root}; keep it in "
            "the app's folder."
        ) from exc
    parts = list(relative.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    module_name = ".".join([APP_PACKAGE, *parts])
    try:
        return importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:
        details = "".join(traceback.format_exception(type(exc), exc, _from_app(exc, root))).rstrip()
        hint = (
            " Cannot find a module: check that requirements.txt lists it and it is installed."
            if isinstance(exc, ImportError)
            else ""
        )
        raise AppLoadError(
            f"Importing function {folder.name} ({relative}) raised {type(exc).__name__}.{hint} "
            f"Fix the error below:\n{details}"
        ) from exc


def _from_app(exc: BaseException, root: Path) -> types.TracebackType | None:
    """The traceback from the first frame in the app's own files (the import machinery is noise)."""
    tb = exc.__traceback__
    while tb is not None and not tb.tb_frame.f_code.co_filename.startswith(str(root)):
        tb = tb.tb_next
    return tb or exc.__traceback__
