"""Replay tests: before a deploy, prove that the new orchestrator code still replays the histories of
the instances already in the task hub (an instance in flight replays its history on the new code).

Here the histories are recorded by the test itself through the fixture; in a project they are usually
exported from the real task hub (`durable-ext durable export-history --out histories/`) and kept next to
the tests. `replay(app_folder, histories)` runs each through the real SDK and the engine's replay, without
a task hub; `durable-ext durable replay --dir histories/` does the same from a shell and exits with 1
when any diverges, so it can guard a deploy in CI.
"""

import subprocess
import sys

from durable_ext.testing import replay


def record(durable, folder, name, input=None, event=None):
    instance_id = durable.start(name, input)
    if event is not None:
        durable.raise_event(instance_id, *event)
    assert durable.wait_for_completion(instance_id).runtime_status == "Completed"
    return instance_id, durable.export_history(instance_id, folder)


def changed_chaining_app(durable, folder):
    """A copy of the function chaining sample, as an app of its own, with one line changed."""
    source = (durable.script_root / "samples" / "function_chaining.py").read_text()
    changed = source.replace('call_activity("say_hello", city)', 'call_activity("say_goodbye", city)')
    assert changed != source
    folder.mkdir()
    (folder / "chaining_changed.py").write_text(changed)
    (folder / "function_app.py").write_text(
        "import azure.durable_functions as df\n\nimport chaining_changed\n\n"
        "app = df.DFApp()\napp.register_functions(chaining_changed.bp)\n"
    )
    return folder


def test_the_current_code_replays_what_it_recorded(durable, tmp_path):
    record(durable, tmp_path, "hello_cities")
    record(durable, tmp_path, "approval_workflow", 60, ("Approval", {"approved": True, "by": "Ada"}))
    record(durable, tmp_path, "deploy_everywhere", ["eu", "us"])
    result = replay(durable.script_root, tmp_path)
    result.assert_replays()
    assert len(result.instances) == 3


def test_a_changed_orchestrator_is_caught_before_the_deploy(durable, tmp_path):
    instance_id, _ = record(durable, tmp_path / "histories", "hello_cities")
    app = changed_chaining_app(durable, tmp_path / "changed")
    result = replay(app, tmp_path / "histories")
    assert not result.ok
    message = result[instance_id].describe()
    assert "say_hello" in message and "say_goodbye" in message


def test_the_command_line_guard_fails_the_build(durable, tmp_path):
    record(durable, tmp_path / "histories", "hello_cities")
    app = changed_chaining_app(durable, tmp_path / "changed")
    command = [sys.executable, "-m", "durable_ext", "durable", "replay", "--script-root", str(app)]
    done = subprocess.run([*command, "--dir", str(tmp_path / "histories")], capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "say_goodbye" in done.stdout
