"""The pytest plugin (``pip install 'durable-ext[testing]'`` brings pytest; the ``pytest11`` entry point
registers this module): the ``durable`` fixture serves your app for tests.

    def test_hello_cities(durable):
        status = durable.wait_for_completion(durable.start("hello_cities"))
        assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]

The app is the folder named by ``--durable-app``, else by the ``durable_ext_app`` ini option (relative
to the rootdir), else the rootdir itself. One Azurite and one host serve the whole test session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from .host import DurableTestHost
except ImportError as exc:  # a broken or partial install: say what to install, not just what is missing
    raise ImportError(
        f"durable-ext's pytest plugin (the durable fixture) cannot load: {exc}. Install durable-ext with its "
        "testing extra into the environment pytest runs in: pip install 'durable-ext[testing]' (from a "
        "checkout: pip install -e '/path/to/durable-ext[testing]')."
    ) from exc

INI_OPTION = "durable_ext_app"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_OPTION, "folder of the function app the durable fixture serves (default: rootdir)")
    group = parser.getgroup("durable-ext")
    group.addoption("--durable-app", help="folder of the function app the durable fixture serves")


def app_folder(config: pytest.Config) -> Path:
    chosen = config.getoption("--durable-app") or config.getini(INI_OPTION)
    return (config.rootpath / chosen).resolve() if chosen else config.rootpath


@pytest.fixture(scope="session")
def durable(pytestconfig: pytest.Config) -> Iterator[DurableTestHost]:
    """Your app, served with Azurite for this test session; start, wait, raise events, signal entities."""
    with DurableTestHost(app_folder(pytestconfig)) as host:
        yield host
