"""A worker process's name in the task hub: which machine, which process, and a random part (so a
restarted process with the same pid is another worker)."""

from __future__ import annotations

import os
import socket
import uuid


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
