"""The monitor in a real browser: headless Chromium driven by Playwright over the sample app's host.

Screenshots of each page are kept under ``test-artifacts/monitor/`` (or ``$DURABLE_EXT_ARTIFACTS``).
Chromium comes from Debian's ``chromium`` package (``make browser``); without it the tests skip, except
in CI, where a missing browser is a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, Route, async_playwright, expect

from durable_ext.azurestorage.connection import emulator_connection_string
from durable_ext.host.child_process import free_ports

from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving
from .polling import poll_status
from .test_postgres_host import postgres_app, serve_postgres_app

WEBHOOKS = "/runtime/webhooks/durabletask"
ARTIFACTS = Path(os.environ.get("DURABLE_EXT_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "monitor"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "headless Chromium is not installed: run `make browser` (Debian's chromium package)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1360, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"the page raised script errors: {errors}"


async def _screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000, "a screenshot of a rendered page is not a blank image"
    return path


async def _start(
    http: aiohttp.ClientSession, host: RunningHost, name: str, instance_id: str, body: Any
) -> str:
    url = f"{host.base_url}{WEBHOOKS}/orchestrators/{name}/{instance_id}"
    # As on Azure, a Python orchestrator's get_input() reads a JSON string holding the JSON of the input
    # (what the SDK client's start_new sends), so the body is the input's JSON as a JSON string.
    async with http.post(url, json=json.dumps(body)) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["statusQueryGetUri"])


@pytest.fixture(scope="module")
async def instances(sample_host: RunningHost) -> dict[str, str]:
    """A finished fan-out, a finished set of sub-orchestrations and an approval that waits for its event."""
    prefix = f"ui{uuid.uuid4().hex[:6]}-"
    ids = {
        "fan": f"{prefix}fan",
        "deploy": f"{prefix}deploy",
        "approval": f"{prefix}approval",
        "prefix": prefix,
        "counter": f"ui-{uuid.uuid4().hex[:6]}",
        "failed": f"uifail-{uuid.uuid4().hex[:6]}",
    }
    async with aiohttp.ClientSession() as http:
        fan = await _start(http, sample_host, "fan_out_fan_in", ids["fan"], 4)
        deploy = await _start(http, sample_host, "deploy_everywhere", ids["deploy"], ["eu", "us"])
        await _start(http, sample_host, "approval_workflow", ids["approval"], 300)
        assert (await poll_status(http, fan))["runtimeStatus"] == "Completed"
        assert (await poll_status(http, deploy, timeout_s=60))["runtimeStatus"] == "Completed"
        failed = await _start(http, sample_host, "deploy_everywhere", ids["failed"], ["mars"])
        await _counter_at_7(http, sample_host, ids["counter"])
        assert (await poll_status(http, failed, timeout_s=60))["runtimeStatus"] == "Failed"
    return ids


async def _counter_at_7(http: aiohttp.ClientSession, host: RunningHost, key: str) -> None:
    """Signal the sample app's counter ``key`` to add 7, and wait until it reads 7."""
    entity = f"{host.base_url}{WEBHOOKS}/entities/counter/{key}"
    async with http.post(f"{entity}?op=add", json=7) as response:
        assert response.status == 202
    for _ in range(100):
        async with http.get(entity) as response:
            if response.status == 200 and await response.json() == 7:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the counter {key} never read 7")


async def _status_becomes(http: aiohttp.ClientSession, status_url: str, status: str) -> None:
    for _ in range(300):
        async with http.get(status_url) as response:
            if (await response.json(content_type=None) or {}).get("runtimeStatus") == status:
                return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{status_url} never became {status}")


async def _open(page: Page, host: RunningHost, fragment: str) -> None:
    await page.goto(f"{host.base_url}{WEBHOOKS}/monitor#{fragment}")
    # the page sets data-ready to the route it has shown (no script evaluation: the page's CSP forbids it)
    await page.wait_for_selector(f'body[data-ready="#{fragment}"]', state="attached")


