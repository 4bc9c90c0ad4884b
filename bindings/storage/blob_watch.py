"""Tells this process's blob triggers at once about a blob a blob output of this process has just written.

Listing a container finds every new blob, but only every ``scanInterval``; a blob written by a function of
the same process is announced instead, so the trigger watching its container looks at it right away, as
the Functions host's "blob written" watcher does. Blobs written elsewhere are found by the scan.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.storage.blob.aio import BlobServiceClient

from .blob_paths import BlobPath
from .watch import Watch, account_key

__all__ = ["PROCESS_BLOB_WATCH", "BlobWatch", "account_key"]

BlobWritten = Callable[[str], None]
"""Called with the name of a blob just written to the watched container."""


class BlobWatch(Watch):
    """The callbacks of the blob triggers of this process, by account and container."""

    def watch(self, blobs: BlobServiceClient, container: str, written: BlobWritten) -> Callable[[], None]:
        """Call ``written(name)`` whenever a blob of ``container`` is written; returns what undoes this."""
        return self.add(blobs, container, written)

    def notify(self, blobs: BlobServiceClient, path: BlobPath) -> None:
        """The blob at ``path`` of that account was just written."""
        self.announce(blobs, path.container, path.name)


PROCESS_BLOB_WATCH = BlobWatch()
"""The one watch of this process, shared by every blob output and blob trigger."""
