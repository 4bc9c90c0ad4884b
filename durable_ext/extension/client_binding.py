"""The value of the ``durableClient`` binding: the JSON the SDK's ``DurableOrchestrationClient`` reads."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from ..sidecar.server import MAX_MESSAGE_BYTES
from .http_api import NO_CONNECTION, RPC_BASE, SCOPED_RPC_BASE, WEBHOOK_BASE
from .http_common import link_query
from .status_payload import management_links

INSTANCE_PLACEHOLDER = "INSTANCEID"


def client_binding_json(
    server_base_url: str,
    hub_name: str,
    connection_name: str | None,
    *,
    default_hub: bool = True,
    system_key: str | None = None,
    grpc_address: str | None = None,
) -> str:
    """``server_base_url`` is where this host serves HTTP, e.g. ``http://127.0.0.1:7071``.

    For another hub than the app's own (``default_hub`` false), the RPC base URL names the hub and the
    connection in its path, so every call of the SDK client goes to that hub.

    ``grpc_address`` (``host:port``) is for the 2.x SDK's client, which calls the gRPC protocol there
    (naming the hub in its metadata) and builds its management links from ``httpBaseUrl``.
    """
    rpc_base = RPC_BASE
    if not default_hub or connection_name:
        rpc_base = SCOPED_RPC_BASE.format(
            taskHub=quote(hub_name, safe=""), connection=quote(connection_name or NO_CONNECTION, safe="")
        )
    query = link_query(hub_name, connection_name, system_key)
    webhooks = f"{server_base_url}{WEBHOOK_BASE}"
    start = f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
    binding: dict[str, object] = {
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{urlencode(query)}",
            "createAndWaitOnNewInstancePostUri": (
                f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{urlencode(query)}"
            ),
        },
        "managementUrls": management_links(webhooks, INSTANCE_PLACEHOLDER, query),
        "baseUrl": webhooks,
        "requiredQueryStringParameters": urlencode({"code": system_key}) if system_key else "",
        "rpcBaseUrl": f"{server_base_url}{rpc_base}/",
        "connectionName": connection_name,
        "httpBaseUrl": None,
    }
    if grpc_address is not None:
        binding.update(
            rpcBaseUrl=grpc_address, httpBaseUrl=webhooks, maxGrpcMessageSizeInBytes=MAX_MESSAGE_BYTES
        )
    return json.dumps(binding)
