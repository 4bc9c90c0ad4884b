"""The OpenAPI 3.1 description of the management API, served at ``.../durabletask/openapi.json``.

It describes the public base ``/runtime/webhooks/durabletask`` (the SDK's ``/durabletask`` aliases serve
the same handlers and are not listed), the monitor, and the host's ``/admin/host`` routes. A path item with
``x-trailing-slash: true`` is also served with a trailing ``/``. tests/e2e/test_openapi.py keeps the
document true: the same routes as the host serves, and each status a real call returns, with its body.
"""

from __future__ import annotations

import copy
import functools

from ..core.queries import InstanceOrder
from .http_common import WEBHOOK_BASE
from .openapi_components import (
    ANY_JSON,
    DATE_TIME,
    JSON_INPUT,
    LOCATION,
    NEXT_PAGE,
    PARAMETERS,
    RESPONSES,
    RETRY_AFTER,
    SCHEMAS,
    SENT,
    STARTED,
    STR,
    WAIT,
    Json,
    array_of,
    flag,
    host_op,
    json_content,
    ok,
    operation,
    param,
    ref,
    request_body,
    responses_with,
    text_schema,
)
from .openapi_jobs import JOB_SCHEMAS, job_paths
from .request_limits import (
    MAX_BODY_BYTES,
    MAX_ENTITY_ID_LENGTH,
    MAX_INSTANCE_ID_LOOKUP_LENGTH,
    MAX_JSON_DEPTH,
    MAX_NAME_LENGTH,
    MAX_NEW_INSTANCE_ID_LENGTH,
    MAX_PAGE_SIZE,
)

BASE = WEBHOOK_BASE

_DESCRIPTION = f"""\
The HTTP management API of durable-ext, the Durable Functions host for Python apps: the routes the Durable
Functions extension serves under `{BASE}`, plus durable-ext's own `poison`, `metrics`, `monitor` and
`openapi.json`, and the host's `/admin/host` routes.

The SDK's client reaches the same handlers under `/durabletask` and
`/durabletask/taskHubs/{{taskHub}}/connections/{{connection}}`; those private aliases are not listed.

**Keys.** A caller on the host's own machine needs no key. Every other caller passes a key as `?code=` or
in the `x-functions-key` header: the durable task key (the `code` of the management links) or the master
key for this API, the master key for the monitor and `/admin/host/status`.

**Errors.** A 4xx answer caused by the request has a JSON body with `Message` and `ExceptionMessage` (the
same text; the SDK reads `ExceptionMessage`) and `parameter`, the parameter at fault (`body` for the request
body); a broken limit also gives `limit`. A request refused with 4xx writes nothing to the task hub.

**Limits.** Request bodies of at most {MAX_BODY_BYTES} bytes (413 above), JSON nested at most
{MAX_JSON_DEPTH} deep, new instance ids of 1 to {MAX_NEW_INSTANCE_ID_LENGTH} characters (ids up to
{MAX_INSTANCE_ID_LOOKUP_LENGTH} characters address existing instances), function, event and operation
names of at most {MAX_NAME_LENGTH} characters, entity ids (`@name@key`) of at most {MAX_ENTITY_ID_LENGTH},
`top` from 1 to {MAX_PAGE_SIZE}.

**Storage.** A route that reads or writes the task hub answers 503 with `Retry-After` when storage does
not answer within the retry budget."""


def _start(operation_id: str, with_id: bool) -> Json:
    params = [ref("parameters", "functionName")]
    if with_id:
        params.append(ref("parameters", "newInstanceId"))
    params += [*WAIT, param("version", "query", STR, "The orchestration version to record.")]
    summary = "Start an orchestration" + (" with this instance id" if with_id else "")
    return operation(
        operation_id, summary, params, responses_with(STARTED, "400 409 413"), requestBody=JSON_INPUT
    )


def _instance_action(operation_id: str, summary: str) -> Json:
    params = [ref("parameters", "instanceId"), ref("parameters", "reason")]
    return {"post": operation(operation_id, summary, params, responses_with({"202": SENT}, "400 404 410"))}


def _entity_list(operation_id: str, named: bool) -> Json:
    params = [ref("parameters", "entityName")] if named else []
    params += [
        param("lastOperationTimeFrom", "query", DATE_TIME, "Last used at or after."),
        param("lastOperationTimeTo", "query", DATE_TIME, "Last used at or before."),
        flag("fetchState", "Include each entity's state.", False),
        flag("includeDeleted", "Include entities that were deleted (and have no state).", False),
        ref("parameters", "top"),
        ref("parameters", "continuationToken"),
    ]
    summary = "List entities" + (" of one entity function" if named else "")
    page = ok("One page of entities.", array_of("EntityListItem"), NEXT_PAGE)
    return {
        "get": operation(operation_id, summary, params, responses_with({"200": page}, "400")),
        "x-trailing-slash": True,
    }


