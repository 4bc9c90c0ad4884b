"""The monitor: one page served at ``/runtime/webhooks/durabletask/monitor`` that reads the management API.

The page, its script and its style are separate files on disk and go out inlined in one response, so a
caller from another machine needs its key on one URL only (``?code=...``); the script sends that key with
every API call it makes. Who may open the page is the host's business (the master key off this machine).
"""

from __future__ import annotations

import html
import json
from importlib import resources

from aiohttp import web

from ..errors import ConfigurationError
from .extension import DurableTaskExtension
from .http_common import WEBHOOK_BASE

MONITOR_PATH = WEBHOOK_BASE + "/monitor"
_PACKAGE = "durable_ext.extension.monitor_static"
READ_ONLY_SETTING = "DURABLE_EXT_MONITOR_READ_ONLY"
MONITOR_HEADER = "x-durable-ext-monitor"
"""Sent by the monitor with each API call, so that a read-only host can refuse the monitor's actions."""


def monitor_read_only(extension: DurableTaskExtension) -> bool:
    """The ``DURABLE_EXT_MONITOR_READ_ONLY`` app setting: ``true`` or ``false`` (the default)."""
    value = (extension.get_setting(READ_ONLY_SETTING) or "false").strip().lower()
    if value not in ("true", "false"):
        raise ConfigurationError(f"{READ_ONLY_SETTING} is '{value}': set it to true or false.")
    return value == "true"


def _asset(name: str) -> str:
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def render_page(hub_name: str, api_base: str, *, read_only: bool = False) -> str:
    """The page with its style and script inlined and the hub and API base in its ``data-`` attributes."""
    settings = {"hub": hub_name, "api": api_base, "readOnly": read_only, "header": MONITOR_HEADER}
    config = html.escape(json.dumps(settings), quote=True)
    return (
        _asset("index.html")
        .replace("/*STYLE*/", _asset("monitor.css"))
        .replace("/*SCRIPT*/", _asset("monitor.js"))
        .replace("{{CONFIG}}", config)
        .replace("{{HUB}}", html.escape(hub_name))
    )


class MonitorPage:
    def __init__(self, extension: DurableTaskExtension) -> None:
        self.body = render_page(extension.hub_name, WEBHOOK_BASE, read_only=monitor_read_only(extension))
        """Rendered once: the hub and the assets do not change while the host runs."""

    def routes(self) -> list[web.RouteDef]:
        return [web.get(MONITOR_PATH, self.page), web.get(MONITOR_PATH + "/", self.page)]

    async def page(self, request: web.Request) -> web.Response:
        headers = {
            "Cache-Control": "no-store",
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
        return web.Response(text=self.body, content_type="text/html", charset="utf-8", headers=headers)
