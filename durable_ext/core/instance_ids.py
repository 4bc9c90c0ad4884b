"""What an orchestration instance id may be: the rules Durable Functions documents, on every provider."""

from __future__ import annotations

import re

from ..errors import InvalidRequestError

MAX_INSTANCE_ID_LENGTH = 100
_FORBIDDEN_ID_CHARS = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")


def validate_instance_id(instance_id: str) -> None:
    """Reject ids that Durable Functions documents as invalid, saying which rule was broken."""
    if not instance_id:
        raise InvalidRequestError("The instance ID must not be empty.")
    if len(instance_id) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidRequestError(
            f"The instance ID '{instance_id[:20]}...' is {len(instance_id)} characters long; "
            f"the limit is {MAX_INSTANCE_ID_LENGTH}."
        )
    if instance_id.startswith("@"):
        raise InvalidRequestError(
            f"The instance ID '{instance_id}' starts with '@', which is reserved for entity IDs."
        )
    bad = _FORBIDDEN_ID_CHARS.search(instance_id)
    if bad:
        raise InvalidRequestError(
            f"The instance ID '{instance_id}' contains the character {bad.group()!r}; instance IDs must not "
            "contain '/', '\\', '#', '?' or control characters."
        )