def instance_filters() -> list[Json]:
    """The filters of ``GET /instances`` that ``GET /counts`` shares."""
    text = text_schema(MAX_INSTANCE_ID_LOOKUP_LENGTH)
    return [
        ref("parameters", "createdTimeFrom"),
        ref("parameters", "createdTimeTo"),
        ref("parameters", "runtimeStatus"),
        param("instanceIdPrefix", "query", text, "Ids starting with this."),
        param("name", "query", text, "Only instances of this orchestrator."),
        param(
            "customStatusContains",
            "query",
            text,
            "Only instances whose custom status (JSON text) contains this, ignoring case (durable-ext's "
            "own; on Azure Storage every row the other filters leave is read to test it).",
        ),
        param(
            "inputContains",
            "query",
            text,
            "Only instances whose input (JSON text) contains this, ignoring case (durable-ext's own; "
            "costs as customStatusContains).",
        ),
    ]


def _instance_paths() -> Json:
    instance = ref("parameters", "instanceId")
    status_params = [
        instance,
        flag("showHistory", "Include the history.", False),
        flag("showHistoryOutput", "Include the results of activities in the history.", False),
        flag("showInput", "Include the input.", True),
        flag("returnInternalServerErrorOnFailure", "Answer 500 when the instance failed.", False),
        flag("showPending", "Include work not completed yet (durable-ext's own).", False),
    ]
    status = ref("schemas", "OrchestrationStatus")
    list_params = [
        *instance_filters(),
        param(
            "order",
            "query",
            {"type": "string", "enum": [o.value for o in InstanceOrder], "default": "id"},
            "`id`: by instance id (the reference's order); `newest` or `oldest`: by created time "
            "(durable-ext's own). A continuation token continues the order it was issued in.",
        ),
        ref("parameters", "showInput"),
        ref("parameters", "top"),
        flag("includeEntities", "Include entity instances (`@name@key`) too (durable-ext's own).", False),
        ref("parameters", "continuationToken"),
    ]
    purge_params = [
        param(
            "createdTimeFrom",
            "query",
            DATE_TIME,
            "Created at or after (required: a purge names its time range).",
            required=True,
        ),
        ref("parameters", "createdTimeTo"),
        ref("parameters", "runtimeStatus"),
    ]
    running = {"Location": LOCATION, "Retry-After": RETRY_AFTER}
    purged = ok("How many were purged.", ref("schemas", "PurgeResult"))
    restart_params = [
        instance,
        flag("restartWithNewInstanceId", "Run it under a new instance id.", True),
        *WAIT,
    ]
    return {
        f"{BASE}/orchestrators/{{functionName}}": {"post": _start("startOrchestration", False)},
        f"{BASE}/orchestrators/{{functionName}}/{{instanceId}}": {
            "post": _start("startOrchestrationWithId", True)
        },
        f"{BASE}/instances": {
            "get": operation(
                "listInstances",
                "List instances (one page)",
                list_params,
                responses_with(
                    {"200": ok("One page of instances.", array_of("OrchestrationStatus"), NEXT_PAGE)}, "400"
                ),
            ),
            "delete": operation(
                "purgeInstances",
                "Purge the finished instances created in a time range",
                purge_params,
                responses_with({"200": purged}, "400 404"),
            ),
            "x-trailing-slash": True,
        },
        f"{BASE}/instances/{{instanceId}}": {
            "get": operation(
                "getInstanceStatus",
                "The status of one instance",
                status_params,
                responses_with(
                    {
                        "200": ok("The instance finished.", status),
                        "202": ok("The instance is pending, running or suspended.", status, running),
                        "500": ok("The instance failed and returnInternalServerErrorOnFailure=true.", status),
                    },
                    "400 404",
                ),
            ),
            "delete": operation(
                "purgeInstance",
                "Purge one instance's history and status",
                [instance],
                responses_with({"200": purged}, "400 404"),
            ),
        },
        f"{BASE}/instances/{{instanceId}}/raiseEvent/{{eventName}}": {
            "post": operation(
                "raiseEvent",
                "Send an event to an instance",
                [instance, ref("parameters", "eventName")],
                responses_with({"202": SENT}, "400 404 410 413"),
                requestBody={**JSON_INPUT, "description": "The event data: JSON, sent as application/json."},
            )
        },
        f"{BASE}/instances/{{instanceId}}/terminate": _instance_action(
            "terminateInstance", "Terminate an instance"
        ),
        f"{BASE}/instances/{{instanceId}}/suspend": _instance_action(
            "suspendInstance", "Suspend an instance"
        ),
        f"{BASE}/instances/{{instanceId}}/resume": _instance_action(
            "resumeInstance", "Resume a suspended instance"
        ),
        f"{BASE}/instances/{{instanceId}}/rewind": _instance_action(
            "rewindInstance", "Run a failed instance again from its failures"
        ),
        f"{BASE}/instances/{{instanceId}}/restart": {
            "post": operation(
                "restartInstance",
                "Start an instance's orchestrator again with its original input",
                restart_params,
                responses_with(STARTED, "400 404 409"),
            )
        },
    }


