"""Which SDK line an app asks for, read before it is imported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from durable_ext.host.sdk2_runtime import declared_sdk_line, own_requirements


@pytest.mark.parametrize(
    ("requirements", "line"),
    [
        ("azure-functions\nazure-functions-durable==2.0.0rc3\n", 2),
        ("azure-functions-durable>=2,<3  # the gRPC line\n", 2),
        ("Azure_Functions_Durable ~= 2.0\n", 2),
        ("azure-functions-durable>=1.2,<2\n", 1),
        ("azure-functions-durable\n", 1),
        ("# azure-functions-durable==2.0\nrequests\n", 1),
        ("", 1),
    ],
)
def test_the_requirements_name_the_line(tmp_path: Path, requirements: str, line: int) -> None:
    (tmp_path / "requirements.txt").write_text(requirements)
    assert declared_sdk_line(tmp_path) == line


def test_a_v1_app_asks_for_grpc_in_its_bindings(tmp_path: Path) -> None:
    (tmp_path / "Flow").mkdir()
    bindings = [
        {"name": "context", "type": "orchestrationTrigger", "direction": "in", "durableRequiresGrpc": True}
    ]
    (tmp_path / "Flow" / "function.json").write_text(json.dumps({"bindings": bindings}))
    assert declared_sdk_line(tmp_path) == 2


def test_the_2x_environment_gets_durable_ext_without_the_1x_sdk() -> None:
    names = {r.split(">")[0].split("<")[0].split("=")[0].strip().lower() for r in own_requirements()}
    assert "azure-functions" not in names and "azure-functions-durable" not in names
    assert {"durabletask", "grpcio", "azure-data-tables"} <= names
