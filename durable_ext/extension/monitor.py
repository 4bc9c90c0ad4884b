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

from .extension import DurableTaskExtension
from .http_common import WEBHOOK_BASE

MONITOR_PATH = WEBHOOK_BASE + "/monitor"
_PACKAGE = "durable_ext.extension.monitor_static"


def _asset(name: str) -> str:
    return resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8")


def render_page(hub_name: str, api_base: str) -> str:
    """The page with its style and script inlined and the hub and API base in its ``data-`` attributes."""
    config = html.escape(json.dumps({"hub": hub_name, "api": api_base}), quote=True)
    return (
        _asset("index.html")
        .replace("/*STYLE*/", _asset("monitor.css"))
        .replace("/*SCRIPT*/", _asset("monitor.js"))
        .replace("{{CONFIG}}", config)
        .replace("{{HUB}}", html.escape(hub_name))
    )


class MonitorPage:
    def __init__(self, extension: DurableTaskExtension) -> None:
        self.body = render_page(extension.hub_name, WEBHOOK_BASE)
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