async def test_the_list_filters_by_prefix_status_and_name(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances?instanceIdPrefix={instances['prefix']}")
    rows = page.locator("#instances tbody tr")
    children = [f"{instances['deploy']}-eu", f"{instances['deploy']}-us"]
    await expect(rows).to_have_count(5)
    assert sorted(await rows.evaluate_all("rows => rows.map(r => r.dataset.instanceId)")) == sorted(
        [instances["approval"], instances["deploy"], instances["fan"], *children]
    )
    approval_row = page.locator(f'tr[data-instance-id="{instances["approval"]}"]')
    await expect(approval_row.locator(".status")).to_have_text("Running")
    await expect(page.locator("#instances tbody .status.Completed")).to_have_count(4)
    await _screenshot(page, "instance-list")

    await page.fill("#filters input[name=name]", "fan_out_fan_in")
    await page.click("#filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-instance-id", instances["fan"])
    assert "name=fan_out_fan_in" in page.url, "filters live in the address, so a filtered list can be shared"

    await page.fill("#filters input[name=name]", "")
    await page.check('#filters input[name=runtimeStatus][value="Running"]')
    await page.click("#filters button[type=submit]")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-instance-id", instances["approval"])


async def test_the_list_is_newest_first_with_the_counts_on_the_status_chips(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances?instanceIdPrefix={instances['prefix']}")
    rows = page.locator("#instances tbody tr")
    await expect(rows).to_have_count(5)
    created = await rows.evaluate_all("rows => rows.map(r => r.querySelector('td.created').textContent)")
    assert created == sorted(created, reverse=True), "newest first by default"
    chip = 'label:has(input[value="{}"]) .count'
    await expect(page.locator(chip.format("Completed"))).to_have_text("4")
    await expect(page.locator(chip.format("Running"))).to_have_text("1")
    await expect(page.locator(chip.format("Failed"))).to_have_text("0")
    await expect(page.locator("#total-count")).to_have_text("5 in all")
    await expect(page.locator("#histogram .bar")).to_have_count(24)
    await expect(page.locator("#histogram")).to_have_attribute("data-total", "5")
    heights = await page.locator("#histogram .bar").evaluate_all(
        "bars => bars.map(b => Number(b.dataset.count))"
    )
    assert sum(heights) == 5
    await _screenshot(page, "instance-list-counts")
    await page.select_option("#filters select[name=order]", "oldest")
    await page.click("#filters button[type=submit]")
    await expect(page.locator("body")).to_have_attribute("data-ready", re.compile("order=oldest"))
    oldest = await rows.evaluate_all("rows => rows.map(r => r.querySelector('td.created').textContent)")
    assert oldest == sorted(created)


async def test_selected_rows_and_every_match_are_acted_on_from_the_list(
    page: Page, sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    prefix = f"uibulk{uuid.uuid4().hex[:6]}-"
    urls = [await _start(http, sample_host, "approval_workflow", f"{prefix}{i}", 300) for i in range(3)]
    for url in urls:
        await _status_becomes(http, url, "Running")
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await _open(page, sample_host, f"/instances?instanceIdPrefix={prefix}")
    rows = page.locator("#instances tbody tr")
    await expect(rows).to_have_count(3)
    for i in (0, 1):
        await page.check(f'tr[data-instance-id="{prefix}{i}"] .pick-one')
    await expect(page.locator("#selected-count")).to_have_text("2 selected")
    await page.select_option("#bulk-operation", "suspend")
    await page.click("#act-selected")
    await expect(page.locator("#banner")).to_contain_text("suspend sent to 2 of 2")
    for i in (0, 1):
        await _status_becomes(http, urls[i], "Suspended")
    await page.select_option("#bulk-operation", "terminate")
    await page.click("#act-all")
    await expect(page.locator("#job-progress")).to_have_attribute("data-status", "Completed", timeout=30_000)
    await expect(page.locator("#job-progress")).to_contain_text("3 done, 0 failed")
    for url in urls:
        assert (await poll_status(http, url))["runtimeStatus"] == "Terminated"
    await _screenshot(page, "bulk-terminated")


async def test_a_failed_instance_is_drawn_red_with_its_input_decoded(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances/{instances['failed']}")
    await expect(page.locator("#i-status")).to_have_text("Failed")
    await expect(page.locator("#timeline .bar.orchestration.failed")).to_have_count(1)
    await expect(page.locator("#timeline .bar.suborchestration.failed")).to_have_count(1)
    await expect(page.locator("#sequence .participant.suborchestration")).to_have_count(1)
    await expect(page.locator("#sequence .message.failed")).to_have_count(1)
    await expect(page.locator("#i-input")).to_have_text('[\n  "mars"\n]')  # not "[\"mars\"]"
    await _screenshot(page, "instance-failed")


async def test_paging_walks_the_list_with_the_continuation_token(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances?instanceIdPrefix={instances['prefix']}&top=2")
    rows = page.locator("#instances tbody tr")
    ids = "rows => rows.map(r => r.dataset.instanceId)"
    await expect(rows).to_have_count(2)
    first_page = await rows.evaluate_all(ids)
    seen = list(first_page)
    for number, size in ((2, 2), (3, 1)):
        await page.click("#next-page")
        await expect(page.locator("#page-number")).to_have_text(f"Page {number}")
        await expect(rows).to_have_count(size)
        seen += await rows.evaluate_all(ids)
    assert len(set(seen)) == 5, "every instance is on exactly one page"
    await expect(page.locator("#next-page")).to_be_disabled()
    await page.click("#prev-page")
    await page.click("#prev-page")
    await expect(page.locator("#page-number")).to_have_text("Page 1")
    await expect(rows.first).to_have_attribute("data-instance-id", first_page[0])  # rows redrawn too
    assert await rows.evaluate_all(ids) == first_page


async def test_an_instance_page_shows_its_data_and_a_timeline(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances?instanceIdPrefix={instances['prefix']}")
    await page.click(f'a[href="#/instances/{instances["fan"]}"]')
    await expect(page.locator("#i-status")).to_have_text("Completed")
    await expect(page.locator("#i-name")).to_have_text("fan_out_fan_in")
    await expect(page.locator("#i-input")).to_have_text("4")  # the SDK's JSON text "4", decoded
    await expect(page.locator("#i-input")).to_have_class("json decoded")
    assert '"sum_of_squares": 30' in await page.locator("#i-output").inner_text()
    timeline = page.locator("#timeline")
    await expect(timeline.locator(".bar.orchestration")).to_have_count(1)
    await expect(timeline.locator(".bar.activity")).to_have_count(5)  # list_work_items, then 4 squares
    labels = await timeline.locator(".bar.activity").evaluate_all("bars => bars.map(b => b.dataset.label)")
    assert labels.count("square") == 4 and "list_work_items" in labels
    sequence = page.locator("#sequence")
    participants = await sequence.locator(".participant").evaluate_all("gs => gs.map(g => g.dataset.name)")
    assert participants == ["fan_out_fan_in", "list_work_items", "square"]
    await expect(sequence.locator(".message")).to_have_count(10)  # five calls, five results
    await expect(sequence.locator(".message.failed")).to_have_count(0)
    widths = await timeline.locator(".bar").evaluate_all(
        "bars => bars.map(b => b.getBoundingClientRect().width)"
    )
    lane = await timeline.locator(".lane").first.evaluate("l => l.getBoundingClientRect().width")
    assert max(widths) == pytest.approx(lane, abs=2), "the orchestration spans the whole axis"
    assert all(0 < w <= lane + 1 for w in widths)
    await expect(page.locator("#history tbody tr").first).to_contain_text("ExecutionStarted")
    await expect(page.locator('[data-action="terminate"]')).to_be_disabled()
    await _screenshot(page, "instance-fan-out")

    await _open(page, sample_host, f"/instances/{instances['deploy']}")
    await expect(page.locator("#timeline .bar.suborchestration")).to_have_count(2)
    await _screenshot(page, "instance-sub-orchestrations")


async def test_raising_an_event_from_the_page_completes_the_approval(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, f"/instances/{instances['approval']}")
    await expect(page.locator("#i-status")).to_have_text("Running")
    await expect(page.locator("#i-custom")).to_have_text('"waiting for approval"')
    await expect(page.locator("#timeline .bar.timer.pending")).to_have_count(1)
    await page.fill("#raise-form input[name=eventData]", "{not json")
    await page.fill("#raise-form input[name=eventName]", "Approval")
    await page.click("#raise-form button")
    await expect(page.locator("#banner")).to_contain_text("not JSON")
    await page.fill("#raise-form input[name=eventData]", '{"approved": true, "by": "the monitor"}')
    await page.click("#raise-form button")
    await expect(page.locator("#banner")).to_contain_text("Event 'Approval' raised")
    # no click: the page follows a running instance by itself
    await expect(page.locator("#i-status")).to_have_text("Completed", timeout=20_000)
    await expect(page.locator("#auto-refresh")).to_be_disabled()
    await expect(page.locator("#i-output")).to_have_text('"approved by the monitor"')
    await expect(page.locator("#timeline .bar.event")).to_have_count(1)
    await expect(page.locator("#timeline .bar.timer.canceled")).to_have_count(1)
    await _screenshot(page, "instance-approved")


async def test_work_in_flight_is_drawn_until_it_completes(
    page: Page, features_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id = f"ui-slow-{uuid.uuid4().hex[:6]}"
    await _start(http, features_host, "slow_work", instance_id, 4)
    await _open(page, features_host, f"/instances/{instance_id}")
    timeline = page.locator("#timeline")
    await expect(timeline.locator(".bar.activity.pending")).to_have_count(1)
    await expect(timeline.locator(".bar.suborchestration.pending")).to_have_count(1)
    await expect(timeline.locator(".duration").first).to_contain_text("so far")
    await _screenshot(page, "instance-in-flight")
    await timeline.locator(f'a.label[href="#/instances/{instance_id}-child"]').click()
    await expect(page.locator("#i-name")).to_have_text("timer_then_echo")
    await page.go_back()
    await expect(page.locator("#i-status")).to_have_text("Completed", timeout=20_000)
    await expect(timeline.locator(".bar.pending")).to_have_count(0)
    await expect(timeline.locator(".bar.activity")).to_have_count(1)
    await expect(timeline.locator(".bar.suborchestration")).to_have_count(1)
    await expect(page.locator("#i-output")).to_contain_text('"slept"')


async def test_terminate_and_purge_from_the_page(
    page: Page, sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id = f"ui-stop-{uuid.uuid4().hex[:6]}"
    status_url = await _start(http, sample_host, "approval_workflow", instance_id, 300)
    await _open(page, sample_host, f"/instances/{instance_id}")
    await page.fill("#reason", "not needed")
    await page.click('[data-action="terminate"]')
    await expect(page.locator("#banner")).to_contain_text("Terminate sent")
    final = await poll_status(http, status_url)
    assert final["runtimeStatus"] == "Terminated" and final["output"] == "not needed"
    await page.click("#reload")
    await expect(page.locator("#i-status")).to_have_text("Terminated")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click('[data-action="purge"]')
    await expect(page.locator("#banner")).to_contain_text(f"Purged {instance_id}")
    async with http.get(status_url) as response:
        assert response.status == 404
    await expect(page.locator("#nav-instances")).to_have_class("active")
    await _open(page, sample_host, f"/instances/{instance_id}")
    await expect(page.locator("#banner")).to_contain_text(f"No instance '{instance_id}'")


async def test_a_view_left_before_its_answers_come_drops_them(page: Page, sample_host: RunningHost) -> None:
    # The list asks for its counts and histogram beside its page; leave it for the entities before those
    # come: their answers must not be written into the entities view (the fixture fails on any script error).
    answers = asyncio.Event()
    held: list[str] = []

    async def hold(route: Route) -> None:
        held.append(route.request.url)
        await answers.wait()
        await route.continue_()

    await page.route("**/counts*", hold)
    await page.route("**/histogram*", hold)
    await page.goto(f"{sample_host.base_url}{WEBHOOKS}/monitor#/instances")
    for _ in range(400):
        if len(held) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(held) == 2, held
    await _open(page, sample_host, "/entities")  # the same page: only its fragment changes
    answers.set()
    await expect(page.locator("#entities")).to_be_visible()
    await page.wait_for_timeout(500)  # the held answers arrive and are dropped
    await expect(page.locator("#total-count")).to_have_count(0)


async def test_the_function_graph_shows_what_each_orchestrator_calls_and_its_counts(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, "/functions")
    fan = page.locator('.orchestrator[data-name="fan_out_fan_in"]')
    await expect(fan.locator(".callee")).to_have_count(2)
    callees = await fan.locator(".callee").evaluate_all("items => items.map(i => i.dataset.name)")
    assert callees == ["list_work_items", "square"]
    completed = fan.locator('.chip[data-status="Completed"]')
    assert int(await completed.get_attribute("data-count") or 0) >= 1
    deploy = page.locator('.orchestrator[data-name="deploy_everywhere"]')
    await expect(deploy.locator(".callee.suborchestration")).to_have_count(1)
    await expect(page.locator(".orchestrator")).to_have_count(len(await _orchestrators(sample_host)))
    await _screenshot(page, "function-graph")


async def _orchestrators(host: RunningHost) -> list[str]:
    async with aiohttp.ClientSession() as http, http.get(f"{host.base_url}{WEBHOOKS}/functions") as response:
        return list((await response.json())["orchestrators"])


async def test_a_read_only_monitor_hides_actions_and_the_api_refuses_them(
    page: Page, connection_string: str, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    env = {"DURABLE_EXT_MONITOR_READ_ONLY": "true"}
    host = start_host(REPO_ROOT, connection_string, tmp_path / "host.log", env)
    try:
        await wait_until_serving(host)
        instance_id = f"ui-ro-{uuid.uuid4().hex[:6]}"
        await _start(http, host, "approval_workflow", instance_id, 300)
        await _open(page, host, f"/instances/{instance_id}")
        await expect(page.locator("#i-status")).to_have_text(re.compile("Running|Pending"))
        await expect(page.locator(".read-only-badge")).to_be_visible()
        await expect(page.locator('[data-action="terminate"]')).to_be_hidden()
        await expect(page.locator("#raise-form")).to_be_hidden()
        await _screenshot(page, "read-only")
        terminate = f"{host.base_url}{WEBHOOKS}/instances/{instance_id}/terminate"
        async with http.post(terminate, headers={"x-durable-ext-monitor": "1"}) as response:
            body = await response.json()
            assert response.status == 403 and "DURABLE_EXT_MONITOR_READ_ONLY" in body["Message"]
        async with http.get(f"{host.base_url}{WEBHOOKS}/instances/{instance_id}") as response:
            assert response.status == 202 and (await response.json())["runtimeStatus"] != "Terminated"
    finally:
        stop_host(host)


async def test_entities_are_listed_with_their_state(
    page: Page, sample_host: RunningHost, instances: dict[str, str]
) -> None:
    await _open(page, sample_host, "/entities?entityName=counter")
    row = page.locator(f'#entities tr[data-entity="counter@{instances["counter"]}"]')
    await expect(row).to_have_count(1)
    await expect(row.locator("td.state")).to_have_text("7")
    await _screenshot(page, "entities")


async def test_the_banner_says_when_storage_is_unavailable(
    page: Page, sample_host: RunningHost, hub_name: str, tmp_path: Path
) -> None:
    await page.goto(f"{sample_host.base_url}{WEBHOOKS}/monitor#/instances")
    await expect(page.locator("#host-state")).to_have_attribute("data-checked", "true")
    await expect(page.locator("#host-state")).to_be_hidden()

    app = Path(__file__).parent / "apps" / "outage"
    down = start_host(
        app, emulator_connection_string(*free_ports(3)), tmp_path / "host.log", {"OUTAGE_HUB": hub_name}
    )
    try:
        await wait_until_serving(down)
        await page.goto(f"{down.base_url}{WEBHOOKS}/monitor#/instances")
        banner = page.locator("#host-state")
        await expect(banner).to_be_visible(timeout=15_000)
        await expect(banner).to_contain_text("Host Error", timeout=15_000)
        await expect(banner).to_contain_text("AzureWebJobsStorage")
        await _screenshot(page, "storage-unavailable")
    finally:
        stop_host(down)


@pytest.fixture(scope="module")
async def pg_sample_host(
    connection_string: str, postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    """The sample app with its task hub in PostgreSQL (a schema of its own)."""
    root = postgres_app(tmp_path_factory.mktemp("pg-monitor") / "app", schemaName="monitor")
    async for host in serve_postgres_app(root, connection_string, postgres_dsn):
        yield host


async def test_the_monitor_reads_and_drives_a_postgres_hub(
    page: Page, pg_sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    prefix = f"pg{uuid.uuid4().hex[:6]}-"
    fan = await _start(http, pg_sample_host, "fan_out_fan_in", f"{prefix}fan", 4)
    await _start(http, pg_sample_host, "approval_workflow", f"{prefix}approval", 300)
    assert (await poll_status(http, fan))["runtimeStatus"] == "Completed"
    counter = f"pg-{uuid.uuid4().hex[:6]}"
    await _counter_at_7(http, pg_sample_host, counter)

    await _open(page, pg_sample_host, f"/instances?instanceIdPrefix={prefix}")
    rows = page.locator("#instances tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator(f'tr[data-instance-id="{prefix}approval"] .status')).to_have_text("Running")

    await _open(page, pg_sample_host, f"/instances/{prefix}fan")
    await expect(page.locator("#i-status")).to_have_text("Completed")
    assert '"sum_of_squares": 30' in await page.locator("#i-output").inner_text()
    await expect(page.locator("#timeline .bar.activity")).to_have_count(5)
    await _screenshot(page, "postgres-instance-fan-out")

    await _open(page, pg_sample_host, f"/instances/{prefix}approval")
    await expect(page.locator("#i-custom")).to_have_text('"waiting for approval"')
    await page.fill("#raise-form input[name=eventName]", "Approval")
    await page.fill("#raise-form input[name=eventData]", '{"approved": true, "by": "postgres"}')
    await page.click("#raise-form button")
    await expect(page.locator("#i-status")).to_have_text("Completed", timeout=20_000)
    await expect(page.locator("#i-output")).to_have_text('"approved by postgres"')

    await _open(page, pg_sample_host, "/entities?entityName=counter")
    row = page.locator(f'#entities tr[data-entity="counter@{counter}"]')
    await expect(row.locator("td.state")).to_have_text("7")
