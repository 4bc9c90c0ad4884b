"""Tells this process's blob triggers at once about a blob a blob output of this process has just written.

Listing a container finds every new blob, but only every ``scanInterval``; a blob written by a function of
the same process is announced instead, so the trigger watching its container looks at it right away, as
the Functions host's "blob written" watcher does. Blobs written elsewhere are found by the scan.
"""

from __future__ import annotations

from collections.abc import Callable

from azure.storage.blob.aio import BlobServiceClient

from .blob_paths import BlobPath

BlobWritten = Callable[[str], None]
"""Called with the name of a blob just written to the watched container."""


def account_key(blobs: BlobServiceClient) -> str:
    """What identifies one storage account's blob service: its endpoint, without credentials."""
    return str(blobs.primary_endpoint).split("?", 1)[0].rstrip("/").lower()


class BlobWatch:
    """The callbacks of the blob triggers of this process, by account and container."""

    def __init__(self) -> None:
        self._watchers: dict[tuple[str, str], list[BlobWritten]] = {}

    def watch(self, blobs: BlobServiceClient, container: str, written: BlobWritten) -> Callable[[], None]:
        """Call ``written(name)`` whenever a blob of ``container`` is written; returns what undoes this."""
        key = (account_key(blobs), container.lower())
        self._watchers.setdefault(key, []).append(written)

        def unwatch() -> None:
            callbacks = self._watchers.get(key, [])
            if written in callbacks:
                callbacks.remove(written)
            if not callbacks:
                self._watchers.pop(key, None)

        return unwatch

    def notify(self, blobs: BlobServiceClient, path: BlobPath) -> None:
        """The blob at ``path`` of that account was just written."""
        for written in list(self._watchers.get((account_key(blobs), path.container.lower()), ())):
            written(path.name)


PROCESS_BLOB_WATCH = BlobWatch()
"""The one watch of this process, shared by every blob output and blob trigger."""