def _entity_paths() -> Json:
    entity = [ref("parameters", "entityName"), ref("parameters", "entityKey")]
    signal_params = [
        *entity,
        param("op", "query", text_schema(MAX_NAME_LENGTH), "The operation.", required=True),
        param("scheduledTime", "query", DATE_TIME, "Run the operation at this time (durable-ext's own)."),
    ]
    signal_body = request_body(
        "The operation's input: JSON with application/json, else the text as a string.",
        {**json_content(ANY_JSON), "text/plain": {"schema": STR}},
    )
    signalled = responses_with({"202": SENT}, "400 404 413")
    state = ok("The state.", ANY_JSON)
    return {
        f"{BASE}/entities": _entity_list("listEntities", False),
        f"{BASE}/entities/{{entityName}}": _entity_list("listEntitiesByName", True),
        f"{BASE}/entities/{{entityName}}/{{entityKey}}": {
            "post": operation(
                "signalEntity",
                "Signal an operation to an entity",
                signal_params,
                signalled,
                requestBody=signal_body,
            ),
            "delete": operation("deleteEntity", "Signal an entity to delete its state", entity, signalled),
            "get": operation(
                "readEntity", "An entity's state", entity, responses_with({"200": state}, "400 404")
            ),
        },
    }


def _host_paths() -> Json:
    poison = param("instanceId", "query", text_schema(MAX_INSTANCE_ID_LOOKUP_LENGTH), "Only this instance's.")
    return {
        f"{BASE}/poison": {
            "get": operation(
                "listPoisonMessages",
                "Messages moved aside as poison, newest first (durable-ext's own)",
                [poison],
                responses_with({"200": ok("The poison messages.", array_of("PoisonMessage"))}, "400"),
            )
        },
        f"{BASE}/counts": {
            "get": operation(
                "countInstances",
                "How many instances match, per runtime status, and in all (durable-ext's own)",
                instance_filters(),
                responses_with({"200": ok("The counts.", ref("schemas", "InstanceCounts"))}, "400"),
            )
        },
        f"{BASE}/histogram": {
            "get": operation(
                "instanceHistogram",
                "How many instances were created in each span of the filters' time range (durable-ext's own)",
                [
                    param(
                        "buckets",
                        "query",
                        {"type": "integer", "minimum": 1, "maximum": 200, "default": 24},
                        "How many equal spans.",
                    ),
                    *instance_filters(),
                ],
                responses_with(
                    {"200": ok("The counts per span.", ref("schemas", "InstanceHistogram"))}, "400"
                ),
            )
        },
        f"{BASE}/metrics": {
            "get": host_op(
                "getMetrics",
                "This process's storage operations and history cache (durable-ext's own)",
                ok("The counts.", ref("schemas", "Metrics")),
            )
        },
        f"{BASE}/functions": {
            "get": host_op(
                "listFunctions",
                "The app's orchestrators, activities and entities (durable-ext's own)",
                ok("The functions by kind.", ref("schemas", "Functions")),
            )
        },
        f"{BASE}/openapi.json": {
            "get": host_op(
                "getOpenApiDocument",
                "This document",
                ok("The OpenAPI 3.1 document.", ref("schemas", "OpenApiDocument")),
            )
        },
        f"{BASE}/monitor": {
            "get": host_op(
                "getMonitor",
                "The monitor: a page showing the task hub's instances (master key off this machine)",
                {"description": "The page.", "content": {"text/html": {"schema": STR}}},
            ),
            "x-trailing-slash": True,
        },
        "/admin/host/ping": {"get": _ping("pingHost"), "post": _ping("pingHostPost")},
        "/admin/host/status": {
            "get": host_op(
                "getHostStatus",
                "The host's state, version, task hub and storage reachability (master key off this machine)",
                ok("The status.", ref("schemas", "HostStatus")),
            )
        },
    }


def _ping(operation_id: str) -> Json:
    return operation(
        operation_id,
        "Whether the host answers; open to every caller, as on the Functions host",
        [],
        {"200": ok("The host answers (empty body).")},
        hub=False,
        security=[{}],
    )


@functools.cache
def _document() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {"title": "durable-ext management API", "version": "1", "description": _DESCRIPTION},
        "paths": {
            **_instance_paths(),
            **_entity_paths(),
            **job_paths(BASE, instance_filters()),
            **_host_paths(),
        },
        "components": {
            "schemas": SCHEMAS | JOB_SCHEMAS,
            "parameters": PARAMETERS,
            "responses": RESPONSES,
            "securitySchemes": {
                "code": {"type": "apiKey", "in": "query", "name": "code"},
                "functionsKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
            },
        },
        # a caller on this machine needs no key ({}), any other passes one of the two
        "security": [{}, {"code": []}, {"functionsKey": []}],
    }


def openapi_document(server_url: str | None = None) -> Json:
    """The document (a fresh copy), with ``server_url`` as its server when given."""
    document = copy.deepcopy(_document())
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document
