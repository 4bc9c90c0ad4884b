"""The pytest plugin (``pip install 'durable-ext[testing]'`` brings pytest; the ``pytest11`` entry point
registers this module): the ``durable`` fixture serves your app for tests.

    def test_hello_cities(durable):
        status = durable.wait_for_completion(durable.start("hello_cities"))
        assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]

The app is the folder named by ``--durable-app``, else by the ``durable_ext_app`` ini option (relative
to the rootdir), else the rootdir itself. The storage is the memory provider unless a test's marker
(``@pytest.mark.durable(storage="azurite")``), ``--durable-storage`` or the ``durable_ext_storage`` ini
option says otherwise. One host per storage serves the whole session, started the first time a test
needs it; around each test the fixture removes mocks, sets time skipping back to the storage's default
and releases the hold on durable time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from .host import STORAGES, DurableTestHost, Storage, checked_storage
except ImportError as exc:  # a broken or partial install: say what to install, not just what is missing
    raise ImportError(
        f"durable-ext's pytest plugin (the durable fixture) cannot load: {exc}. Install durable-ext with its "
        "testing extra into the environment pytest runs in: pip install 'durable-ext[testing]' (from a "
        "checkout: pip install -e '/path/to/durable-ext[testing]')."
    ) from exc

INI_OPTION = "durable_ext_app"
STORAGE_INI_OPTION = "durable_ext_storage"
STORAGE_OPTION = "--durable-storage"
MARKER = "durable"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(INI_OPTION, "folder of the function app the durable fixture serves (default: rootdir)")
    parser.addini(STORAGE_INI_OPTION, "storage of the durable fixture: memory (default) or azurite")
    group = parser.getgroup("durable-ext")
    group.addoption("--durable-app", help="folder of the function app the durable fixture serves")
    group.addoption(
        STORAGE_OPTION,
        choices=STORAGES,
        help="storage of the durable fixture for tests without a durable marker: memory (default) or azurite",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(storage='memory'|'azurite'): the storage the durable fixture serves this test's app on",
    )


def app_folder(config: pytest.Config) -> Path:
    chosen = config.getoption("--durable-app") or config.getini(INI_OPTION)
    return (config.rootpath / chosen).resolve() if chosen else config.rootpath


def default_storage(config: pytest.Config) -> Storage:
    """``--durable-storage``, else the ``durable_ext_storage`` ini option, else memory."""
    chosen = config.getoption(STORAGE_OPTION)
    if chosen:
        return checked_storage(chosen, STORAGE_OPTION)
    ini = str(config.getini(STORAGE_INI_OPTION) or "").strip()
    return checked_storage(ini, f"The ini option {STORAGE_INI_OPTION}") if ini else "memory"


def storage_of(item: pytest.Item) -> Storage:
    """The storage a test asks for with its marker, else the session's default."""
    marker = item.get_closest_marker(MARKER)
    chosen = None
    if marker is not None:
        chosen = marker.kwargs.get("storage", marker.args[0] if marker.args else None)
    if chosen is None:
        return default_storage(item.config)
    return checked_storage(str(chosen), f"@pytest.mark.{MARKER}(storage=...) on {item.nodeid}")


class DurableHosts:
    """One host per storage for the session, each started the first time a test asks for it."""

    def __init__(self, app: Path) -> None:
        self.app = app
        self._hosts: dict[Storage, DurableTestHost] = {}
        self._failures: dict[Storage, BaseException] = {}
        self._last: DurableTestHost | None = None

    def get(self, storage: Storage) -> DurableTestHost:
        if storage in self._failures:  # failed once: fail the same way, without starting it again
            raise self._failures[storage]
        host = self._started(storage)
        if self._last is not None and self._last is not host:
            self._last.release_sdk_session()  # the SDK shares one session per process, on one loop
        self._last = host
        return host

    def _started(self, storage: Storage) -> DurableTestHost:
        if storage not in self._hosts:
            host = DurableTestHost(self.app, storage=storage)
            try:
                host.serve()
            except BaseException as exc:
                host.close()
                self._failures[storage] = exc
                raise
            self._hosts[storage] = host
        return self._hosts[storage]

    def close(self) -> None:
        if self._last is not None:
            self._last.release_sdk_session()  # on its own loop, before any host stops
        for host in self._hosts.values():
            host.close()
        self._hosts.clear()


@pytest.fixture(scope="session")
def durable_hosts(pytestconfig: pytest.Config) -> Iterator[DurableHosts]:
    """The session's hosts of your app, one per storage (the ``durable`` fixture takes them from here)."""
    hosts = DurableHosts(app_folder(pytestconfig))
    try:
        yield hosts
    finally:
        hosts.close()


@pytest.fixture
def durable(request: pytest.FixtureRequest, durable_hosts: DurableHosts) -> Iterator[DurableTestHost]:
    """Your app, served on the test's storage: start, wait, raise events, signal entities, mock
    activities and sub-orchestrators, control durable time."""
    host = durable_hosts.get(storage_of(request.node))
    host.reset()
    try:
        yield host
    finally:
        host.reset()
