"""What a user installs: the pinned Azurite, the testing extra and the pytest plugin's entry point."""

from __future__ import annotations

import importlib
import json
import sys
import tomllib
from pathlib import Path

import pytest

from durable_ext.host.azurite_install import AZURITE_VERSION

ROOT = Path(__file__).resolve().parents[2]


def test_the_azurite_pin_is_the_one_of_package_json() -> None:
    package = json.loads((ROOT / "package.json").read_text())
    assert package["dependencies"]["azurite"] == AZURITE_VERSION == "3.35.0"


def test_the_testing_extra_brings_pytest_and_registers_the_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    testing = project["optional-dependencies"]["testing"]
    assert any(req.startswith("pytest>=") for req in testing)
    assert any(req.startswith("pytest-asyncio") for req in testing)
    assert project["entry-points"]["pytest11"] == {"durable_ext": "durable_ext.testing.plugin"}
    assert project["scripts"]["durable-ext"] == "durable_ext.host.cli:main"


def test_a_plugin_that_cannot_load_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "durable_ext.testing.host", None)  # importing it raises ImportError
    monkeypatch.delitem(sys.modules, "durable_ext.testing.plugin", raising=False)
    with pytest.raises(ImportError) as caught:
        importlib.import_module("durable_ext.testing.plugin")
    assert "pip install 'durable-ext[testing]'" in str(caught.value)
    assert "durable fixture" in str(caught.value)
