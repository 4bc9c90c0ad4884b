"""The Azurite helper: start on free ports, serve all three services, stop the process group."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from azure.storage.queue.aio import QueueServiceClient

from durable_ext.azurestorage.connection import DEV_STORAGE_CONNECTION_STRING, expand_connection_string
from durable_ext.errors import ConfigurationError
from durable_ext.host.azurite import AzuriteProcess, ensure_dev_storage
from durable_ext.host.child_process import free_ports, port_accepts


async def test_session_azurite_serves_queues(connection_string: str, hub_name: str) -> None:
    async with QueueServiceClient.from_connection_string(connection_string) as service:
        await service.create_queue(f"{hub_name}-probe")
        names = [queue.name async for queue in service.list_queues(name_starts_with=hub_name)]
    assert names == [f"{hub_name}-probe"]


async def test_start_and_stop_on_free_ports() -> None:
    azurite = AzuriteProcess()
    await azurite.start()
    try:
        ports = (azurite.blob_port, azurite.queue_port, azurite.table_port)
        assert 0 not in ports and len(set(ports)) == 3
        assert azurite.running
        for port in ports:
            assert await port_accepts("127.0.0.1", port)
            assert f"127.0.0.1:{port}/devstoreaccount1" in azurite.connection_string
        async with QueueServiceClient.from_connection_string(azurite.connection_string) as service:
            await service.create_queue("fresh")
            assert [q.name async for q in service.list_queues()] == ["fresh"]
    finally:
        await azurite.stop()
    assert not azurite.running
    for port in ports:
        assert not await port_accepts("127.0.0.1", port)


async def test_explicit_ports_and_disk_location(tmp_path: Path) -> None:
    blob, queue, table = free_ports(3)
    async with AzuriteProcess(blob, queue, table, location=tmp_path / "data") as azurite:
        assert (azurite.blob_port, azurite.queue_port, azurite.table_port) == (blob, queue, table)
        async with QueueServiceClient.from_connection_string(azurite.connection_string) as service:
            await service.create_queue("persisted")
    assert any((tmp_path / "data").iterdir())
    async with AzuriteProcess(blob, queue, table, location=tmp_path / "data") as restarted:
        client = QueueServiceClient.from_connection_string(restarted.connection_string)
        async with client as service:
            assert [q.name async for q in service.list_queues()] == ["persisted"]


async def test_early_exit_reports_the_output() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))  # bound, not listening: Azurite's bind fails, probes are refused
        taken = holder.getsockname()[1]
        blob, table = free_ports(2)
        with pytest.raises(ConfigurationError) as caught:
            await AzuriteProcess(blob, taken, table).start()
    message = str(caught.value)
    assert "Azurite exited" in message
    assert "EADDRINUSE" in message


def test_connection_string_needs_a_started_process() -> None:
    with pytest.raises(RuntimeError, match="start"):
        _ = AzuriteProcess().connection_string


def test_use_development_storage_expands() -> None:
    assert expand_connection_string("UseDevelopmentStorage=true") == DEV_STORAGE_CONNECTION_STRING
    assert expand_connection_string("usedevelopmentstorage=TRUE;") == DEV_STORAGE_CONNECTION_STRING
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in DEV_STORAGE_CONNECTION_STRING
    proxied = expand_connection_string(
        "UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite.local"
    )
    assert "BlobEndpoint=http://azurite.local:10000/devstoreaccount1" in proxied
    explicit = "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=b"
    assert expand_connection_string(explicit) == explicit


async def test_ensure_dev_storage_starts_then_reuses(tmp_path: Path) -> None:
    blob, queue, table = ports = (*free_ports(3),)
    started = await ensure_dev_storage(tmp_path, ports=(blob, queue, table))
    assert started is not None
    try:
        assert started.location == tmp_path / ".azurite"
        assert (started.blob_port, started.queue_port, started.table_port) == ports
        assert await ensure_dev_storage(tmp_path, ports=(blob, queue, table)) is None
    finally:
        await started.stop()


async def test_ensure_dev_storage_refuses_a_partly_taken_set(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        blob, table = free_ports(2)
        with pytest.raises(ConfigurationError) as caught:
            await ensure_dev_storage(tmp_path, ports=(blob, taken, table))
    message = str(caught.value)
    assert f"port {taken} (queue) is in use" in message
    assert f"{blob} (blob)" in message
    assert not (tmp_path / ".azurite").exists()


ORPHAN_SCRIPT = """
import asyncio, os
from durable_ext.host.azurite import AzuriteProcess

async def main() -> None:
    azurite = AzuriteProcess()
    await azurite.start()
    print(azurite._process.pid, azurite.queue_port, flush=True)
    os._exit(0)  # no stop(): as when a test run is killed by a timeout

asyncio.run(main())
"""


async def test_azurite_dies_with_a_killed_parent() -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", ORPHAN_SCRIPT, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(child.communicate(), 60)
    pid, queue_port = (int(word) for word in out.split())
    for _ in range(100):
        if not _alive(pid) and not await port_accepts("127.0.0.1", queue_port):
            return
        await asyncio.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"Azurite (pid {pid}) outlived its parent")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting to be reaped counts as dead
        return stat.read().split()[2] != "Z"
