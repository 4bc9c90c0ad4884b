"""The OpenAPI 3.1 description of the management API, served at ``.../durabletask/openapi.json``.

It describes the public base ``/runtime/webhooks/durabletask`` (the SDK's ``/durabletask`` aliases serve
the same handlers and are not listed), the monitor, and the host's ``/admin/host`` routes. A path item with
``x-trailing-slash: true`` is also served with a trailing ``/``. tests/e2e/test_openapi.py keeps the
document true: the same routes as the host serves, and each status a real call returns, with its body.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from ..core.health import FAULT_KINDS
from ..core.history import OrchestrationStatus
from .http_common import WEBHOOK_BASE
from .request_limits import (
    CONTINUATION_HEADER,
    MAX_BODY_BYTES,
    MAX_ENTITY_ID_LENGTH,
    MAX_INSTANCE_ID_LOOKUP_LENGTH,
    MAX_JSON_DEPTH,
    MAX_NAME_LENGTH,
    MAX_NEW_INSTANCE_ID_LENGTH,
    MAX_PAGE_SIZE,
)
from .status_payload import MANAGEMENT_LINK_NAMES

Json = dict[str, Any]

BASE = WEBHOOK_BASE
ANY_JSON: Json = {"description": "Any JSON value."}
_NULLABLE_TIME: Json = {"type": ["string", "null"], "format": "date-time"}
_DATE_TIME: Json = {"type": "string", "format": "date-time"}

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


# ---- schemas ----------------------------------------------------------------------------------
def _ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def _object(properties: Json, required: list[str] | None = None) -> Json:
    schema: Json = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


_STR: Json = {"type": "string"}
_LINK_NAMES = list(MANAGEMENT_LINK_NAMES)
_STORAGE_KINDS = list(FAULT_KINDS)

SCHEMAS: Json = {
    "Error": _object(
        {
            "Message": {**_STR, "description": "What is wrong and what to do."},
            "ExceptionMessage": {**_STR, "description": "The same text (the SDK's client reads this one)."},
            "parameter": {
                **_STR,
                "description": "The parameter at fault: a path or query parameter, a header, or `body`.",
            },
            "limit": {"type": "integer", "description": "The limit the parameter broke."},
        },
        ["Message", "ExceptionMessage", "parameter"],
    ),
    "KeyRefused": _object(
        {"error": {**_STR, "description": "Which key the route needs and how to pass it."}}, ["error"]
    ),
    "StorageUnavailable": _object(
        {
            "Message": _STR,
            "ExceptionMessage": _STR,
            "storage": _object(
                {
                    "endpoint": _STR,
                    "setting": {**_STR, "description": "The app setting the endpoint came from."},
                    "reachable": {"const": False},
                    "lastError": _STR,
                    "kind": {"enum": _STORAGE_KINDS},
                },
                ["endpoint", "setting", "reachable", "lastError", "kind"],
            ),
        },
        ["Message", "ExceptionMessage", "storage"],
    ),
    "RuntimeStatus": {"enum": [status.name for status in OrchestrationStatus]},
    "HistoryEvent": {
        "type": "object",
        "required": ["EventType", "Timestamp"],
        "properties": {"EventType": _STR, "Timestamp": _DATE_TIME},
        "description": "One event of the history, as the Durable Functions extension shapes it.",
    },
    "OrchestrationStatus": _object(
        {
            "name": {"type": ["string", "null"]},
            "instanceId": _STR,
            "runtimeStatus": _ref("schemas", "RuntimeStatus"),
            "input": {**ANY_JSON, "description": "The input (null with showInput=false)."},
            "customStatus": ANY_JSON,
            "output": ANY_JSON,
            "createdTime": _NULLABLE_TIME,
            "lastUpdatedTime": _NULLABLE_TIME,
            "historyEvents": {
                "type": "array",
                "items": _ref("schemas", "HistoryEvent"),
                "description": "With showHistory=true only.",
            },
        },
        [
            "name",
            "instanceId",
            "runtimeStatus",
            "input",
            "customStatus",
            "output",
            "createdTime",
            "lastUpdatedTime",
        ],
    ),
    "ManagementLinks": _object(
        {"id": _STR, **{name: {**_STR, "format": "uri"} for name in _LINK_NAMES}},
        ["id", *_LINK_NAMES],
    ),
    "PurgeResult": _object({"instancesDeleted": {"type": "integer", "minimum": 1}}, ["instancesDeleted"]),
    "PoisonMessage": _object(
        {
            "instanceId": {"type": ["string", "null"]},
            "queue": _STR,
            "messageId": _STR,
            "reason": _STR,
            "dequeueCount": {"type": "integer"},
            "movedOn": _NULLABLE_TIME,
            "body": {"type": ["string", "null"]},
        },
        ["instanceId", "queue", "messageId", "reason", "dequeueCount", "movedOn", "body"],
    ),
    "Metrics": _object(
        {
            "storageOperations": {"type": "object", "additionalProperties": {"type": "integer"}},
            "storageOperationsTotal": {"type": "integer"},
            "historyCache": _object(
                {"entries": {"type": "integer"}, "hits": {"type": "integer"}, "misses": {"type": "integer"}},
                ["entries", "hits", "misses"],
            ),
            "messagesHandedOverLocally": {"type": "integer"},
            "ownedControlQueues": {"type": "array", "items": _STR},
        },
        ["storageOperations", "storageOperationsTotal", "historyCache"],
    ),
    "EntityListItem": _object(
        {
            "entityId": _object({"key": _STR, "name": _STR}, ["key", "name"]),
            "lastOperationTime": _NULLABLE_TIME,
            "state": {**ANY_JSON, "description": "With fetchState=true only."},
        },
        ["entityId", "lastOperationTime"],
    ),
    "HostStatus": _object(
        {
            "id": _STR,
            "state": {"enum": ["Running", "Initialized", "Error", "Offline", "Default"]},
            "version": _STR,
            "versionDetails": _STR,
            "processUptime": {"type": "integer", "description": "Milliseconds since the host started."},
            "errors": {"type": "array", "items": _STR, "description": "Only when state is Error."},
            "durableTask": _object(
                {
                    "hubName": _STR,
                    "workerStarted": {"type": "boolean"},
                    "ownedPartitions": {"type": "array", "items": _STR},
                    "storage": _object(
                        {
                            "endpoint": _STR,
                            "setting": _STR,
                            "reachable": {"type": ["boolean", "null"]},
                            "lastError": {"type": ["string", "null"]},
                            "kind": {"type": ["string", "null"]},
                            "lastSuccess": _NULLABLE_TIME,
                        },
                        ["endpoint", "setting", "reachable", "lastError", "kind", "lastSuccess"],
                    ),
                },
                ["hubName", "workerStarted", "ownedPartitions", "storage"],
            ),
        },
        ["id", "state", "version", "versionDetails", "processUptime", "durableTask"],
    ),
    "OpenApiDocument": _object({"openapi": {"const": "3.1.0"}}, ["openapi", "info", "paths"]),
}


# ---- parameters -------------------------------------------------------------------------------
def _param(name: str, where: str, schema: Json, description: str, *, required: bool = False) -> Json:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


def _flag(name: str, description: str, default: bool) -> Json:
    return _param(name, "query", {"type": "boolean", "default": default}, description)


def _text(max_length: int) -> Json:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


_SECONDS: Json = {"type": "number", "minimum": 0}

PARAMETERS: Json = {
    "taskHub": _param(
        "taskHub",
        "query",
        {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]{2,44}$"},
        "The task hub to address; the app's own hub when absent.",
    ),
    "connection": _param(
        "connection",
        "query",
        {"type": "string", "minLength": 1},
        "The app setting that holds the task hub's storage connection (`Storage` is AzureWebJobsStorage).",
    ),
    "instanceId": _param(
        "instanceId", "path", _text(MAX_INSTANCE_ID_LOOKUP_LENGTH), "The id of an existing instance."
    ),
    "newInstanceId": _param(
        "instanceId",
        "path",
        {
            **_text(MAX_NEW_INSTANCE_ID_LENGTH),
            "pattern": "^[^@/\\\\#?\\u0000-\\u001f\\u007f-\\u009f][^/\\\\#?\\u0000-\\u001f\\u007f-\\u009f]*$",
        },
        "The id of the new instance: not starting with `@`, without `/ \\ # ?` or control characters.",
    ),
    "functionName": _param(
        "functionName", "path", _text(MAX_NAME_LENGTH), "The orchestrator function to start."
    ),
    "eventName": _param("eventName", "path", _text(MAX_NAME_LENGTH), "The name of the event."),
    "entityName": _param(
        "entityName",
        "path",
        {**_text(MAX_ENTITY_ID_LENGTH - 3), "pattern": "^[^@/]+$"},
        "The entity function's name (case-insensitive), without `@` or `/`.",
    ),
    "entityKey": _param(
        "entityKey",
        "path",
        {"type": "string", "minLength": 1, "pattern": "^[^/\\\\#?\\u0000-\\u001f\\u007f-\\u009f]+$"},
        f"The entity key, without `/ \\ # ?` or control characters; `@name@key` has at most "
        f"{MAX_ENTITY_ID_LENGTH} characters.",
    ),
    "reason": _param("reason", "query", _STR, "Why; recorded with the instance."),
    "timeout": _param(
        "timeout", "query", _SECONDS, "Wait up to this many seconds for the instance to finish."
    ),
    "pollingInterval": _param(
        "pollingInterval", "query", _SECONDS, "Seconds between checks while waiting (default 1)."
    ),
    "top": _param(
        "top",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 100},
        "The most items in one page.",
    ),
    "continuationToken": _param(
        CONTINUATION_HEADER,
        "header",
        {"type": "string", "minLength": 1},
        f"The `{CONTINUATION_HEADER}` header of the previous page, to read the next one.",
    ),
    "createdTimeFrom": _param("createdTimeFrom", "query", _DATE_TIME, "Created at or after."),
    "createdTimeTo": _param("createdTimeTo", "query", _DATE_TIME, "Created at or before."),
    "runtimeStatus": {
        **_param(
            "runtimeStatus",
            "query",
            {"type": "array", "items": _ref("schemas", "RuntimeStatus")},
            "Only instances in these states (comma-separated, case-insensitive).",
        ),
        "style": "form",
        "explode": False,
    },
    "showInput": _flag("showInput", "Include each instance's input.", True),
}

_HUB = [_ref("parameters", "taskHub"), _ref("parameters", "connection")]


# ---- responses --------------------------------------------------------------------------------
def _json(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> Json:
    return {"description": description, "content": _json(_ref("schemas", "Error"))}


_RETRY_AFTER: Json = {
    "description": "Seconds to wait before asking again.",
    "required": True,
    "schema": {"type": "integer"},
}
_LOCATION: Json = {
    "description": "The URL to poll for the instance's status.",
    "required": True,
    "schema": _STR,
}
_NEXT_PAGE: Json = {
    CONTINUATION_HEADER: {"description": "Present when more pages follow.", "schema": _STR},
}

RESPONSES: Json = {
    "BadRequest": _error("A parameter is malformed or breaks a limit; `parameter` names it."),
    "NotFound": _error("No such instance (or entity, or function); `parameter` names what was looked up."),
    "Conflict": _error("An instance with this id is still pending or running."),
    "Gone": _error("The instance is not in a state this operation applies to."),
    "TooLarge": _error(f"The request body is larger than {MAX_BODY_BYTES} bytes."),
    "Unauthorized": {
        "description": "A caller from another machine without the key this route needs.",
        "content": _json(_ref("schemas", "KeyRefused")),
    },
    "StorageUnavailable": {
        "description": "Storage did not answer in the retry budget: its endpoint, setting and last error.",
        "headers": {"Retry-After": _RETRY_AFTER},
        "content": _json(_ref("schemas", "StorageUnavailable")),
    },
    "Accepted": {
        "description": "Started: the management links of the instance.",
        "headers": {"Location": _LOCATION, "Retry-After": _RETRY_AFTER},
        "content": _json(_ref("schemas", "ManagementLinks")),
    },
    "Sent": {"description": "Accepted: the message is on its way to the instance (empty body)."},
    "Finished": {
        "description": (
            "With `timeout`: the instance finished in time. Its output when it completed, its status "
            "payload when it was terminated."
        ),
        "content": _json(ANY_JSON),
    },
    "FailedWhileWaiting": {
        "description": "With `timeout`: the instance failed in time; its status payload.",
        "content": _json(_ref("schemas", "OrchestrationStatus")),
    },
}


_ERRORS = {"400": "BadRequest", "404": "NotFound", "409": "Conflict", "410": "Gone", "413": "TooLarge"}


def _responses(codes: Json, errors: str = "", *, storage: bool = True) -> Json:
    """``codes``, the ``errors`` named by status (``"400 404"``), and what every route can answer: 401,
    and 503 for a route that reads storage."""
    common: Json = {code: _ref("responses", _ERRORS[code]) for code in errors.split()}
    common["401"] = _ref("responses", "Unauthorized")
    if storage:
        common["503"] = _ref("responses", "StorageUnavailable")
    return dict(sorted({**codes, **common}.items()))


def _ok(description: str, schema: Json | None = None, headers: Json | None = None) -> Json:
    response: Json = {"description": description}
    if headers:
        response["headers"] = headers
    if schema is not None:
        response["content"] = _json(schema)
    return response


def _array(name: str) -> Json:
    return {"type": "array", "items": _ref("schemas", name)}


def _op(operation_id: str, summary: str, parameters: list[Json], responses: Json, **extra: Any) -> Json:
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [*parameters, *_HUB] if extra.pop("hub", True) else parameters,
        "responses": responses,
        **extra,
    }


def _host_op(operation_id: str, summary: str, response: Json) -> Json:
    """A route that reads no task hub: no hub parameters, no 503."""
    return _op(operation_id, summary, [], _responses({"200": response}, storage=False), hub=False)


def _body(description: str, content: Json) -> Json:
    return {"description": description, "required": False, "content": content}


_JSON_INPUT = _body(
    f"Any JSON value (at most {MAX_BODY_BYTES} bytes, nested at most {MAX_JSON_DEPTH} deep).",
    _json(ANY_JSON),
)
_WAIT = [_ref("parameters", "timeout"), _ref("parameters", "pollingInterval")]
_STARTED = {
    "202": _ref("responses", "Accepted"),
    "200": _ref("responses", "Finished"),
    "500": _ref("responses", "FailedWhileWaiting"),
}
_SENT = _ref("responses", "Sent")


def _start(operation_id: str, with_id: bool) -> Json:
    params = [_ref("parameters", "functionName")]
    if with_id:
        params.append(_ref("parameters", "newInstanceId"))
    params += [*_WAIT, _param("version", "query", _STR, "The orchestration version to record.")]
    summary = "Start an orchestration" + (" with this instance id" if with_id else "")
    return _op(operation_id, summary, params, _responses(_STARTED, "400 409 413"), requestBody=_JSON_INPUT)


def _instance_action(operation_id: str, summary: str) -> Json:
    params = [_ref("parameters", "instanceId"), _ref("parameters", "reason")]
    return {"post": _op(operation_id, summary, params, _responses({"202": _SENT}, "400 404 410"))}


def _entity_list(operation_id: str, named: bool) -> Json:
    params = [_ref("parameters", "entityName")] if named else []
    params += [
        _param("lastOperationTimeFrom", "query", _DATE_TIME, "Last used at or after."),
        _param("lastOperationTimeTo", "query", _DATE_TIME, "Last used at or before."),
        _flag("fetchState", "Include each entity's state.", False),
        _flag("includeDeleted", "Include entities that were deleted (and have no state).", False),
        _ref("parameters", "top"),
        _ref("parameters", "continuationToken"),
    ]
    summary = "List entities" + (" of one entity function" if named else "")
    page = _ok("One page of entities.", _array("EntityListItem"), _NEXT_PAGE)
    return {
        "get": _op(operation_id, summary, params, _responses({"200": page}, "400")),
        "x-trailing-slash": True,
    }


def _instance_paths() -> Json:
    instance = _ref("parameters", "instanceId")
    status_params = [
        instance,
        _flag("showHistory", "Include the history.", False),
        _flag("showHistoryOutput", "Include the results of activities in the history.", False),
        _flag("showInput", "Include the input.", True),
        _flag("returnInternalServerErrorOnFailure", "Answer 500 when the instance failed.", False),
        _flag("showPending", "Include work not completed yet (durable-ext's own).", False),
    ]
    status = _ref("schemas", "OrchestrationStatus")
    list_params = [
        _ref("parameters", "createdTimeFrom"),
        _ref("parameters", "createdTimeTo"),
        _ref("parameters", "runtimeStatus"),
        _param("instanceIdPrefix", "query", _text(MAX_INSTANCE_ID_LOOKUP_LENGTH), "Ids starting with this."),
        _param("name", "query", _text(MAX_INSTANCE_ID_LOOKUP_LENGTH), "Only instances of this orchestrator."),
        _ref("parameters", "showInput"),
        _ref("parameters", "top"),
        _flag("includeEntities", "Include entity instances (`@name@key`) too (durable-ext's own).", False),
        _ref("parameters", "continuationToken"),
    ]
    purge_params = [
        _param(
            "createdTimeFrom",
            "query",
            _DATE_TIME,
            "Created at or after (required: a purge names its time range).",
            required=True,
        ),
        _ref("parameters", "createdTimeTo"),
        _ref("parameters", "runtimeStatus"),
    ]
    running = {"Location": _LOCATION, "Retry-After": _RETRY_AFTER}
    purged = _ok("How many were purged.", _ref("schemas", "PurgeResult"))
    restart_params = [
        instance,
        _flag("restartWithNewInstanceId", "Run it under a new instance id.", True),
        *_WAIT,
    ]
    return {
        f"{BASE}/orchestrators/{{functionName}}": {"post": _start("startOrchestration", False)},
        f"{BASE}/orchestrators/{{functionName}}/{{instanceId}}": {
            "post": _start("startOrchestrationWithId", True)
        },
        f"{BASE}/instances": {
            "get": _op(
                "listInstances",
                "List instances (one page)",
                list_params,
                _responses(
                    {"200": _ok("One page of instances.", _array("OrchestrationStatus"), _NEXT_PAGE)}, "400"
                ),
            ),
            "delete": _op(
                "purgeInstances",
                "Purge the finished instances created in a time range",
                purge_params,
                _responses({"200": purged}, "400 404"),
            ),
            "x-trailing-slash": True,
        },
        f"{BASE}/instances/{{instanceId}}": {
            "get": _op(
                "getInstanceStatus",
                "The status of one instance",
                status_params,
                _responses(
                    {
                        "200": _ok("The instance finished.", status),
                        "202": _ok("The instance is pending, running or suspended.", status, running),
                        "500": _ok(
                            "The instance failed and returnInternalServerErrorOnFailure=true.", status
                        ),
                    },
                    "400 404",
                ),
            ),
            "delete": _op(
                "purgeInstance",
                "Purge one instance's history and status",
                [instance],
                _responses({"200": purged}, "400 404"),
            ),
        },
        f"{BASE}/instances/{{instanceId}}/raiseEvent/{{eventName}}": {
            "post": _op(
                "raiseEvent",
                "Send an event to an instance",
                [instance, _ref("parameters", "eventName")],
                _responses({"202": _SENT}, "400 404 410 413"),
                requestBody={**_JSON_INPUT, "description": "The event data: JSON, sent as application/json."},
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
            "post": _op(
                "restartInstance",
                "Start an instance's orchestrator again with its original input",
                restart_params,
                _responses(_STARTED, "400 404 409"),
            )
        },
    }


def _entity_paths() -> Json:
    entity = [_ref("parameters", "entityName"), _ref("parameters", "entityKey")]
    signal_params = [
        *entity,
        _param("op", "query", _text(MAX_NAME_LENGTH), "The operation.", required=True),
        _param("scheduledTime", "query", _DATE_TIME, "Run the operation at this time (durable-ext's own)."),
    ]
    signal_body = _body(
        "The operation's input: JSON with application/json, else the text as a string.",
        {**_json(ANY_JSON), "text/plain": {"schema": _STR}},
    )
    signalled = _responses({"202": _SENT}, "400 404 413")
    state = _ok("The state.", ANY_JSON)
    return {
        f"{BASE}/entities": _entity_list("listEntities", False),
        f"{BASE}/entities/{{entityName}}": _entity_list("listEntitiesByName", True),
        f"{BASE}/entities/{{entityName}}/{{entityKey}}": {
            "post": _op(
                "signalEntity",
                "Signal an operation to an entity",
                signal_params,
                signalled,
                requestBody=signal_body,
            ),
            "delete": _op("deleteEntity", "Signal an entity to delete its state", entity, signalled),
            "get": _op("readEntity", "An entity's state", entity, _responses({"200": state}, "400 404")),
        },
    }


def _host_paths() -> Json:
    poison = _param("instanceId", "query", _text(MAX_INSTANCE_ID_LOOKUP_LENGTH), "Only this instance's.")
    return {
        f"{BASE}/poison": {
            "get": _op(
                "listPoisonMessages",
                "Messages moved aside as poison, newest first (durable-ext's own)",
                [poison],
                _responses({"200": _ok("The poison messages.", _array("PoisonMessage"))}, "400"),
            )
        },
        f"{BASE}/metrics": {
            "get": _host_op(
                "getMetrics",
                "This process's storage operations and history cache (durable-ext's own)",
                _ok("The counts.", _ref("schemas", "Metrics")),
            )
        },
        f"{BASE}/openapi.json": {
            "get": _host_op(
                "getOpenApiDocument",
                "This document",
                _ok("The OpenAPI 3.1 document.", _ref("schemas", "OpenApiDocument")),
            )
        },
        f"{BASE}/monitor": {
            "get": _host_op(
                "getMonitor",
                "The monitor: a page showing the task hub's instances (master key off this machine)",
                {"description": "The page.", "content": {"text/html": {"schema": _STR}}},
            ),
            "x-trailing-slash": True,
        },
        "/admin/host/ping": {"get": _ping("pingHost"), "post": _ping("pingHostPost")},
        "/admin/host/status": {
            "get": _host_op(
                "getHostStatus",
                "The host's state, version, task hub and storage reachability (master key off this machine)",
                _ok("The status.", _ref("schemas", "HostStatus")),
            )
        },
    }


def _ping(operation_id: str) -> Json:
    return _op(
        operation_id,
        "Whether the host answers; open to every caller, as on the Functions host",
        [],
        {"200": _ok("The host answers (empty body).")},
        hub=False,
        security=[{}],
    )


@functools.cache
def _document() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {"title": "durable-ext management API", "version": "1", "description": _DESCRIPTION},
        "paths": {**_instance_paths(), **_entity_paths(), **_host_paths()},
        "components": {
            "schemas": SCHEMAS,
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
