"""``durable-ext durable export-history`` and ``durable-ext durable replay``.

``export-history`` writes the histories of one instance (``--id``) or of a query (``--name``,
``--runtime-status``, ``--created-after``, ``--created-before``; no filter: every orchestration) to one
JSON file per instance. ``replay`` runs the current orchestrator code of the app in ``--script-root``
against recorded histories, from files (``--file``, ``--dir``: no task hub is touched) or read from the
task hub by the same selection, and prints per instance "replays" or the first divergence. It exits with
1 when any instance diverges, so it can guard a deploy; with 2 for bad input (a missing file, an unknown
``--id``).

What they read from a task hub they read as every ``durable`` command does (see :mod:`.durable_commands`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.client import TaskHubClient
from ..core.history_json import RecordedHistory, history_files, read_history_file, write_history_file
from ..core.queries import InstanceQuery
from ..core.service import TaskHubService
from ..errors import ConfigurationError, InstanceNotFoundError
from .cli_arguments import iso_time, runtime_statuses

CommandFactory = Callable[[str, Any, str], argparse.ArgumentParser]
"""``durable_commands``' own ``command(name, handler, help)``: a sub-command with the shared options."""

QUERY_OPTIONS = ("name", "runtime_status", "created_after", "created_before")


def add_history_commands(command: CommandFactory) -> None:

    p = command(
        "export-history", export_history, "write instances' histories to JSON files, one per instance"
    )
    p.add_argument("--out", type=Path, required=True, help="the folder to write to (created if missing)")
    _selection_options(p, iso_time)
    p = command(
        "replay",
        exported_histories,
        "replay recorded histories against the app's current orchestrator code; exit 1 if any diverges",
    )
    # its own runner: replaying files needs no task hub, and a divergence exits with 1
    p.set_defaults(run_command=run_replay)
    p.add_argument("--file", nargs="+", type=Path, default=[], help="exported history files")
    p.add_argument("--dir", type=Path, help="a folder of exported history files (*.json)")
    _selection_options(p, iso_time)


def _selection_options(parser: argparse.ArgumentParser, time: Callable[[str], Any]) -> None:
    parser.add_argument("--id", help="one instance")
    parser.add_argument("--name", help="only instances of this orchestrator")
    parser.add_argument("--runtime-status", nargs="*", default=[], help="e.g. Running Completed Failed")
    parser.add_argument("--created-after", type=time, help="ISO 8601 time")
    parser.add_argument("--created-before", type=time, help="ISO 8601 time")


# ---- export-history -----------------------------------------------------------------------------------
async def export_history(client: TaskHubClient, _: TaskHubService, args: argparse.Namespace) -> Any:
    paths = write_histories(await fetch_histories(client, args), args.out)
    return {
        "files": [str(path) for path in paths],
        "count": len(paths),
        "message": f"Wrote {len(paths)} history file(s) to {args.out}.",
    }


def write_histories(histories: list[RecordedHistory], folder: Path) -> list[Path]:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return [write_history_file(history, folder) for history in histories]
    except OSError as exc:
        raise ConfigurationError(
            f"Cannot write to --out '{folder}': {exc.strerror}. Check the path."
        ) from exc


async def exported_histories(client: TaskHubClient, _: TaskHubService, args: argparse.Namespace) -> Any:
    """The selected histories in their exported form (what ``replay`` reads from the task hub)."""
    return [history.to_json() for history in await fetch_histories(client, args)]


async def fetch_histories(client: TaskHubClient, args: argparse.Namespace) -> list[RecordedHistory]:
    """The selected instances' statuses and histories: ``--id``, or every instance the query matches."""

    if args.id:
        if any(getattr(args, option) for option in QUERY_OPTIONS):
            raise ConfigurationError(
                "--id names one instance: leave out --name, --runtime-status, --created-after and "
                "--created-before, or drop --id to select instances by those."
            )
        state = await client.get_state(args.id)
        if state is None:
            raise InstanceNotFoundError(args.id)
        return [RecordedHistory.of(state, await client.get_history(args.id))]
    query = InstanceQuery(
        created_from=args.created_after,
        created_to=args.created_before,
        statuses=runtime_statuses(args.runtime_status),
        name=args.name or None,
    )
    histories: list[RecordedHistory] = []
    while True:
        page = await client.query(query)
        for state in page.states:
            histories.append(RecordedHistory.of(state, await client.get_history(state.instance_id)))
        if page.continuation_token is None:
            return histories
        query = dataclasses.replace(query, continuation_token=page.continuation_token)


# ---- replay -------------------------------------------------------------------------------------------
async def run_replay(args: argparse.Namespace) -> tuple[str, int]:
    """Replay the selected histories; the report, and exit code 1 if any diverges (else 0)."""
    from ..testing.replay import replay_histories  # only this command needs the app's code

    from_files = bool(args.file or args.dir)
    if from_files and (args.id or any(getattr(args, option) for option in QUERY_OPTIONS)):
        raise ConfigurationError(
            "Replay either exported files (--file, --dir) or instances read from the task hub (--id, "
            "--name, --runtime-status, --created-after, --created-before), not both."
        )
    histories = _from_files(args) if from_files else await _from_task_hub(args)
    result = await replay_histories(args.script_root, histories)
    if args.json:
        return json.dumps(result.to_json(), indent=2, ensure_ascii=False), 0 if result.ok else 1
    if not histories:
        return "No instance matched: there is no history to replay.", 0
    return result.report(), 0 if result.ok else 1


def _from_files(args: argparse.Namespace) -> list[RecordedHistory]:
    files: list[Path] = list(args.file)
    if args.dir is not None:
        found = history_files(args.dir)
        if not found:
            raise ConfigurationError(
                f"The history folder '{args.dir}' has no .json files. Export histories into it with "
                "`durable-ext durable export-history --out DIR`."
            )
        files += found
    return [history for path in files for history in read_history_file(path)]


async def _from_task_hub(args: argparse.Namespace) -> list[RecordedHistory]:
    """The selected histories, read through the same task hub connection as every durable command."""
    from .durable_commands import run_durable_command

    opened = argparse.Namespace(
        **{**vars(args), "handler": exported_histories, "run_command": None, "json": True}
    )
    try:
        output, _ = await run_durable_command(opened)
    except InstanceNotFoundError as exc:
        raise ConfigurationError(f"{exc} Check --id, or replay an exported file with --file.") from exc
    return [RecordedHistory.from_json(item) for item in json.loads(output)]
