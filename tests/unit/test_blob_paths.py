"""Blob paths and trigger patterns, the blob trigger's options and messages, and blob output bytes."""

from __future__ import annotations

import struct

import pytest

from bindings.conversion import Datum
from bindings.storage.blob_options import BlobsOptions
from bindings.storage.blob_output import blob_bytes
from bindings.storage.blob_paths import BlobPath, BlobPathTemplate, BlobPattern
from bindings.storage.blob_scanner import common_prefix
from bindings.storage.blob_trigger_messages import BlobTriggerMessage
from durable_ext.errors import ConfigurationError

WHERE = "Function 'f', blob binding 'b'"


# --------------------------------------------------------------------------- trigger patterns


@pytest.mark.parametrize(
    ("path", "container", "blob", "expected"),
    [
        ("inbox/{name}", "inbox", "a.txt", {"name": "a.txt"}),
        ("inbox/{name}", "inbox", "deep/er/a.txt", {"name": "deep/er/a.txt"}),
        ("inbox/{name}.csv", "inbox", "report.csv", {"name": "report"}),
        ("inbox/{name}.csv", "inbox", "report.txt", None),
        ("inbox/{name}.csv", "inbox", "report.CSV", None),
        ("inbox/{name}.csv", "other", "report.csv", None),
        (
            "input/{blobname}.{blobextension}",
            "input",
            "original-Blob1.txt",
            {"blobname": "original-Blob1", "blobextension": "txt"},
        ),
        ("input/original-{name}", "input", "original-Blob1.txt", {"name": "Blob1.txt"}),
        ("images/{{20140101}}-{name}", "images", "{20140101}-soundfile.mp3", {"name": "soundfile.mp3"}),
        ("inbox", "inbox", "anything/at/all.bin", {}),
        ("inbox", "outbox", "a", None),
        ("inbox/fixed.txt", "inbox", "fixed.txt", {}),
        ("inbox/fixed.txt", "inbox", "fixed.txt.bak", None),
    ],
)
def test_trigger_patterns_match_and_capture(
    path: str, container: str, blob: str, expected: dict[str, str] | None
) -> None:
    assert BlobPattern.parse(path, WHERE).match(container, blob) == expected


def test_the_container_is_compared_without_case_and_the_name_with_it() -> None:
    pattern = BlobPattern.parse("inbox/Report-{n}", WHERE)
    assert pattern.match("INBOX", "Report-1") == {"n": "1"}
    assert pattern.match("inbox", "report-1") is None


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("inbox/{name}", ""),
        ("inbox/{name}.csv", ""),
        ("inbox/in-{name}", "in-"),
        ("inbox", ""),
        ("inbox/a/b/{x}", "a/b/"),
        ("inbox/{{x}}-{y}", "{x}-"),
    ],
)
def test_the_listing_prefix_is_the_literal_start(path: str, prefix: str) -> None:
    assert BlobPattern.parse(path, WHERE).prefix == prefix


