"""``durable-ext durable ...``: the task hub commands of Core Tools' ``func durable``.

Each command works on the hub and connection of the app in ``--script-root`` (``host.json`` and
``local.settings.json``), or on ``--task-hub-name`` / ``--connection-string-setting``. Output is a table
by default and JSON with ``--json``; an error prints one line naming what to fix and exits with 1.

Payloads reach the app as the SDK's own client sends them: ``start-new --input X`` stores the JSON text
of X as a JSON string (what ``DurableOrchestrationClient.start_new`` posts), so ``context.get_input()``
is X for any JSON value; ``raise-event --event-data X`` stores X itself, as the HTTP API's raise-event
does, so ``wait_for_external_event`` gives X (the SDK client's ``raise_event`` would deliver the string).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..core.client import TaskHubClient
from ..core.history import OrchestrationStatus
from ..core.jobs import Operation
from ..core.queries import InstanceOrder, InstanceQuery
from ..core.service import TaskHubService as Service
from ..errors import ConfigurationError, InstanceNotFoundError, InstanceStateError
from ..extension.extension import DurableTaskExtension
from ..extension.options import MEMORY, DurableTaskOptions
from ..extension.status_payload import history_payload, status_payload
from .bulk_commands import add_query_options, bulk
from .bulk_commands import jobs as bulk_jobs
from .cli_arguments import iso_time, listing_order, positive, runtime_statuses
from .settings import load_settings

Args = argparse.Namespace
Handler = Callable[[TaskHubClient, Service, Args], Awaitable[Any]]


def add_durable_commands(commands: Any) -> None:
    durable = commands.add_parser("durable", help="task hub commands (as Core Tools' `func durable`)")
    sub = durable.add_subparsers(dest="durable_command", required=True, metavar="COMMAND")

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--script-root", type=Path, default=Path("."), help="the app folder (default: .)")
        parser.add_argument("--task-hub-name", help="the task hub (default: hubName of host.json)")
        parser.add_argument(
            "--connection-string-setting",
            help="the app setting holding the storage connection string (default: AzureWebJobsStorage)",
        )
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
        parser.set_defaults(handler=handler)
        return parser

    p = command("get-instances", get_instances, "list instances, newest first (or count them: --count)")
    p.add_argument("--runtime-status", nargs="*", default=[], help="e.g. Running Completed Failed")
    p.add_argument("--created-after", type=iso_time, help="ISO 8601 time")
    p.add_argument("--created-before", type=iso_time, help="ISO 8601 time")
    p.add_argument("--name", help="only instances of this orchestrator")
    p.add_argument("--id-prefix", help="only instances whose id starts with this")
    p.add_argument("--custom-status-contains", help="only instances whose custom status holds this text")
    p.add_argument("--input-contains", help="only instances whose input holds this text")
    p.add_argument(
        "--order",
        type=listing_order,
        default=InstanceOrder.NEWEST,
        help="newest (default) or oldest first by created time, or id (the Instances table's order)",
    )
    p.add_argument("--count", action="store_true", help="print how many match per status instead")
    p.add_argument("--top", type=positive, default=100, help="page size (default: 100)")
    p.add_argument("--continuation-token", help="the token printed with the previous page")
    p = command("get-runtime-status", get_runtime_status, "the status of one instance")
    p.add_argument("--id", required=True, help="the instance id")
    p.add_argument("--show-input", action="store_true", help="include the input")
    p.add_argument("--show-output", action="store_true", help="include the output")
    p = command("get-history", get_history, "the history of one instance")
    p.add_argument("--id", required=True, help="the instance id")
    p = command("start-new", start_new, "start an orchestration")
    p.add_argument("--function-name", required=True, help="the orchestrator function")
    p.add_argument("--input", help="JSON input (a string needs its quotes: '\"eu\"'), or @file.json")
    p.add_argument("--id", help="the instance id (default: a new one)")
    p = command("raise-event", raise_event, "send an event to an instance")
    p.add_argument("--id", required=True, help="the instance id")
    p.add_argument("--event-name", required=True, help="the event name")
    p.add_argument("--event-data", help="JSON data, or @file.json")
    for name, handler, text in (
        ("terminate", terminate, "terminate an instance (or every one --query matches)"),
        ("suspend", suspend, "suspend an instance (or every one --query matches)"),
        ("resume", resume, "resume a suspended instance (or every one --query matches)"),
        ("rewind", rewind, "rewind a failed instance (or every one --query matches)"),
        ("restart", restart, "start an instance again under a new id (or every one --query matches)"),
    ):
        p = command(name, handler, text)
        p.add_argument("--id", help="the instance id")
        if name != "restart":
            p.add_argument("--reason", help="why (recorded with the instance)")
        add_query_options(p)
    p = command("jobs", bulk_jobs, "the hub's bulk jobs: their progress, or cancel one")
    p.add_argument("--id", help="one job")
    p.add_argument("--cancel", action="store_true", help="with --id: stop the job")
    p = command(
        "purge-history", purge_history, "delete finished instances (one by --id, or by time and status)"
    )
    p.add_argument("--id", help="one instance")
    p.add_argument("--created-after", type=iso_time, help="ISO 8601 time")
    p.add_argument("--created-before", type=iso_time, help="ISO 8601 time")
    p.add_argument("--runtime-status", nargs="*", default=[], help="default: Completed Failed Terminated")
    add_query_options(p)
    command("delete-task-hub", delete_task_hub, "delete every queue, table and container of the task hub")
    from .history_commands import add_history_commands  # it imports this module's helpers

    add_history_commands(command)


async def run_durable_command(args: argparse.Namespace) -> tuple[str, int]:
    """Run the command; return what to print and the exit code."""
    if getattr(args, "run_command", None) is not None:  # its own runner (history_commands)
        return await args.run_command(args)
    root = args.script_root.resolve()
    if not root.is_dir():
        raise ConfigurationError(f"The app folder '{root}' does not exist; pass the app's --script-root.")
    if not (root / "host.json").is_file() and not args.task_hub_name:
        raise ConfigurationError(
            f"There is no host.json in '{root}': run from the app's folder, pass its --script-root, or "
            "name the hub with --task-hub-name."
        )
    settings = load_settings(root)
    options = DurableTaskOptions.from_settings(settings)
    if options.storage_type == MEMORY:
        raise ConfigurationError(
            f"The task hub '{options.hub_name}' is in memory (host.json storageProvider.type): it lives "
            "inside the host process, so no command can reach it from outside. Use the running host's "
            "HTTP management API (/runtime/webhooks/durabletask/...) or the monitor page instead."
        )
    extension = DurableTaskExtension(options, settings.get)
    try:
        service = extension.service_for(args.task_hub_name, args.connection_string_setting)
        result = await args.handler(TaskHubClient(service), service, args)
    finally:
        await extension.stop()
    if args.json:
        return json.dumps(result, indent=2, ensure_ascii=False), 0
    return _readable(result), 0


# ---- commands -----------------------------------------------------------------------------------------
async def get_instances(client: TaskHubClient, _: Service, args: argparse.Namespace) -> Any:
    query = InstanceQuery(
        created_from=args.created_after,
        created_to=args.created_before,
        statuses=runtime_statuses(args.runtime_status),
        name=args.name or None,
        instance_id_prefix=args.id_prefix or None,
        custom_status_contains=args.custom_status_contains or None,
        input_contains=args.input_contains or None,
        page_size=args.top,
        continuation_token=args.continuation_token,
        show_input=False,
        order=args.order,
    )
    if args.count:
        counts = await client.count(query)
        return {status.name: n for status, n in counts.items()} | {"total": sum(counts.values())}
    page = await client.query(query)
    rows = [status_payload(state, show_input=False) for state in page.states]
    return {"instances": rows, "continuationToken": page.continuation_token}


async def get_runtime_status(client: TaskHubClient, _: Service, args: argparse.Namespace) -> Any:
    state = await client.get_state(args.id)
    if state is None:
        raise InstanceNotFoundError(args.id)
    body = status_payload(state, show_input=args.show_input)
    if not args.show_input:
        body.pop("input", None)
    if not args.show_output:
        body.pop("output", None)
    return body


async def get_history(client: TaskHubClient, _: Service, args: argparse.Namespace) -> Any:
    if await client.get_state(args.id) is None:
        raise InstanceNotFoundError(args.id)
    return history_payload(await client.get_history(args.id), True, True)


async def start_new(client: TaskHubClient, service: Service, args: argparse.Namespace) -> Any:
    input_json = _json_argument(args.input, "--input")
    stored = None if input_json is None else sdk_client_input(input_json)
    instance_id = await client.start(args.function_name, stored, args.id)
    return {"instanceId": instance_id, "message": f"Started '{args.function_name}' as '{instance_id}'."}


def sdk_client_input(input_json: str) -> str:
    """The orchestration input as ``DurableOrchestrationClient.start_new`` posts it: the value's JSON
    text, sent as a JSON string. The SDK's ``get_input()`` decodes that string back to the value; a bare
    number or list would reach it undecoded and fail."""
    return json.dumps(input_json, ensure_ascii=False)


async def raise_event(client: TaskHubClient, _: Service, args: argparse.Namespace) -> Any:
    data = _json_argument(args.event_data, "--event-data")
    state = await client.get_state(args.id)
    if state is None:
        raise InstanceNotFoundError(args.id)
    if state.status.is_terminal:
        rule = "events can only be raised to running, pending or suspended instances."
        raise InstanceStateError(args.id, state.status.name, rule)
    await client.raise_event(args.id, args.event_name, data)
    return {"instanceId": args.id, "message": f"Raised '{args.event_name}' on '{args.id}'."}


def _operation(verb: str, done: str) -> Handler:
    async def handler(client: TaskHubClient, service: Service, args: argparse.Namespace) -> Any:
        if _one_or_many(args, verb):
            return await bulk(Operation(verb), client, service, args)
        await getattr(client, verb)(args.id, args.reason)
        return {"instanceId": args.id, "message": f"{done} '{args.id}'."}

    return handler


def _one_or_many(args: argparse.Namespace, verb: str) -> bool:
    """True for ``--query`` (a bulk job), False for ``--id``; a clear error for neither or both."""
    if bool(args.id) == bool(args.query):
        raise ConfigurationError(f"{verb}: pass --id for one instance or --query for every one it matches.")
    if args.dry_run and not args.query:
        raise ConfigurationError(f"{verb}: --dry-run goes with --query.")
    return bool(args.query)


terminate = _operation("terminate", "Terminated")
suspend = _operation("suspend", "Suspended")
resume = _operation("resume", "Resumed")
rewind = _operation("rewind", "Rewound")


async def restart(client: TaskHubClient, service: Service, args: argparse.Namespace) -> Any:
    if _one_or_many(args, "restart"):
        return await bulk(Operation.RESTART, client, service, args)
    new_id = await client.restart(args.id)
    return {"instanceId": new_id, "message": f"Restarted '{args.id}' as '{new_id}'."}


async def purge_history(client: TaskHubClient, service: Service, args: argparse.Namespace) -> Any:
    if args.query:
        if args.id or args.created_after or args.created_before or args.runtime_status:
            raise ConfigurationError("purge-history: --query holds every filter; leave out the others.")
        return await bulk(Operation.PURGE, client, service, args)
    if args.id:
        deleted = await client.purge(args.id)
        if deleted == 0:
            raise InstanceNotFoundError(args.id)
    else:
        statuses = runtime_statuses(args.runtime_status) or frozenset(
            {OrchestrationStatus.Completed, OrchestrationStatus.Failed, OrchestrationStatus.Terminated}
        )
        query = InstanceQuery(
            created_from=args.created_after,
            created_to=args.created_before,
            statuses=statuses,
            show_input=False,
        )
        deleted = await client.purge_by(query)
    return {"instancesDeleted": deleted, "message": f"Purged {deleted} instance(s)."}


async def delete_task_hub(_: TaskHubClient, service: Service, args: argparse.Namespace) -> Any:
    hub = service.hub_name
    deleted = await service.delete_task_hub()
    message = (
        f"Deleted task hub '{hub}' ({len(deleted)} resources)."
        if deleted
        else f"Task hub '{hub}' has no queues, tables or containers in this storage account: nothing deleted."
    )
    return {"taskHub": hub, "deleted": deleted, "message": message}


# ---- arguments and output ------------------------------------------------------------------------------
def _json_argument(value: str | None, option: str) -> str | None:
    """JSON text from the option or from the file after ``@``, compacted; an error names the option."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"{option}: cannot read '{path}': {exc.strerror}.") from exc
    try:
        return json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False)
    except ValueError as exc:
        raise ConfigurationError(
            f"{option} is not valid JSON ({exc}); a string needs quotes, e.g. '\"Tokyo\"'."
        ) from exc


def _readable(result: Any) -> str:
    if isinstance(result, dict) and "operation" in result and "matched" in result and "id" not in result:
        return "\n".join([str(result["message"]), *result["instances"]])  # a dry run
    if isinstance(result, dict) and "jobs" in result:
        columns = ["id", "operation", "status", "matched", "done", "failed", "createdTime"]
        return "\n".join(_table(result["jobs"], columns))
    if isinstance(result, dict) and "instances" in result:
        lines = _table(
            result["instances"], ["instanceId", "name", "runtimeStatus", "createdTime", "lastUpdatedTime"]
        )
        if result.get("continuationToken"):
            lines.append(f"more: --continuation-token {result['continuationToken']}")
        return "\n".join(lines)
    if isinstance(result, list):
        return "\n".join(_table(result, ["EventType", "Timestamp", "FunctionName", "EventId"]))
    if isinstance(result, dict) and "message" in result:
        return str(result["message"])
    width = max((len(k) for k in result), default=0)
    return "\n".join(f"{key:<{width}}  {_cell(value)}" for key, value in result.items())


def _table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
