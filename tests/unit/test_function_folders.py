"""The v1 programming model: function.json folders indexed and imported as the Python worker does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bindings.base import FunctionInfo
from durable_ext.errors import AppLoadError, ConfigurationError
from durable_ext.host.app_loader import load_function_app
from durable_ext.host.function_filter import enabled_functions
from durable_ext.host.settings import AppSettings

HTTP = [
    {"name": "req", "type": "httpTrigger", "direction": "in", "authLevel": "anonymous"},
    {"name": "$return", "type": "http", "direction": "out"},
]


def settings(
    root: Path, values: dict[str, str] | None = None, host: dict[str, Any] | None = None
) -> AppSettings:
    return AppSettings(root, values or {}, host or {"version": "2.0"}, environ={})


def function(root: Path, name: str, code: str, bindings: list[dict[str, Any]], **config: Any) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "function.json").write_text(json.dumps({"bindings": bindings, **config}))
    script = config.get("scriptFile", "__init__.py")
    (folder / script).write_text(textwrap.dedent(code))
    return folder


def shared(root: Path) -> None:
    (root / "shared_code").mkdir()
    (root / "shared_code" / "__init__.py").write_text("def shout(text):\n    return text.upper()\n")


def by_name(functions: list[FunctionInfo]) -> dict[str, FunctionInfo]:
    return {f.name: f for f in functions}


def test_every_folder_with_function_json_is_a_function(tmp_path: Path) -> None:
    shared(tmp_path)
    function(
        tmp_path, "Relative", "from ..shared_code import shout\ndef main(req):\n    return shout('a')\n", HTTP
    )
    function(
        tmp_path,
        "Absolute",
        "from __app__.shared_code import shout\ndef main(req):\n    return shout('b')\n",
        HTTP,
    )
    function(
        tmp_path, "Plain", "from shared_code import shout\ndef main(req):\n    return shout('c')\n", HTTP
    )
    (tmp_path / "notes").mkdir()
    function(tmp_path / ".hidden", "Hidden", "def main(req): pass\n", HTTP)
    loaded = load_function_app(tmp_path, settings(tmp_path))
    assert loaded.model == "v1"
    functions = by_name(loaded.functions)
    assert sorted(functions) == ["Absolute", "Plain", "Relative"]
    assert [functions[n].user_function(None) for n in ("Relative", "Absolute", "Plain")] == ["A", "B", "C"]
    relative = functions["Relative"]
    assert relative.trigger_type == "httpTrigger"
    assert relative.directory == str((tmp_path / "Relative").resolve())
    assert relative.user_function.__module__ == "__app__.Relative"


def test_script_file_and_entry_point_are_read(tmp_path: Path) -> None:
    function(
        tmp_path,
        "Custom",
        "def run(req):\n    return 'ran'\n",
        HTTP,
        scriptFile="handler.py",
        entryPoint="run",
    )
    loaded = load_function_app(tmp_path, settings(tmp_path))
    custom = loaded.functions[0]
    assert custom.user_function(None) == "ran"
    assert custom.user_function.__module__ == "__app__.Custom.handler"


def test_loading_twice_gives_fresh_modules(tmp_path: Path) -> None:
    shared(tmp_path)
    function(tmp_path, "F", "from shared_code import shout\ndef main(req):\n    return shout('x')\n", HTTP)
    first = load_function_app(tmp_path, settings(tmp_path)).functions[0].user_function
    (tmp_path / "shared_code" / "__init__.py").write_text("def shout(text):\n    return text + '!'\n")
    second = load_function_app(tmp_path, settings(tmp_path)).functions[0].user_function
    assert (first(None), second(None)) == ("X", "x!")


def test_an_import_error_names_the_folder_and_its_traceback(tmp_path: Path) -> None:
    function(tmp_path, "Good", "def main(req): pass\n", HTTP)
    function(tmp_path, "Broken", "def helper():\n    return 1 / 0\n\nhelper()\ndef main(req): pass\n", HTTP)
    with pytest.raises(AppLoadError) as caught:
        load_function_app(tmp_path, settings(tmp_path))
    text = str(caught.value)
    assert "function Broken (Broken/__init__.py) raised ZeroDivisionError" in text
    assert 'Broken/__init__.py", line 2, in helper' in text


def test_every_failing_folder_is_named(tmp_path: Path) -> None:
    function(tmp_path, "One", "import not_installed_one\ndef main(req): pass\n", HTTP)
    function(tmp_path, "Two", "import not_installed_two\ndef main(req): pass\n", HTTP)
    with pytest.raises(AppLoadError) as caught:
        load_function_app(tmp_path, settings(tmp_path))
    text = str(caught.value)
    assert text.startswith("2 functions failed to load")
    assert "not_installed_one" in text and "not_installed_two" in text


def test_a_missing_module_says_to_check_the_requirements(tmp_path: Path) -> None:
    function(tmp_path, "Needs", "import not_installed_anywhere\ndef main(req): pass\n", HTTP)
    with pytest.raises(AppLoadError, match=r"requirements\.txt"):
        load_function_app(tmp_path, settings(tmp_path))


def test_a_missing_entry_point_is_named(tmp_path: Path) -> None:
    function(tmp_path, "NoMain", "def handler(req): pass\n", HTTP)
    with pytest.raises(AppLoadError, match=r"function main\(\) is not present in NoMain/__init__.py"):
        load_function_app(tmp_path, settings(tmp_path))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"bindings": []}, "at least one binding"),
        ({"bindings": [{"name": "x", "type": "http", "direction": "out"}]}, "no trigger binding"),
        (
            {"bindings": [*HTTP, {"name": "req", "type": "blob", "direction": "in"}]},
            "multiple bindings with name",
        ),
        (
            {"bindings": [{"name": "req", "type": "httpTrigger", "direction": "sideways"}]},
            "direction 'sideways'",
        ),
        ({"bindings": HTTP, "scriptFile": "missing.py"}, "scriptFile 'missing.py' does not exist"),
    ],
)
def test_an_invalid_function_json_is_refused_with_the_fix(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    folder = tmp_path / "Bad"
    folder.mkdir()
    (folder / "function.json").write_text(json.dumps(config))
    (folder / "__init__.py").write_text("def main(req): pass\n")
    with pytest.raises(AppLoadError, match=message):
        load_function_app(tmp_path, settings(tmp_path))


def test_function_json_that_is_not_json_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "Bad"
    folder.mkdir()
    (folder / "function.json").write_text("{bindings: }")
    with pytest.raises(AppLoadError, match=r"Bad/function.json is not valid JSON"):
        load_function_app(tmp_path, settings(tmp_path))


def test_an_app_with_both_models_is_refused(tmp_path: Path) -> None:
    (tmp_path / "function_app.py").write_text("import azure.functions as func\napp = func.FunctionApp()\n")
    function(tmp_path, "Old", "def main(req): pass\n", HTTP)
    with pytest.raises(AppLoadError, match=r"both a function_app.py .*Old/function.json"):
        load_function_app(tmp_path, settings(tmp_path))


def test_disabled_functions_and_the_allow_list(tmp_path: Path) -> None:
    for name in ("A", "B", "C", "D", "E"):
        function(tmp_path, name, "def main(req): pass\n", HTTP)
    (tmp_path / "B" / "function.json").write_text(json.dumps({"bindings": HTTP, "disabled": True}))
    (tmp_path / "C" / "function.json").write_text(json.dumps({"bindings": HTTP, "disabled": "C_OFF"}))
    values = {"C_OFF": "true", "AzureWebJobs.D.Disabled": "1", "AzureWebJobs_E_Disabled": "false"}
    functions = load_function_app(tmp_path, settings(tmp_path)).functions
    kept = enabled_functions(functions, settings(tmp_path, values))
    assert [f.name for f in kept] == ["A", "E"]
    only = settings(tmp_path, {}, {"version": "2.0", "functions": ["a", "d"]})
    assert [f.name for f in enabled_functions(functions, only)] == ["A", "D"]
    assert [
        f.name for f in enabled_functions(functions, settings(tmp_path, {}, {"functions": ["A", "D"]}))
    ] == [
        "A",
        "D",
    ]


def test_an_allow_list_that_is_not_a_list_of_names_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="'functions' must be a list of function names"):
        enabled_functions([], settings(tmp_path, {}, {"functions": "A"}))
