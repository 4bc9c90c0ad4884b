"""The reusable parts of the management API's OpenAPI document: schemas, parameters, responses, and the
builders the path items are written with (:mod:`.openapi` assembles the document)."""

from __future__ import annotations

from typing import Any

from ..core.health import FAULT_KINDS
from ..core.history import OrchestrationStatus
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

ANY_JSON: Json = {"description": "Any JSON value."}
_NULLABLE_TIME: Json = {"type": ["string", "null"], "format": "date-time"}
DATE_TIME: Json = {"type": "string", "format": "date-time"}


# ---- schemas ----------------------------------------------------------------------------------
def ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def object_schema(properties: Json, required: list[str] | None = None) -> Json:
    schema: Json = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


STR: Json = {"type": "string"}
_LINK_NAMES = list(MANAGEMENT_LINK_NAMES)
_STORAGE_KINDS = list(FAULT_KINDS)

SCHEMAS: Json = {
    "Error": object_schema(
        {
            "Message": {**STR, "description": "What is wrong and what to do."},
            "ExceptionMessage": {**STR, "description": "The same text (the SDK's client reads this one)."},
            "parameter": {
                **STR,
                "description": "The parameter at fault: a path or query parameter, a header, or `body`.",
            },
            "limit": {"type": "integer", "description": "The limit the parameter broke."},
        },
        ["Message", "ExceptionMessage", "parameter"],
    ),
    "KeyRefused": object_schema(
        {"error": {**STR, "description": "Which key the route needs and how to pass it."}}, ["error"]
    ),
    "StorageUnavailable": object_schema(
        {
            "Message": STR,
            "ExceptionMessage": STR,
            "storage": object_schema(
                {
                    "endpoint": STR,
                    "setting": {**STR, "description": "The app setting the endpoint came from."},
                    "reachable": {"const": False},
                    "lastError": STR,
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
        "properties": {"EventType": STR, "Timestamp": DATE_TIME},
        "description": "One event of the history, as the Durable Functions extension shapes it.",
    },
    "OrchestrationStatus": object_schema(
        {
            "name": {"type": ["string", "null"]},
            "instanceId": STR,
            "runtimeStatus": ref("schemas", "RuntimeStatus"),
            "input": {**ANY_JSON, "description": "The input (null with showInput=false)."},
            "customStatus": ANY_JSON,
            "output": ANY_JSON,
            "createdTime": _NULLABLE_TIME,
            "lastUpdatedTime": _NULLABLE_TIME,
            "historyEvents": {
                "type": "array",
                "items": ref("schemas", "HistoryEvent"),
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
    "ManagementLinks": object_schema(
        {"id": STR, **{name: {**STR, "format": "uri"} for name in _LINK_NAMES}},
        ["id", *_LINK_NAMES],
    ),
    "InstanceCounts": object_schema(
        {status.name: {"type": "integer", "minimum": 0} for status in OrchestrationStatus}
        | {"total": {"type": "integer", "minimum": 0}},
        [*(status.name for status in OrchestrationStatus), "total"],
    ),
    "Functions": object_schema(
        {kind: {"type": "array", "items": STR} for kind in ("orchestrators", "activities", "entities")},
        ["orchestrators", "activities", "entities"],
    ),
    "InstanceHistogram": object_schema(
        {
            "from": {"type": ["string", "null"]},
            "to": {"type": ["string", "null"]},
            "bucketSeconds": {"type": "number", "minimum": 0},
            "counts": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "total": {"type": "integer", "minimum": 0},
        },
        ["from", "to", "bucketSeconds", "counts", "total"],
    ),
    "PurgeResult": object_schema(
        {"instancesDeleted": {"type": "integer", "minimum": 1}}, ["instancesDeleted"]
    ),
    "PoisonMessage": object_schema(
        {
            "instanceId": {"type": ["string", "null"]},
            "queue": STR,
            "messageId": STR,
            "reason": STR,
            "dequeueCount": {"type": "integer"},
            "movedOn": _NULLABLE_TIME,
            "body": {"type": ["string", "null"]},
        },
        ["instanceId", "queue", "messageId", "reason", "dequeueCount", "movedOn", "body"],
    ),
    "Metrics": object_schema(
        {
            "storageOperations": {"type": "object", "additionalProperties": {"type": "integer"}},
            "storageOperationsTotal": {"type": "integer"},
            "historyCache": object_schema(
                {"entries": {"type": "integer"}, "hits": {"type": "integer"}, "misses": {"type": "integer"}},
                ["entries", "hits", "misses"],
            ),
            "messagesHandedOverLocally": {"type": "integer"},
            "ownedControlQueues": {"type": "array", "items": STR},
        },
        ["storageOperations", "storageOperationsTotal", "historyCache"],
    ),
    "EntityListItem": object_schema(
        {
            "entityId": object_schema({"key": STR, "name": STR}, ["key", "name"]),
            "lastOperationTime": _NULLABLE_TIME,
            "state": {**ANY_JSON, "description": "With fetchState=true only."},
        },
        ["entityId", "lastOperationTime"],
    ),
    "HostStatus": object_schema(
        {
            "id": STR,
            "state": {"enum": ["Running", "Initialized", "Error", "Offline", "Default"]},
            "version": STR,
            "versionDetails": STR,
            "processUptime": {"type": "integer", "description": "Milliseconds since the host started."},
            "errors": {"type": "array", "items": STR, "description": "Only when state is Error."},
            "durableTask": object_schema(
                {
                    "hubName": STR,
                    "workerStarted": {"type": "boolean"},
                    "ownedPartitions": {"type": "array", "items": STR},
                    "storage": object_schema(
                        {
                            "endpoint": STR,
                            "setting": STR,
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
    "OpenApiDocument": object_schema({"openapi": {"const": "3.1.0"}}, ["openapi", "info", "paths"]),
}


# ---- parameters -------------------------------------------------------------------------------
def param(name: str, where: str, schema: Json, description: str, *, required: bool = False) -> Json:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }


def flag(name: str, description: str, default: bool) -> Json:
    return param(name, "query", {"type": "boolean", "default": default}, description)


def text_schema(max_length: int) -> Json:
    return {"type": "string", "minLength": 1, "maxLength": max_length}


_SECONDS: Json = {"type": "number", "minimum": 0}

PARAMETERS: Json = {
    "taskHub": param(
        "taskHub",
        "query",
        {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9]{2,44}$"},
        "The task hub to address; the app's own hub when absent.",
    ),
    "connection": param(
        "connection",
        "query",
        {"type": "string", "minLength": 1},
        "The app setting that holds the task hub's storage connection (`Storage` is AzureWebJobsStorage).",
    ),
    "instanceId": param(
        "instanceId", "path", text_schema(MAX_INSTANCE_ID_LOOKUP_LENGTH), "The id of an existing instance."
    ),
    "newInstanceId": param(
        "instanceId",
        "path",
        {
            **text_schema(MAX_NEW_INSTANCE_ID_LENGTH),
            "pattern": "^[^@/\\\\#?\\u0000-\\u001f\\u007f-\\u009f][^/\\\\#?\\u0000-\\u001f\\u007f-\\u009f]*$",
        },
        "The id of the new instance: not starting with `@`, without `/ \\ # ?` or control characters.",
    ),
    "functionName": param(
        "functionName", "path", text_schema(MAX_NAME_LENGTH), "The orchestrator function to start."
    ),
    "eventName": param("eventName", "path", text_schema(MAX_NAME_LENGTH), "The name of the event."),
    "entityName": param(
        "entityName",
        "path",
        {**text_schema(MAX_ENTITY_ID_LENGTH - 3), "pattern": "^[^@/]+$"},
        "The entity function's name (case-insensitive), without `@` or `/`.",
    ),
    "entityKey": param(
        "entityKey",
        "path",
        {"type": "string", "minLength": 1, "pattern": "^[^/\\\\#?\\u0000-\\u001f\\u007f-\\u009f]+$"},
        f"The entity key, without `/ \\ # ?` or control characters; `@name@key` has at most "
        f"{MAX_ENTITY_ID_LENGTH} characters.",
    ),
    "reason": param("reason", "query", STR, "Why; recorded with the instance."),
    "timeout": param(
        "timeout", "query", _SECONDS, "Wait up to this many seconds for the instance to finish."
    ),
    "pollingInterval": param(
        "pollingInterval", "query", _SECONDS, "Seconds between checks while waiting (default 1)."
    ),
    "top": param(
        "top",
        "query",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": 100},
        "The most items in one page.",
    ),
    "continuationToken": param(
        CONTINUATION_HEADER,
        "header",
        {"type": "string", "minLength": 1},
        f"The `{CONTINUATION_HEADER}` header of the previous page, to read the next one.",
    ),
    "createdTimeFrom": param("createdTimeFrom", "query", DATE_TIME, "Created at or after."),
    "createdTimeTo": param("createdTimeTo", "query", DATE_TIME, "Created at or before."),
    "runtimeStatus": {
        **param(
            "runtimeStatus",
            "query",
            {"type": "array", "items": ref("schemas", "RuntimeStatus")},
            "Only instances in these states (comma-separated, case-insensitive).",
        ),
        "style": "form",
        "explode": False,
    },
    "showInput": flag("showInput", "Include each instance's input.", True),
}

_HUB = [ref("parameters", "taskHub"), ref("parameters", "connection")]


# ---- responses --------------------------------------------------------------------------------
def json_content(schema: Json) -> Json:
    return {"application/json": {"schema": schema}}


def _error(description: str) -> Json:
    return {"description": description, "content": json_content(ref("schemas", "Error"))}


RETRY_AFTER: Json = {
    "description": "Seconds to wait before asking again.",
    "required": True,
    "schema": {"type": "integer"},
}
LOCATION: Json = {
    "description": "The URL to poll for the instance's status.",
    "required": True,
    "schema": STR,
}
NEXT_PAGE: Json = {
    CONTINUATION_HEADER: {"description": "Present when more pages follow.", "schema": STR},
}

RESPONSES: Json = {
    "BadRequest": _error("A parameter is malformed or breaks a limit; `parameter` names it."),
    "NotFound": _error("No such instance (or entity, or function); `parameter` names what was looked up."),
    "Conflict": _error("An instance with this id is still pending or running."),
    "Gone": _error("The instance is not in a state this operation applies to."),
    "TooLarge": _error(f"The request body is larger than {MAX_BODY_BYTES} bytes."),
    "Unauthorized": {
        "description": "A caller from another machine without the key this route needs.",
        "content": json_content(ref("schemas", "KeyRefused")),
    },
    "StorageUnavailable": {
        "description": "Storage did not answer in the retry budget: its endpoint, setting and last error.",
        "headers": {"Retry-After": RETRY_AFTER},
        "content": json_content(ref("schemas", "StorageUnavailable")),
    },
    "Accepted": {
        "description": "Started: the management links of the instance.",
        "headers": {"Location": LOCATION, "Retry-After": RETRY_AFTER},
        "content": json_content(ref("schemas", "ManagementLinks")),
    },
    "Sent": {"description": "Accepted: the message is on its way to the instance (empty body)."},
    "Finished": {
        "description": (
            "With `timeout`: the instance finished in time. Its output when it completed, its status "
            "payload when it was terminated."
        ),
        "content": json_content(ANY_JSON),
    },
    "FailedWhileWaiting": {
        "description": "With `timeout`: the instance failed in time; its status payload.",
        "content": json_content(ref("schemas", "OrchestrationStatus")),
    },
}


_ERRORS = {"400": "BadRequest", "404": "NotFound", "409": "Conflict", "410": "Gone", "413": "TooLarge"}


def responses_with(codes: Json, errors: str = "", *, storage: bool = True) -> Json:
    """``codes``, the ``errors`` named by status (``"400 404"``), and what every route can answer: 401,
    and 503 for a route that reads storage."""
    common: Json = {code: ref("responses", _ERRORS[code]) for code in errors.split()}
    common["401"] = ref("responses", "Unauthorized")
    if storage:
        common["503"] = ref("responses", "StorageUnavailable")
    return dict(sorted({**codes, **common}.items()))


def ok(description: str, schema: Json | None = None, headers: Json | None = None) -> Json:
    response: Json = {"description": description}
    if headers:
        response["headers"] = headers
    if schema is not None:
        response["content"] = json_content(schema)
    return response


def array_of(name: str) -> Json:
    return {"type": "array", "items": ref("schemas", name)}


def operation(operation_id: str, summary: str, parameters: list[Json], responses: Json, **extra: Any) -> Json:
    return {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [*parameters, *_HUB] if extra.pop("hub", True) else parameters,
        "responses": responses,
        **extra,
    }


def host_op(operation_id: str, summary: str, response: Json) -> Json:
    """A route that reads no task hub: no hub parameters, no 503."""
    return operation(operation_id, summary, [], responses_with({"200": response}, storage=False), hub=False)


def request_body(description: str, content: Json) -> Json:
    return {"description": description, "required": False, "content": content}


JSON_INPUT = request_body(
    f"Any JSON value (at most {MAX_BODY_BYTES} bytes, nested at most {MAX_JSON_DEPTH} deep).",
    json_content(ANY_JSON),
)
WAIT = [ref("parameters", "timeout"), ref("parameters", "pollingInterval")]
STARTED = {
    "202": ref("responses", "Accepted"),
    "200": ref("responses", "Finished"),
    "500": ref("responses", "FailedWhileWaiting"),
}
SENT = ref("responses", "Sent")