def test_common_prefix_of_several_patterns() -> None:
    assert common_prefix(["in-a/", "in-b/"]) == "in-"
    assert common_prefix(["abc", ""]) == ""
    assert common_prefix([]) == ""


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("{container}/{name}", "cannot contain {resolve} tokens"),
        ("in{x}/{name}", "cannot contain {resolve} tokens"),
        ("Inbox/{name}", "not a valid container name"),
        ("ab/{name}", "not a valid container name"),
        ("in--box/{name}", "not a valid container name"),
        ("-inbox/{name}", "not a valid container name"),
        ("inbox/", "text on both sides"),
        ("/name", "text on both sides"),
        ("inbox\\{name}", "contains '\\'"),
        ("inbox/{name", "is never closed"),
        ("inbox/{}", "is not a parameter name"),
    ],
)
def test_invalid_trigger_paths_say_what_to_change(path: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        BlobPattern.parse(path, WHERE)
    assert fragment in str(error.value)
    assert str(error.value).startswith(WHERE)


# --------------------------------------------------------------------------- input / output templates


def test_templates_resolve_from_binding_data() -> None:
    template = BlobPathTemplate.parse("out/{queueTrigger}-{Name}.txt", WHERE)
    assert template.resolve({"QueueTrigger": "msg", "name": "x"}) == BlobPath("out", "msg-x.txt")


def test_the_container_of_an_input_may_come_from_binding_data() -> None:
    template = BlobPathTemplate.parse("{box}/{file.name}", WHERE)
    assert template.resolve({"box": "photos", "file": {"name": "a.png"}}) == BlobPath("photos", "a.png")
    with pytest.raises(ConfigurationError, match="not a valid container name"):
        template.resolve({"box": "No_Such", "file": {"name": "a.png"}})


def test_built_in_expressions_resolve() -> None:
    path = BlobPathTemplate.parse("out/{rand-guid}", WHERE).resolve({})
    assert len(path.name) == 36 and path.name.count("-") == 4
    dated = BlobPathTemplate.parse("out/{DateTime:yyyy}/x", WHERE).resolve({})
    assert dated.name[:4].isdigit() and dated.name.endswith("/x")


def test_a_missing_value_names_the_parameter() -> None:
    with pytest.raises(ConfigurationError, match="No value for named parameter 'name'"):
        BlobPathTemplate.parse("out/{name}", WHERE).resolve({"other": "1"})


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("store", "names a container only"),
        ("Store/x", "not a valid container name"),
        ("store/", "both sides"),
    ],
)
def test_invalid_input_and_output_paths(path: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        BlobPathTemplate.parse(path, WHERE)


def test_resolved_blob_names_are_checked() -> None:
    template = BlobPathTemplate.parse("store/{name}", WHERE)
    with pytest.raises(ConfigurationError, match="1 to 1024"):
        template.resolve({"name": "x" * 1025})
    assert template.resolve({"name": "x" * 1024}).name == "x" * 1024


# --------------------------------------------------------------------------- options, messages, bytes


def _options(section: dict[str, object], sku: str | None = None) -> BlobsOptions:
    return BlobsOptions.from_host_json(section, lambda name: sku if name == "WEBSITE_SKU" else None)


def test_option_defaults_and_the_host_queue_they_give() -> None:
    options = _options({}, sku="Dynamic")
    assert (options.max_degree_of_parallelism, options.poison_blob_threshold) == (8, 5)
    assert options.scan_interval_s == 2.0
    queue = options.queue_options()
    assert (queue.batch_size, queue.new_batch_threshold, queue.max_dequeue_count) == (5, 3, 5)
    assert queue.message_encoding == "base64" and queue.visibility_timeout_s == 0.0


@pytest.mark.parametrize(("dop", "batch", "threshold"), [(16, 9, 7), (62, 32, 30), (1, 1, 0)])
def test_parallelism_splits_as_the_functions_host_does(dop: int, batch: int, threshold: int) -> None:
    queue = _options({"maxDegreeOfParallelism": dop}).queue_options()
    assert (queue.batch_size, queue.new_batch_threshold) == (batch, threshold)


def test_options_are_read_case_insensitively() -> None:
    options = _options({"PoisonBlobThreshold": "2", "scaninterval": "00:00:00.5"})
    assert (options.poison_blob_threshold, options.scan_interval_s) == (2, 0.5)


@pytest.mark.parametrize(
    "section",
    [
        {"poisonBlobThreshold": 0},
        {"poisonBlobThreshold": "many"},
        {"maxDegreeOfParallelism": True},
        {"scanInterval": "2"},
        {"scanInterval": "00:00:00.01"},
        {"scanInterval": "soon"},
    ],
)
def test_bad_options_name_the_setting(section: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError, match=r"host.json extensions\.blobs\."):
        _options(section)


def test_trigger_messages_round_trip_in_the_hosts_json() -> None:
    message = BlobTriggerMessage("Host.Functions.f", "BlockBlob", "inbox", "a/b.txt", '"0x1"')
    text = message.to_json()
    assert text.startswith('{"Type":"BlobTrigger","FunctionId":"Host.Functions.f","BlobType":"BlockBlob"')
    assert '"ETag":"\\"0x1\\""' in text
    assert BlobTriggerMessage.from_json(text.encode()) == message
    with pytest.raises(ValueError, match="not a blob trigger message"):
        BlobTriggerMessage.from_json(b'{"Type":"Other"}')
    with pytest.raises(ValueError, match="has no ETag"):
        BlobTriggerMessage.from_json(
            b'{"Type":"BlobTrigger","FunctionId":"f","ContainerName":"c","BlobName":"b"}'
        )


@pytest.mark.parametrize(
    ("datum", "expected"),
    [
        (Datum("héllo", "string"), "héllo".encode()),
        (Datum(b"\x00\xff", "bytes"), b"\x00\xff"),
        (Datum('{"a": [1, 2]}', "json"), b'{"a":[1,2]}'),
        (Datum(7, "int"), struct.pack("<i", 7)),
        (Datum(2**40, "int"), struct.pack("<q", 2**40)),
        (Datum(1.5, "double"), struct.pack("<d", 1.5)),
    ],
)
def test_output_values_become_the_bytes_the_host_writes(datum: Datum, expected: bytes) -> None:
    assert blob_bytes(datum) == expected
