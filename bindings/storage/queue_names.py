"""Storage queue names as the queue bindings take them: lower-cased, then checked against the service's rules.

A name must be 3 to 63 characters of lower-case letters, digits and ``-``, neither starting nor ending
with ``-`` and with no ``--``. A failed check names the function, the binding and what to change, since a
queue with such a name could never be created.
"""

from __future__ import annotations

import re

from durable_ext.errors import ConfigurationError

MIN_QUEUE_NAME_LENGTH = 3
MAX_QUEUE_NAME_LENGTH = 63
POISON_SUFFIX = "-poison"

_ALLOWED = re.compile(r"^[a-z0-9-]*$")


def queue_name_problem(name: str) -> str | None:
    """Why ``name`` (already lower-cased) is not a valid queue name; None if it is."""
    if not MIN_QUEUE_NAME_LENGTH <= len(name) <= MAX_QUEUE_NAME_LENGTH:
        return (
            f"a queue name must be from {MIN_QUEUE_NAME_LENGTH} to {MAX_QUEUE_NAME_LENGTH} characters "
            f'long - "{name}" has {len(name)}'
        )
    if not _ALLOWED.match(name):
        return f'a queue name may contain only letters, digits and dashes - "{name}"'
    if name.startswith("-") or name.endswith("-"):
        return f'a queue name must start and end with a letter or a digit - "{name}"'
    if "--" in name:
        return f'a queue name must not contain consecutive dashes - "{name}"'
    return None


def normalize_queue_name(name: str, *, function_name: str, binding_name: str) -> str:
    """``name`` lower-cased; ConfigurationError naming the function and binding if it is not valid."""
    lowered = name.lower()
    problem = queue_name_problem(lowered)
    if problem is not None:
        raise ConfigurationError(
            f"Function '{function_name}', binding '{binding_name}': {problem}. Change queueName (or the app "
            "setting it names) to 3-63 lower-case letters, digits and single dashes, starting and ending "
            "with a letter or digit."
        )
    return lowered


def poison_queue_name(queue_name: str) -> str | None:
    """``<queue>-poison``; None when the queue is a poison queue itself or the name would be too long."""
    if queue_name.endswith(POISON_SUFFIX):
        return None
    poison = queue_name + POISON_SUFFIX
    return poison if queue_name_problem(poison) is None else None
