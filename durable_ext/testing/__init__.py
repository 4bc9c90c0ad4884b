"""Testing durable apps: :class:`DurableTestHost` and the ``durable`` pytest fixture (see ``plugin``)."""

from .host import DurableTestHost, InstanceStatus

__all__ = ["DurableTestHost", "InstanceStatus"]
