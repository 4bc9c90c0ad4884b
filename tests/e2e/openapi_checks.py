"""Reading the served OpenAPI document in tests: references, schema checks and operation parameters."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

Document = dict[str, Any]


def resolve(document: Document, node: dict[str, Any]) -> dict[str, Any]:
    """``node`` with its ``$ref`` (to ``#/components/<kind>/<name>``) followed."""
    while "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = document["components"][kind][name]
    return node


def schema_errors(document: Document, schema: dict[str, Any], value: Any) -> list[str]:
    """Where ``value`` does not fit ``schema`` (whose references point into the document)."""
    validator = Draft202012Validator({"components": document["components"], **schema})
    return [f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(value)]


def parameter_names(document: Document, operation: dict[str, Any]) -> set[str]:
    """What a 4xx of ``operation`` may name: its parameters, and ``body``/``Content-Type`` if it takes one."""
    names = {resolve(document, p)["name"] for p in operation.get("parameters", [])}
    return names | ({"body", "Content-Type"} if "requestBody" in operation else set())


def check_answer(
    document: Document, operation: dict[str, Any], status: int, content_type: str, text: str
) -> list[str]:
    """What is wrong with one answer of ``operation``: an undocumented status, a body that does not fit the
    documented schema, or a 4xx that does not name a parameter of the operation."""
    documented = operation["responses"].get(str(status))
    if documented is None:
        return [f"{status} is not documented for {operation['operationId']}"]
    content = resolve(document, documented).get("content")
    if not content:
        return [] if text == "" else [f"{status} is documented with no body, got {text[:200]!r}"]
    if content_type not in content:
        return [f"{status} came as {content_type!r}, documented: {sorted(content)}"]
    if content_type != "application/json":
        return []
    try:
        body = json.loads(text)
    except ValueError as exc:
        return [f"{status} body is not JSON ({exc}): {text[:200]!r}"]
    problems = schema_errors(document, content[content_type]["schema"], body)
    if 400 <= status < 500 and not problems and body["parameter"] not in parameter_names(document, operation):
        problems.append(
            f"{status} names {body['parameter']!r}, not a parameter of {operation['operationId']}"
        )
    return problems
