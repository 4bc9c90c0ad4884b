"""The getting-started guide works as written: its app, run by the host, gives the output it promises."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest

from .hosting import REPO_ROOT, start_host, stop_host, wait_until_serving
from .polling import poll_status

GUIDE = REPO_ROOT / "docs" / "getting-started.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def _write_app(folder: Path) -> None:
    app = next(block for block in _blocks("python") if "df.DFApp" in block)
    host_json, settings = (block for block in _blocks("json") if "{" in block)
    (folder / "function_app.py").write_text(app)
    (folder / "host.json").write_text(host_json)
    (folder / "local.settings.json").write_text(settings)


async def test_the_guide_app_runs_and_answers_as_promised(
    connection_string: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    _write_app(tmp_path)
    assert "MyFirstHub" in (tmp_path / "host.json").read_text()
    host = start_host(tmp_path, connection_string, tmp_path / "host.log", {})
    try:
        await wait_until_serving(host)
        url = f"{host.base_url}/api/orchestrators/greet_all"
        async with http.post(url, json=["Oslo", "Lima"]) as response:
            assert response.status == 202
            links = await response.json()
        final = await poll_status(http, links["statusQueryGetUri"])
        assert final["runtimeStatus"] == "Completed"
        assert final["output"] == ["Hello Oslo!", "Hello Lima!"]
        async with http.get(f"{host.base_url}/runtime/webhooks/durabletask/monitor") as response:
            assert response.status == 200
    finally:
        stop_host(host)
    if host.process.returncode not in (0, -15):
        pytest.fail(f"the host exited with {host.process.returncode}:\n{host.log()}")
