"""How to test your own durable app: the `durable` fixture (installed with durable-ext) serves the app
next to your tests, on the in-memory task hub by default (`--durable-storage azurite` runs these same
tests on a private Azurite). Run with `pytest samples/tests` from the repository root; in your project,
`pytest` finds your function_app.py in the rootdir (or set `durable_ext_app` in the ini)."""


def test_function_chaining(durable):
    instance_id = durable.start("hello_cities")
    status = durable.wait_for_completion(instance_id)
    assert status.runtime_status == "Completed"
    assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_human_interaction(durable):
    instance_id = durable.start("approval_workflow", 60)
    durable.raise_event(instance_id, "Approval", {"approved": True, "by": "Ada"})
    assert durable.wait_for_completion(instance_id).output == "approved by Ada"


def test_counter_entity(durable):
    for amount in (2, 3):
        durable.signal_entity("counter", "apples", "add", amount)
    assert durable.wait_for_entity("counter", "apples", lambda state: state == 5) == 5
