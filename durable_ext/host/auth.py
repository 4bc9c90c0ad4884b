"""Who may call what: keys for HTTP functions, the management API and the monitor.

A request from this machine (a loopback peer, or a peer whose address is the socket's own) that no proxy
forwarded is trusted without a key, as ``func start`` trusts local callers and as the .NET host's local
RPC endpoint does; that is also how the SDK client inside the app's own functions reaches the API. Every
other request needs a key by what it calls, passed as ``?code=`` or the ``x-functions-key`` header:

* an HTTP function of ``auth_level`` ``FUNCTION``: its function key, a host key or the master key;
* an ``ADMIN`` function and the monitor: the master key;
* the management API (``/runtime/webhooks/durabletask/...`` and the SDK's ``/durabletask/...``): the
  durable task system key or the master key.
"""

from __future__ import annotations

import ipaddress
import logging
from enum import StrEnum

from aiohttp import web

from bindings.http import error_response

from .keys import FUNCTION_KEYS_SETTING, HOST_KEYS_SETTING, MASTER_KEY_SETTING, HostKeys, matches

log = logging.getLogger("durable_ext.auth")

KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class Access(StrEnum):
    """What a route needs from a caller that is not on this machine."""

    ANONYMOUS = "anonymous"
    FUNCTION = "function"
    ADMIN = "admin"
    DURABLETASK = "durabletask"
    MONITOR = "monitor"

    @classmethod
    def of_auth_level(cls, auth_level: str | None) -> Access:
        """The access of an HTTP trigger's ``authLevel`` (the SDK writes ANONYMOUS, FUNCTION or ADMIN)."""
        level = (auth_level or "function").strip().lower()
        return {"anonymous": cls.ANONYMOUS, "admin": cls.ADMIN}.get(level, cls.FUNCTION)


def is_loopback_bind(host: str) -> bool:
    """True when ``--host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_local_request(request: web.Request) -> bool:
    """True for a request from this machine that no proxy forwarded."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    forwarded = any(name in request.headers for name in FORWARDING_HEADERS)
    return is_local_peer(request.remote, sockname[0] if sockname else None, forwarded=forwarded)


def is_local_peer(peer_text: str | None, local_text: str | None, *, forwarded: bool = False) -> bool:
    """A peer on loopback, or at the socket's own address, is this machine; a forwarded request is not."""
    if forwarded:
        return False
    peer = _address(peer_text)
    if peer is None:
        return False
    return peer.is_loopback or peer == _address(local_text)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def presented_key(request: web.Request) -> str | None:
    return request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY) or None


class RequestAuthorizer:
    def __init__(self, keys: HostKeys) -> None:
        self.keys = keys

    def refusal(self, request: web.Request, access: Access, function_name: str = "") -> web.Response | None:
        """None when the request may go on; else the 401 that says which key it needs and how to pass it."""
        if access is Access.ANONYMOUS or is_local_request(request):
            return None
        key = presented_key(request)
        opening = self.keys_for(access, function_name)
        if key is not None and matches(key, opening):
            return None
        what, settings = self._needs(access, function_name)
        if not opening:
            message = (
                f"{what} needs a key for callers outside this machine, and none is configured: set "
                f"{settings} in the app settings, then pass it as ?{KEY_QUERY}=<key> or the {KEY_HEADER} "
                "header."
            )
        elif key is None:
            how = f"pass it as ?{KEY_QUERY}=<key> or the {KEY_HEADER} header"
            message = f"{what} needs a key ({settings}): {how}."
        else:
            message = f"The key given does not open {what[0].lower()}{what[1:]}; it needs {settings}."
        log.info("Refused %s %s from %s: %s", request.method, request.path, request.remote, message)
        return error_response(401, message)

    def keys_for(self, access: Access, function_name: str) -> list[str]:
        """The configured keys that open ``access`` (none: nothing is configured that could)."""
        if access in (Access.ADMIN, Access.MONITOR):
            return self.keys.admin_keys()
        if access is Access.DURABLETASK:
            return self.keys.durabletask_keys()
        return self.keys.function_keys(function_name)

    @staticmethod
    def _needs(access: Access, function_name: str) -> tuple[str, str]:
        if access is Access.ADMIN and not function_name:
            return "The host admin API (/admin/...)", f"the master key ({MASTER_KEY_SETTING})"
        if access is Access.ADMIN:
            return f"The admin-level function '{function_name}'", f"the master key ({MASTER_KEY_SETTING})"
        if access is Access.MONITOR:
            return "The monitor", f"the master key ({MASTER_KEY_SETTING})"
        if access is Access.DURABLETASK:
            return (
                "The durable task management API",
                f"the durable task key from the management links or the master key ({MASTER_KEY_SETTING})",
            )
        return (
            f"The function '{function_name}'",
            f"a function key ({FUNCTION_KEYS_SETTING}), a host key ({HOST_KEYS_SETTING}) or the master "
            f"key ({MASTER_KEY_SETTING})",
        )
