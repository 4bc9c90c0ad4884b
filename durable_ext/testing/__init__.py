"""Testing durable apps: :class:`DurableTestHost` and the ``durable`` pytest fixture (see ``plugin``),
mocks of activities and sub-orchestrators, durable time under the test's control, and :func:`replay`
of recorded histories against the current code."""

from .host import DurableTestHost, InstanceStatus
from .mocks import Mock, UnknownFunctionError

# Not imported lazily: the function shares its name with its module, and once anything imports
# ``durable_ext.testing.replay`` the module would stand where the function is expected. It costs nothing
# extra, as the test host already imports everything it needs.
from .replay import ReplayResult, replay

__all__ = ["DurableTestHost", "InstanceStatus", "Mock", "ReplayResult", "UnknownFunctionError", "replay"]
