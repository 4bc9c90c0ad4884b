"""The monitor page is rendered with its assets inlined and its configuration escaped."""

from __future__ import annotations

import html
import json
import re

from durable_ext.extension.monitor import render_page


def test_assets_are_inlined_and_the_hub_is_escaped() -> None:
    page = render_page('Hub"<script>', "/runtime/webhooks/durabletask")
    assert "/*STYLE*/" not in page and "/*SCRIPT*/" not in page and "{{" not in page
    assert "<script>" in page and ".gantt" in page
    assert 'Hub"<script>' not in page, "the hub name cannot break out of the page"
    found = re.search(r'data-config="([^"]*)"', page)
    assert found is not None
    assert json.loads(html.unescape(found.group(1))) == {
        "hub": 'Hub"<script>',
        "api": "/runtime/webhooks/durabletask",
        "readOnly": False,
        "header": "x-durable-ext-monitor",
    }
    read_only = re.search(r'data-config="([^"]*)"', render_page("Hub", "/x", read_only=True))
    assert read_only is not None and json.loads(html.unescape(read_only.group(1)))["readOnly"] is True


def test_the_script_never_closes_its_own_tag_early() -> None:
    page = render_page("Hub", "/x")
    script = page.split("<script>", 1)[1]
    assert script.count("</script>") == 1
