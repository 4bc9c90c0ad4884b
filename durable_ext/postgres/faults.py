"""Which database errors are the database being away or busy (retried: a
:class:`~durable_ext.errors.TransientStorageError`), and what each says in the hub's health."""

from __future__ import annotations

import socket

import asyncpg

from ..core.health import StorageFault, first_line

TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # the connection broke (class 08)
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crashed, cancelled (57)
    asyncpg.exceptions.TransactionRollbackError,  # deadlock, serialization failure (40)
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections, disk full (53)
    asyncpg.InterfaceError,  # "connection is closed" and the like, from the driver
    asyncpg.exceptions.InternalClientError,  # a connection left mid-operation when the server went away
)


def fault_of(exc: BaseException) -> StorageFault:
    if isinstance(exc, ConnectionRefusedError):
        kind = "refused"
    elif isinstance(exc, socket.gaierror):
        kind = "dns"
    elif isinstance(exc, TimeoutError):
        kind = "timeout"
    elif isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError):
        kind = "auth"
    else:
        kind = "error"
    return StorageFault(kind, first_line(exc))
