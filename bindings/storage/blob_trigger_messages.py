"""The blob trigger's queue messages: which function should run for which blob version.

The scanner puts one on the host queue ``azure-webjobs-blobtrigger-{hostId}`` (host account) for each new
blob version and function, and every worker of the app listens to that queue, so the work is shared and
a failure is retried. After ``poisonBlobThreshold`` failed attempts the same message goes to
``webjobs-blobtrigger-poison`` in the blob's account. The JSON is the Functions host's:
``{"Type":"BlobTrigger","FunctionId":"Host.Functions.<fn>","BlobType":"BlockBlob","ContainerName":…,
"BlobName":…,"ETag":"\\"0x…\\""}``, Base64-encoded on the queue as the host's queues are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .blob_paths import BlobPath

POISON_QUEUE = "webjobs-blobtrigger-poison"
MESSAGE_TYPE = "BlobTrigger"


def host_queue_name(host_id: str) -> str:
    """The queue of one app's blob trigger messages."""
    return f"azure-webjobs-blobtrigger-{host_id}"


@dataclass(frozen=True)
class BlobTriggerMessage:
    function_id: str
    blob_type: str
    container: str
    blob_name: str
    etag: str

    @property
    def path(self) -> BlobPath:
        return BlobPath(self.container, self.blob_name)

    def to_json(self) -> str:
        return json.dumps(
            {
                "Type": MESSAGE_TYPE,
                "FunctionId": self.function_id,
                "BlobType": self.blob_type,
                "ContainerName": self.container,
                "BlobName": self.blob_name,
                "ETag": self.etag,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, body: bytes) -> BlobTriggerMessage:
        """The message in ``body``; ValueError if it is not a blob trigger message."""
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"the message is not JSON ({exc})") from exc
        if not isinstance(data, dict) or data.get("Type") != MESSAGE_TYPE:
            raise ValueError("the message is not a blob trigger message (its Type is not 'BlobTrigger')")
        try:
            return cls(
                str(data["FunctionId"]),
                str(data.get("BlobType") or "BlockBlob"),
                str(data["ContainerName"]),
                str(data["BlobName"]),
                str(data["ETag"]),
            )
        except KeyError as exc:
            raise ValueError(f"the blob trigger message has no {exc.args[0]}") from exc
