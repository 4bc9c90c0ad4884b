"""The exceptions durable-ext raises.

Every error a user can cause says what happened and what to fix, naming the setting, function or id.
Storage errors are translated into these at the provider boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core.divergence import Divergence


class DurableExtError(Exception):
    """Root of every error raised by durable-ext."""


class ConfigurationError(DurableExtError):
    """A setting, host.json value or app layout is wrong; the message names it and the fix."""


class AppLoadError(DurableExtError):
    """The function app could not be imported or indexed."""


class InvalidRequestError(DurableExtError):
    """A client request is malformed; maps to HTTP 400 and names the bad parameter."""


class UnknownFunctionError(InvalidRequestError):
    """A start or signal names a function the app does not define."""


class InstanceNotFoundError(DurableExtError):
    """No instance with this id exists in the task hub."""

    def __init__(self, instance_id: str) -> None:
        super().__init__(f"No instance with ID '{instance_id}' exists in this task hub.")
        self.instance_id = instance_id


class InstanceAlreadyExistsError(DurableExtError):
    """A start named an instance id that is still pending or running."""

    def __init__(self, instance_id: str, status: str) -> None:
        super().__init__(
            f"An instance with ID '{instance_id}' already exists and is {status}. "
            "Wait for it to finish, terminate it, or start with a different instance ID."
        )
        self.instance_id = instance_id
        self.status = status


class StorageError(DurableExtError):
    """A storage operation failed for a reason that retrying will not fix."""


class TransientStorageError(StorageError):
    """A storage operation failed for a reason that may pass (connection refused, 5xx, timeout)."""


class ConcurrencyConflictError(StorageError):
    """Another writer changed the instance history first (sentinel ETag mismatch: split brain)."""


class NonDeterminismError(DurableExtError):
    """The orchestrator's actions do not match its recorded history; ``divergence`` says where and how."""

    def __init__(self, divergence: Divergence) -> None:
        super().__init__(divergence.describe())
        self.divergence = divergence


class ActivityFailedError(DurableExtError):
    """An activity raised; ``reason`` and ``details`` go into the ``TaskFailed`` event."""

    def __init__(
        self, reason: str, details: str | None = None, failure_details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details
        self.failure_details = failure_details
        """DurableTask's ``FailureDetails``, when the activity reported them (the gRPC protocol)."""


class InstanceStateError(DurableExtError):
    """An operation does not apply to an instance in its current state (terminate a finished instance,
    rewind one that did not fail); maps to HTTP 410. ``rule`` says which states it applies to."""

    def __init__(self, instance_id: str, status: str, rule: str) -> None:
        super().__init__(f"The instance '{instance_id}' is {status}: {rule}")
        self.instance_id = instance_id
        self.status = status


class UnknownEntityError(DurableExtError):
    """A signal names an entity that no function of the app defines; maps to HTTP 404."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"No entity function named '{name}' is defined in this app. Check the entity name; entity "
            "names are case-insensitive."
        )


class InvalidEntityIdError(InvalidRequestError):
    """An entity id that cannot be used: empty name or key, or a name with '@' or '/'."""
