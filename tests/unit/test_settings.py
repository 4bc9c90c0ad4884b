"""App settings: local.settings.json Values, the environment, host.json and %Name% references."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from durable_ext.errors import ConfigurationError
from durable_ext.host.settings import AppSettings, apply_to_environment, find_key, load_settings


def write_app(root: Path, values: dict[str, Any] | None = None, host: dict[str, Any] | None = None) -> Path:
    if values is not None:
        (root / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    if host is not None:
        (root / "host.json").write_text(json.dumps(host))
    return root


def test_missing_files_give_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.values == {}
    assert settings.host_json == {"version": "2.0"}
    assert settings.route_prefix == "api"
    assert settings.get("Anything") is None
    assert settings.get("Anything", "fallback") == "fallback"


def test_environment_wins_over_file_values(tmp_path: Path) -> None:
    write_app(tmp_path, {"Shared": "from-file", "OnlyFile": "file"})
    settings = load_settings(tmp_path, environ={"Shared": "from-env", "OnlyEnv": "env"})
    assert settings.get("Shared") == "from-env"
    assert settings.get("OnlyFile") == "file"
    assert settings.get("OnlyEnv") == "env"
    assert settings.values == {"Shared": "from-env", "OnlyFile": "file"}


def test_load_settings_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURABLE_EXT_TEST_SETTING", "yes")
    assert load_settings(tmp_path).get("DURABLE_EXT_TEST_SETTING") == "yes"


def test_non_string_values_become_strings(tmp_path: Path) -> None:
    write_app(tmp_path, {"Count": 3, "Flag": True, "Ratio": 0.5, "Nothing": None})
    settings = load_settings(tmp_path, environ={})
    assert settings.values == {"Count": "3", "Flag": "true", "Ratio": "0.5"}


def test_object_value_is_rejected_naming_the_key(tmp_path: Path) -> None:
    write_app(tmp_path, {"Nested": {"a": 1}})
    with pytest.raises(ConfigurationError, match=r"Values\.Nested"):
        load_settings(tmp_path, environ={})


def test_encrypted_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_text('{"IsEncrypted": true, "Values": {"A": "xyz"}}')
    with pytest.raises(ConfigurationError, match="IsEncrypted"):
        load_settings(tmp_path, environ={})


def test_apply_to_environment_sets_only_missing_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DURABLE_EXT_TEST_PRESET", "env")
    monkeypatch.delenv("DURABLE_EXT_TEST_NEW", raising=False)
    write_app(tmp_path, {"DURABLE_EXT_TEST_PRESET": "file", "DURABLE_EXT_TEST_NEW": "file"})
    settings = load_settings(tmp_path)
    try:
        applied = apply_to_environment(settings)
        assert applied == ["DURABLE_EXT_TEST_NEW"]
        assert os.environ["DURABLE_EXT_TEST_NEW"] == "file"
        assert os.environ["DURABLE_EXT_TEST_PRESET"] == "env"
    finally:
        os.environ.pop("DURABLE_EXT_TEST_NEW", None)


def test_resolve_replaces_every_reference(tmp_path: Path) -> None:
    write_app(tmp_path, {"Hub": "MyHub", "Env": "prod"})
    settings = load_settings(tmp_path, environ={"Env": "test"})
    assert settings.resolve("%Hub%") == "MyHub"
    assert settings.resolve("%Hub%-%Env%-%Hub%") == "MyHub-test-MyHub"
    assert settings.resolve("no references, 50% off") == "no references, 50% off"


def test_resolve_unknown_setting_names_setting_and_file(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    with pytest.raises(ConfigurationError) as caught:
        settings.resolve("%MissingHub%", "host.json extensions.durableTask.hubName")
    message = str(caught.value)
    assert "'MissingHub'" in message
    assert "host.json extensions.durableTask.hubName" in message
    assert "local.settings.json" in message


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("api", "api"), ("", ""), ("/v1/", "v1"), ("custom/path", "custom/path")],
)
def test_route_prefix(tmp_path: Path, prefix: str, expected: str) -> None:
    write_app(tmp_path, host={"version": "2.0", "extensions": {"http": {"routePrefix": prefix}}})
    assert load_settings(tmp_path, environ={}).route_prefix == expected


def test_route_prefix_keys_are_case_insensitive(tmp_path: Path) -> None:
    write_app(tmp_path, host={"version": "2.0", "Extensions": {"HTTP": {"RoutePrefix": "x"}}})
    assert load_settings(tmp_path, environ={}).route_prefix == "x"


def test_route_prefix_must_be_a_string(tmp_path: Path) -> None:
    write_app(tmp_path, host={"version": "2.0", "extensions": {"http": {"routePrefix": 5}}})
    with pytest.raises(ConfigurationError, match="routePrefix"):
        _ = load_settings(tmp_path, environ={}).route_prefix


@pytest.mark.parametrize("file_name", ["host.json", "local.settings.json"])
def test_invalid_json_names_file_line_and_column(tmp_path: Path, file_name: str) -> None:
    (tmp_path / file_name).write_text('{\n  "version": "2.0",\n  "oops"\n}')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert file_name in message
    assert "line 4, column 1" in message


def test_json_array_is_not_a_settings_file(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text("[]")
    with pytest.raises(ConfigurationError, match=r"host\.json must contain a JSON object"):
        load_settings(tmp_path, environ={})


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "local.settings.json").write_bytes(b'\xef\xbb\xbf{"Values": {"A": "1"}}')
    assert load_settings(tmp_path, environ={}).get("A") == "1"


def test_find_key_prefers_exact_then_ignores_case() -> None:
    assert find_key({"hubName": 1, "HUBNAME": 2}, "HUBNAME") == 2
    assert find_key({"HubName": 1}, "hubname") == 1
    assert find_key({}, "hubName") is None


def test_settings_built_by_hand_fall_back_to_values() -> None:
    settings = AppSettings(Path("."), {"Secret": "s3cr3t"}, {}, environ={})
    assert settings.get("Secret") == "s3cr3t"
    assert "s3cr3t" not in repr(settings)
