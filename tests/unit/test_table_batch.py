"""The entity group transaction request written by hand, and the parsing of its multipart answer."""

from __future__ import annotations

import pytest

from durable_ext.azurestorage.table_batch import BatchOperation, BatchOperationError, _body, _parse

BASE = "http://127.0.0.1:10002/devstoreaccount1"


def test_each_operation_is_a_part_of_one_changeset_with_the_sdk_verbs_and_urls() -> None:
    content_type, body = _body(
        BASE,
        "HubHistory",
        [
            BatchOperation("upsert", {"PartitionKey": "it's", "RowKey": "0000000000000000", "N": 5}),
            BatchOperation("create", {"PartitionKey": "it's", "RowKey": "sentinel"}),
            BatchOperation("merge", {"PartitionKey": "it's", "RowKey": "sentinel"}, 'W/"etag"'),
        ],
    )
    text = body.decode()
    batch = content_type.split("boundary=")[1]
    assert text.startswith(f"--{batch}\r\n") and text.endswith(f"--{batch}--\r\n")
    assert f"PUT {BASE}/HubHistory(PartitionKey='it%27%27s',RowKey='0000000000000000') HTTP/1.1" in text
    assert f"POST {BASE}/HubHistory HTTP/1.1" in text
    assert f"PATCH {BASE}/HubHistory(PartitionKey='it%27%27s',RowKey='sentinel') HTTP/1.1" in text
    assert text.count("Content-ID: ") == 3 and 'If-Match: W/"etag"\r\n' in text
    assert '{"PartitionKey":"it\'s","PartitionKey@odata.type":"Edm.String"' in text


def _answer(*parts: str) -> bytes:
    inner = "".join(f"--changesetresponse_1\r\nContent-Type: application/http\r\n\r\n{p}\r\n" for p in parts)
    return (
        "--batchresponse_0\r\nContent-Type: multipart/mixed; boundary=changesetresponse_1\r\n\r\n"
        f"{inner}--changesetresponse_1--\r\n--batchresponse_0--\r\n"
    ).encode()


def test_the_etag_of_each_operation_is_read_from_its_part() -> None:
    answer = _answer(
        'HTTP/1.1 204 No Content\r\nETag: W/"one"\r\n',
        'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nETag: W/"two"\r\n\r\n{"a": 1}',
    )
    assert _parse(answer, 2) == ['W/"one"', 'W/"two"']


def test_a_failed_operation_raises_with_its_status_and_message() -> None:
    failed = (
        "HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json\r\n\r\n"
        '{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"value":"0:The update '
        'condition specified in the request was not satisfied.\\nRequestId:x"}}}'
    )
    with pytest.raises(BatchOperationError) as raised:
        _parse(_answer(failed), 2)
    assert raised.value.status_code == 412
    assert "update condition" in str(raised.value) and "RequestId" not in str(raised.value)


def test_an_answer_missing_operations_is_an_error() -> None:
    with pytest.raises(BatchOperationError, match="1 of 2"):
        _parse(_answer('HTTP/1.1 204 No Content\r\nETag: W/"one"\r\n'), 2)
