"""A durabletask worker process for the sidecar: ``python -m tests.e2e.durabletask_app <host:port>``."""

from __future__ import annotations

import sys
import threading

from durabletask import worker

from .functions import register

if __name__ == "__main__":
    w = register(worker.TaskHubGrpcWorker(host_address=sys.argv[1]))
    w.start()
    threading.Event().wait()  # until killed
