"""Loading the function app from a script root: one FunctionRegister, blueprints, clear errors."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from durable_ext.errors import AppLoadError
from durable_ext.host.app_loader import load_function_app
from durable_ext.host.settings import AppSettings


def settings(root: Path, values: dict[str, str] | None = None) -> AppSettings:
    return AppSettings(root, values or {}, {"version": "2.0"}, environ={})


def write(root: Path, name: str, code: str) -> Path:
    path = root / name
    path.write_text(textwrap.dedent(code))
    return path


DF_APP = """
import azure.durable_functions as df
import azure.functions as func

from {package} import bp

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context")
def hello(context: df.DurableOrchestrationContext):
    result = yield context.call_activity("say", "x")
    return result


@app.route(route="start")
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client) -> func.HttpResponse:
    return func.HttpResponse("ok")


app.register_functions(bp)
"""

BLUEPRINT = """
import azure.durable_functions as df

bp = df.Blueprint()


@bp.activity_trigger(input_name="name")
def say(name: str) -> str:
    return f"Hello {name}"
"""


def app_with_blueprint(root: Path) -> None:
    package = "bp_" + uuid.uuid4().hex[:8]  # a package name of its own: sys.modules caches packages
    (root / package).mkdir()
    write(root / package, "__init__.py", BLUEPRINT)
    write(root, "function_app.py", DF_APP.format(package=package))


def test_dfapp_with_blueprint_lists_every_function(tmp_path: Path) -> None:
    app_with_blueprint(tmp_path)
    loaded = load_function_app(tmp_path, settings(tmp_path))
    names = sorted(f.name for f in loaded.functions)
    assert names == ["hello", "say", "start"]
    assert loaded.module is not None
    assert loaded.module.app is loaded.register
    assert sys.path[0] == str(tmp_path.resolve())


def test_loading_twice_gives_a_fresh_module(tmp_path: Path) -> None:
    app_with_blueprint(tmp_path)
    first = load_function_app(tmp_path, settings(tmp_path))
    second = load_function_app(tmp_path, settings(tmp_path))
    assert first.module is not second.module
    assert first.register is not second.register
    assert len(second.functions) == 3
    assert sys.modules["function_app"] is second.module


def test_plain_function_app_is_a_register(tmp_path: Path) -> None:
    write(
        tmp_path,
        "function_app.py",
        """
        import azure.functions as func

        app = func.FunctionApp()


        @app.route(route="ping")
        def ping(req: func.HttpRequest) -> func.HttpResponse:
            return func.HttpResponse("pong")
        """,
    )
    loaded = load_function_app(tmp_path, settings(tmp_path))
    assert [f.name for f in loaded.functions] == ["ping"]


def test_missing_script_names_path_and_setting(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError) as caught:
        load_function_app(tmp_path, settings(tmp_path))
    message = str(caught.value)
    assert str(tmp_path / "function_app.py") in message
    assert "PYTHON_SCRIPT_FILE_NAME" in message


def test_no_register_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "function_app.py", "import azure.durable_functions as df\nbp = df.Blueprint()\n")
    with pytest.raises(AppLoadError, match=r"defines no FunctionApp/DFApp instance.*app = df\.DFApp\(\)"):
        load_function_app(tmp_path, settings(tmp_path))


def test_two_registers_are_named(tmp_path: Path) -> None:
    write(
        tmp_path,
        "function_app.py",
        """
        import azure.durable_functions as df
        import azure.functions as func

        first_app = df.DFApp()
        second_app = func.FunctionApp()
        alias = first_app
        """,
    )
    with pytest.raises(AppLoadError) as caught:
        load_function_app(tmp_path, settings(tmp_path))
    message = str(caught.value)
    assert "2 FunctionApp/DFApp instances" in message
    assert "first_app = alias" in message
    assert "second_app" in message


def test_same_register_under_two_names_is_one_app(tmp_path: Path) -> None:
    write(
        tmp_path,
        "function_app.py",
        "import azure.durable_functions as df\napp = df.DFApp()\napplication = app\n",
    )
    loaded = load_function_app(tmp_path, settings(tmp_path))
    assert loaded.module is not None
    assert loaded.register is loaded.module.application


def test_import_error_carries_the_user_traceback(tmp_path: Path) -> None:
    write(
        tmp_path,
        "function_app.py",
        """
        import azure.durable_functions as df

        app = df.DFApp()


        def configure():
            raise RuntimeError("the database URL is missing")


        configure()
        """,
    )
    with pytest.raises(AppLoadError) as caught:
        load_function_app(tmp_path, settings(tmp_path))
    message = str(caught.value)
    assert str(tmp_path / "function_app.py") in message
    assert "Traceback (most recent call last)" in message
    assert "in configure" in message
    assert "RuntimeError: the database URL is missing" in message
    assert "function_app" not in sys.modules or sys.modules["function_app"].__file__ != str(
        tmp_path / "function_app.py"
    )


def test_syntax_error_is_reported_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "function_app.py", "app = (\n")
    with pytest.raises(AppLoadError, match=r"SyntaxError"):
        load_function_app(tmp_path, settings(tmp_path))


def test_script_file_name_setting(tmp_path: Path) -> None:
    write(
        tmp_path,
        "my_app.py",
        """
        import azure.durable_functions as df

        app = df.DFApp()


        @app.activity_trigger(input_name="x")
        def double(x: int) -> int:
            return 2 * x
        """,
    )
    loaded = load_function_app(tmp_path, settings(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "my_app.py"}))
    assert [f.name for f in loaded.functions] == ["double"]
    assert loaded.module is not None
    assert loaded.module.__name__ == "my_app"


def test_script_file_name_must_be_python(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match=r"PYTHON_SCRIPT_FILE_NAME is 'app\.txt'"):
        load_function_app(tmp_path, settings(tmp_path, {"PYTHON_SCRIPT_FILE_NAME": "app.txt"}))


def test_duplicate_function_names_report_the_sdk_message(tmp_path: Path) -> None:
    write(
        tmp_path,
        "function_app.py",
        """
        import azure.durable_functions as df

        app = df.DFApp()


        @app.function_name("same")
        @app.activity_trigger(input_name="x")
        def one(x: int) -> int:
            return x


        @app.function_name("same")
        @app.activity_trigger(input_name="x")
        def two(x: int) -> int:
            return x
        """,
    )
    with pytest.raises(AppLoadError, match=r"Indexing the functions of .*function_app\.py failed: .*same"):
        load_function_app(tmp_path, settings(tmp_path))
