"""Which storage a test runs on: the in-memory task hub by default, a private Azurite when the test
needs real storage (queue, blob and table triggers and bindings do), chosen per test with the marker.

A test that drives the app only over HTTP gets plain time skipping: nothing is held, so durable time
jumps ahead whenever the app has nothing to run.
"""

import json
import time
import urllib.request
import uuid

import pytest


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read() or b"null")


def poll_until_done(status_url, timeout_s=30):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _, body = http("GET", status_url)
        if body["runtimeStatus"] in ("Completed", "Failed", "Terminated"):
            return body
        time.sleep(0.02)
    raise TimeoutError(f"{status_url} did not finish in {timeout_s} s")


@pytest.mark.durable(storage="memory")
def test_over_http_a_three_day_timeout_passes_at_once(durable):
    status, links = http("POST", f"{durable.base_url}/api/orchestrators/approval_workflow", 3 * 24 * 3600)
    assert status == 202
    assert poll_until_done(links["statusQueryGetUri"])["output"] == "escalated: no decision in time"


@pytest.mark.durable(storage="azurite")
def test_an_order_goes_through_a_storage_queue_into_an_orchestration(durable):
    order = uuid.uuid4().int % 1_000_000
    status, _ = http("POST", f"{durable.base_url}/api/orders", {"order": order, "items": 2})
    assert status == 202
    done = durable.wait_for_completion(f"order-{order}")
    assert done.output == {"order": order, "receipt": f"order-{order}-charged-for-2-items"}
