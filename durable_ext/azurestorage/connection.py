"""Storage connection strings, including the emulator's ``UseDevelopmentStorage=true`` shorthand."""

from __future__ import annotations

from urllib.parse import urlsplit

EMULATOR_ACCOUNT_NAME = "devstoreaccount1"
EMULATOR_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
DEV_STORAGE_HOST = "127.0.0.1"
DEV_STORAGE_PORTS = (10000, 10001, 10002)


def emulator_connection_string(
    blob_port: int, queue_port: int, table_port: int, host: str = DEV_STORAGE_HOST, scheme: str = "http"
) -> str:
    """The explicit connection string of an Azurite listening on ``host`` and the three ports."""
    base = f"{scheme}://{host}"
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={EMULATOR_ACCOUNT_NAME};"
        f"AccountKey={EMULATOR_ACCOUNT_KEY};"
        f"BlobEndpoint={base}:{blob_port}/{EMULATOR_ACCOUNT_NAME};"
        f"QueueEndpoint={base}:{queue_port}/{EMULATOR_ACCOUNT_NAME};"
        f"TableEndpoint={base}:{table_port}/{EMULATOR_ACCOUNT_NAME}"
    )


DEV_STORAGE_CONNECTION_STRING = emulator_connection_string(*DEV_STORAGE_PORTS)


def expand_connection_string(value: str) -> str:
    """Turn ``UseDevelopmentStorage=true`` (optionally with ``DevelopmentStorageProxyUri``) into an
    explicit connection string on the default ports; any other value is returned unchanged."""
    parts = connection_string_parts(value)
    if parts.get("usedevelopmentstorage", "").lower() != "true":
        return value
    proxy = parts.get("developmentstorageproxyuri")
    if not proxy:
        return DEV_STORAGE_CONNECTION_STRING
    url = urlsplit(proxy)
    return emulator_connection_string(
        *DEV_STORAGE_PORTS, host=url.hostname or DEV_STORAGE_HOST, scheme=url.scheme or "http"
    )


def connection_string_parts(value: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in value.split(";") if "=" in part)
    return {key.strip().lower(): item.strip() for key, item in pairs}
