"""The value of the ``durableClient`` binding: the JSON the SDK's ``DurableOrchestrationClient`` reads."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from .http_api import RPC_BASE, WEBHOOK_BASE
from .status_payload import management_links

INSTANCE_PLACEHOLDER = "INSTANCEID"


def client_binding_json(server_base_url: str, hub_name: str, connection_name: str | None) -> str:
    """``server_base_url`` is where this host serves HTTP, e.g. ``http://127.0.0.1:7071``."""
    query = {"taskHub": hub_name, "connection": connection_name or "Storage"}
    webhooks = f"{server_base_url}{WEBHOOK_BASE}"
    start = f"{webhooks}/orchestrators/{{functionName}}[/{{instanceId}}]"
    binding = {
        "taskHubName": hub_name,
        "creationUrls": {
            "createNewInstancePostUri": f"{start}?{urlencode(query)}",
            "createAndWaitOnNewInstancePostUri": (
                f"{start}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{urlencode(query)}"
            ),
        },
        "managementUrls": management_links(webhooks, INSTANCE_PLACEHOLDER, query),
        "baseUrl": webhooks,
        "requiredQueryStringParameters": "",
        "rpcBaseUrl": f"{server_base_url}{RPC_BASE}/",
        "connectionName": connection_name,
        "httpBaseUrl": None,
    }
    return json.dumps(binding)
