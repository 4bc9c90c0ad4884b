"""Host keys from settings, and the rules of who may call what."""

from __future__ import annotations

import json

import pytest

from durable_ext.errors import ConfigurationError
from durable_ext.extension.client_binding import client_binding_json
from durable_ext.host.auth import Access, is_local_peer, is_loopback_bind
from durable_ext.host.http_server import management_access
from durable_ext.host.keys import HostKeys, derived_system_key

MASTER = "m" * 20
HOST = "h" * 20
OWN = "f" * 20


def keys(**settings: str) -> HostKeys:
    return HostKeys.from_settings(settings.get)


def test_no_settings_means_no_keys() -> None:
    found = keys()
    assert not found.any_configured
    assert found.durabletask is None
    assert not found.opens_admin(MASTER)


def test_each_kind_of_key_opens_what_it_should() -> None:
    found = keys(
        DURABLE_EXT_MASTER_KEY=MASTER,
        DURABLE_EXT_HOST_KEYS=f" {HOST} , ",
        DURABLE_EXT_FUNCTION_KEYS=f'{{"Orders": ["{OWN}"]}}',
    )
    assert found.opens_admin(MASTER) and not found.opens_admin(HOST)
    assert found.opens_function("orders", OWN), "function names match case-insensitively"
    assert not found.opens_function("billing", OWN)
    assert found.opens_function("billing", HOST) and found.opens_function("billing", MASTER)
    assert found.opens_durabletask(MASTER) and not found.opens_durabletask(HOST)
    assert found.durabletask is not None and found.opens_durabletask(found.durabletask)
    assert not found.opens_admin(found.durabletask)


def test_the_durable_task_key_is_derived_stably_and_never_the_master_key() -> None:
    assert derived_system_key(MASTER) == derived_system_key(MASTER)
    assert derived_system_key(MASTER) != MASTER
    assert derived_system_key(MASTER) != derived_system_key("x" * 20)
    assert keys(DURABLE_EXT_MASTER_KEY=MASTER, DURABLE_EXT_DURABLETASK_KEY=OWN).durabletask == OWN


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("DURABLE_EXT_MASTER_KEY", "short", "at least 16"),
        ("DURABLE_EXT_HOST_KEYS", "x" * 20 + ",a b c d e f g h i j", "not URL-safe"),
        ("DURABLE_EXT_FUNCTION_KEYS", "{not json", "not valid JSON"),
        ("DURABLE_EXT_FUNCTION_KEYS", '["a"]', "JSON object"),
        ("DURABLE_EXT_FUNCTION_KEYS", '{"f": 5}', "function 'f'"),
        ("DURABLE_EXT_DURABLETASK_KEY", "&" * 20, "not URL-safe"),
    ],
)
def test_bad_keys_stop_start_up_naming_the_setting(setting: str, value: str, named: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        keys(**{setting: value})
    assert setting in str(caught.value) and named in str(caught.value)


@pytest.mark.parametrize(
    ("peer", "local", "forwarded", "local_call"),
    [
        ("127.0.0.1", "127.0.0.1", False, True),
        ("127.0.0.5", "0.0.0.0", False, True),
        ("::1", "::1", False, True),
        ("::ffff:127.0.0.1", "::", False, True),
        ("10.1.2.3", "10.1.2.3", False, True),
        ("10.1.2.4", "10.1.2.3", False, False),
        ("203.0.113.7", "0.0.0.0", False, False),
        ("127.0.0.1", "127.0.0.1", True, False),
        (None, "127.0.0.1", False, False),
        ("not-an-address", None, False, False),
    ],
)
def test_which_peers_are_this_machine(
    peer: str | None, local: str | None, forwarded: bool, local_call: bool
) -> None:
    assert is_local_peer(peer, local, forwarded=forwarded) is local_call


def test_loopback_binds() -> None:
    assert is_loopback_bind("127.0.0.1") and is_loopback_bind("localhost") and is_loopback_bind("::1")
    assert not is_loopback_bind("0.0.0.0") and not is_loopback_bind("") and not is_loopback_bind("myhost")


def test_auth_levels_and_paths() -> None:
    assert Access.of_auth_level("ANONYMOUS") is Access.ANONYMOUS
    assert Access.of_auth_level("Admin") is Access.ADMIN
    assert Access.of_auth_level(None) is Access.FUNCTION, "the Functions host's default level"
    assert management_access("/runtime/webhooks/durabletask/monitor") is Access.MONITOR
    assert management_access("/runtime/webhooks/durabletask/monitor/app.js") is Access.MONITOR
    assert management_access("/runtime/webhooks/durabletask/instances/x") is Access.DURABLETASK
    assert management_access("/DurableTask/instances") is Access.DURABLETASK
    assert management_access("/api/durabletask") is None
    assert management_access("/durabletasks") is None


def test_the_client_binding_carries_the_durable_task_key_when_keys_are_on() -> None:
    open_binding = json.loads(client_binding_json("http://127.0.0.1:7071", "Hub", None))
    assert open_binding["requiredQueryStringParameters"] == ""
    assert "code=" not in open_binding["managementUrls"]["statusQueryGetUri"]
    keyed = json.loads(client_binding_json("http://127.0.0.1:7071", "Hub", None, system_key=OWN))
    assert keyed["requiredQueryStringParameters"] == f"code={OWN}"
    assert keyed["managementUrls"]["statusQueryGetUri"].endswith(f"&code={OWN}")
    assert keyed["creationUrls"]["createNewInstancePostUri"].endswith(f"&code={OWN}")
