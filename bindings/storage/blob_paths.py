"""Blob binding paths: ``container/blob`` templates for inputs and outputs, and blob trigger patterns.

A ``path`` is ``<container>/<blob>``; the part after the first ``/`` is the blob name and may contain
``/``. In an input or output both parts may hold binding expressions (``{name}``, ``{queueTrigger}``,
``{rand-guid}``, ``{DateTime}``), resolved per invocation. A blob trigger's container must be literal,
and its blob part is a *pattern*: each ``{name}`` captures any text (``/`` included, greedy), the match is
case-sensitive and whole; ``{{`` and ``}}`` are literal braces. A trigger path that is a container alone
matches every blob in it. Container names follow the storage rules (3 to 63 lower-case letters, digits
and single hyphens, starting and ending with a letter or digit); blob names are 1 to 1,024 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bindings import expressions
from bindings.base import FunctionInfo
from durable_ext.errors import ConfigurationError

if TYPE_CHECKING:
    from bindings.catalog import Settings

MAX_BLOB_NAME_LENGTH = 1024
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
_SPECIAL_CONTAINERS = ("$root", "$web", "$logs")


@dataclass(frozen=True)
class BlobPath:
    """One blob: its container and its name."""

    container: str
    name: str

    def __str__(self) -> str:
        return f"{self.container}/{self.name}"


def _split(path: str, where: str) -> tuple[str, str | None]:
    """The container part and the blob part (None when the path is a container alone)."""
    if "\\" in path:
        raise ConfigurationError(f"{where}: the path '{path}' contains '\\'; separate parts with '/'.")
    container, slash, blob = path.partition("/")
    if not container or (slash and not blob):
        raise ConfigurationError(
            f"{where}: the path '{path}' must be '<container>/<blob>', with text on both sides of the "
            "first '/'."
        )
    return container, (blob if slash else None)


def _check_template(template: str, where: str) -> None:
    """Raise ConfigurationError naming the binding if ``template`` is not a valid binding expression."""
    try:
        expressions.parse(template)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}") from exc


def check_container_name(container: str, where: str) -> None:
    """Raise ConfigurationError unless ``container`` is a valid storage container name."""
    if container in _SPECIAL_CONTAINERS or _CONTAINER_NAME.match(container):
        return
    raise ConfigurationError(
        f"{where}: '{container}' is not a valid container name. A container name has 3 to 63 characters: "
        "lower-case letters, digits and single hyphens, starting and ending with a letter or a digit."
    )


def check_blob_name(name: str, where: str) -> None:
    """Raise ConfigurationError unless ``name`` is a valid blob name."""
    if 0 < len(name) <= MAX_BLOB_NAME_LENGTH:
        return
    raise ConfigurationError(
        f"{where}: the blob name '{name[:80]}' has {len(name)} characters; a blob name has 1 to "
        f"{MAX_BLOB_NAME_LENGTH}."
    )


@dataclass(frozen=True)
class BlobPathTemplate:
    """An input or output ``path``: expressions resolved per invocation into one :class:`BlobPath`."""

    container: str
    name: str
    where: str
    """Which function and binding the path belongs to, for messages."""

    @classmethod
    def parse(cls, path: str, where: str) -> BlobPathTemplate:
        container, blob = _split(path, where)
        if blob is None:
            raise ConfigurationError(
                f"{where}: the path '{path}' names a container only; an input or output path is "
                "'<container>/<blob>', such as 'samples/{name}.txt'."
            )
        _check_template(container, where)  # a malformed template is reported when the app is indexed
        _check_template(blob, where)
        if not expressions.parameter_names(container):
            check_container_name(container, where)
        return cls(container, blob, where)

    def resolve(self, binding_data: Mapping[str, Any]) -> BlobPath:
        """The blob this invocation reads or writes; ConfigurationError if a value is missing or invalid."""
        try:
            container = expressions.resolve(self.container, binding_data)
            name = expressions.resolve(self.name, binding_data)
        except ConfigurationError as exc:
            raise ConfigurationError(f"{self.where}: {exc}") from exc
        check_container_name(container, self.where)
        check_blob_name(name, self.where)
        return BlobPath(container, name)


@dataclass(frozen=True)
class BlobPattern:
    """A blob trigger's ``path``: a literal container and a pattern over the names of its blobs."""

    container: str
    pattern: str | None
    """The blob part (``{name}.txt``); None when the trigger watches the whole container."""

    @classmethod
    def parse(cls, path: str, where: str) -> BlobPattern:
        container, blob = _split(path, where)
        if "{" in container.replace("{{", "") or "}" in container.replace("}}", ""):
            raise ConfigurationError(
                f"{where}: the path '{path}' has a binding expression in its container. Container paths "
                "cannot contain {resolve} tokens; name the container literally."
            )
        check_container_name(container, where)
        if blob is not None:
            _check_template(blob, where)
        return cls(container, blob)

    @property
    def prefix(self) -> str:
        """The literal start every matching blob name has (what listing the container can ask for)."""
        if self.pattern is None:
            return ""
        first = expressions.parse(self.pattern)[:1]
        return first[0].text if first and not first[0].is_parameter else ""

    def match(self, container: str, name: str) -> dict[str, str] | None:
        """The captures if ``container/name`` matches (``{}`` for a container-wide trigger), else None."""
        if container.lower() != self.container.lower():
            return None
        if self.pattern is None:
            return {}
        return expressions.captures(self.pattern, name)

    def __str__(self) -> str:
        return self.container if self.pattern is None else f"{self.container}/{self.pattern}"


def configured_path(function: FunctionInfo, binding: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """A blob binding's ``path`` with ``%Setting%`` resolved, and who it belongs to (for messages)."""
    where = f"Function '{function.name}', blob binding '{binding.get('name')}'"
    raw = binding.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise ConfigurationError(f"{where} has no path. Set path='<container>/<blob>' in its decorator.")
    return settings.resolve(raw.strip(), f"{where} path"), where


def binding_path(function: FunctionInfo, binding: dict[str, Any], settings: Settings) -> BlobPathTemplate:
    """A blob input's or output's ``path``, ``%Setting%`` resolved and checked."""
    return BlobPathTemplate.parse(*configured_path(function, binding, settings))
