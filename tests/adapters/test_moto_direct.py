"""DynamoDB and SQS requests answered by moto's handlers directly (adapters/moto_direct.py) get the
answer moto's Flask app gives: the same boto3 calls, sent once through each WSGI app in this
process (``adapters.aws_process.dispatcher``, and ``Direct`` around another one), each answer
compared whole: status, every header in order, body. Only the request id differs (random), and
in SQS the ids moto makes up for each message; those are compared by shape."""

from __future__ import annotations

import binascii
import re
import uuid
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder

from adapters import aws_process, moto_direct

ENDPOINT = "http://127.0.0.1:4566"  # never connected to: each request is handed to a WSGI app
SCOPE = "20261203/us-east-1/dynamodb/aws4_request"


class Raw:
    """The raw HTTP response botocore reads an answer from."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


Answer = tuple[str, list[tuple[str, str]], bytes]


def wsgi_client(service: str, app: Callable[..., Any], answers: list[Answer], **headers: str) -> Any:
    """A boto3 client whose requests ``app`` answers in this process; each answer is added to ``answers``."""
    client = boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="secret",
    )

    def send(request: Any, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        sent = {name: value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()}
        body = request.body.encode() if isinstance(request.body, str) else request.body or b""
        environ = EnvironBuilder(
            method=request.method,
            base_url=f"{url.scheme}://{url.netloc}",
            path=url.path or "/",
            query_string=url.query,
            headers={**sent, **headers},
            data=body,
        ).get_environ()
        started: list[Any] = []
        content = b"".join(app(environ, lambda status, head, exc_info=None: started.extend((status, head))))
        status, head = started
        answers.append((status, list(head), content))
        return AWSResponse(request.url, int(status.split()[0]), dict(head), Raw(content))

    client.meta.events.register("before-send", send)
    return client


@pytest.fixture(scope="module")
def flask_app() -> Any:
    return aws_process.dispatcher()


@pytest.fixture(scope="module")
def direct() -> moto_direct.Direct:
    return moto_direct.Direct(aws_process.dispatcher())


def documents_table(client: Any, table: str) -> None:
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "owner", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def dynamodb_calls(client: Any, table: str) -> None:
    """The DynamoDB requests DocStore makes, answered well and refused, on a table of
    :func:`documents_table` (made beforehand: its answer holds the time it was made)."""
    item = {"owner": {"S": "o"}, "id": {"S": "1"}, "n": {"N": "1"}, "b": {"B": b"\x00\xff"}, "l": {"L": [{"S": "x"}]}}
    client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)")
    with pytest.raises(ClientError):
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(id)")
    client.get_item(TableName=table, Key={"owner": {"S": "o"}, "id": {"S": "1"}}, ConsistentRead=True)
    client.get_item(TableName=table, Key={"owner": {"S": "o"}, "id": {"S": "missing"}})
    client.update_item(
        TableName=table,
        Key={"owner": {"S": "o"}, "id": {"S": "1"}},
        UpdateExpression="SET #s = :s ADD n :one",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "READY"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table, "Item": {"owner": {"S": "o"}, "id": {"S": "2"}}}},
            {
                "Update": {
                    "TableName": table,
                    "Key": {"owner": {"S": "o"}, "id": {"S": "1"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    with pytest.raises(ClientError):  # cancelled: the reasons are in the answer
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"owner": {"S": "o"}, "id": {"S": "2"}},
                        "ConditionExpression": "attribute_not_exists(id)",
                    }
                }
            ]
        )
    client.query(
        TableName=table,
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "o"}},
        ScanIndexForward=False,
        Limit=1,
    )
    client.batch_get_item(RequestItems={table: {"Keys": [{"owner": {"S": "o"}, "id": {"S": "2"}}]}})
    client.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": {"owner": {"S": "o"}, "id": {"S": "2"}}}}]})
    client.delete_item(TableName=table, Key={"owner": {"S": "o"}, "id": {"S": "1"}}, ReturnValues="ALL_OLD")
    with pytest.raises(ClientError):
        client.get_item(TableName=f"{table}-missing", Key={"owner": {"S": "o"}, "id": {"S": "1"}})


def sqs_calls(client: Any, queue: str) -> None:
    url = client.create_queue(QueueName=queue, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody='{"type": "upload.completed"}')
    client.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "b", "MessageBody": "2"}])
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)["Messages"]
    client.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    client.change_message_visibility(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"], VisibilityTimeout=0)
    client.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(received)]
    )
    with pytest.raises(ClientError):
        client.send_message(QueueUrl=f"{url}-missing", MessageBody="x")
    client.delete_queue(QueueUrl=url)


#: What moto makes up anew for each answer: request ids, and SQS's message ids and receipt handles.
MADE_UP = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # message ids
    r'|(?<="ReceiptHandle": ")[^"]+'
)


def same_shape(answer: Answer, name: str) -> Answer:
    """``answer`` with the made-up values and the table or queue's name replaced by placeholders,
    and its checksum header (of the body before that) checked and replaced too."""
    status, headers, body = answer
    for key, value in headers:
        if key.lower() == "x-amz-crc32":
            assert value == str(binascii.crc32(body))
    masked = {"x-amzn-requestid": "<made up>", "x-amz-crc32": "<crc32 of the body>"}
    text = MADE_UP.sub("<made up>", body.decode().replace(name, "<name>") if name else body.decode())
    return status, [(key, masked.get(key.lower(), value)) for key, value in headers], text.encode()


@pytest.mark.parametrize(("service", "calls", "refused"), [("dynamodb", dynamodb_calls, 3), ("sqs", sqs_calls, 1)])
def test_answers_are_moto_flask_apps_header_for_header(
    flask_app: Any, direct: moto_direct.Direct, service: str, calls: Callable[[Any, str], None], refused: int
) -> None:
    through_flask: list[Answer] = []
    straight: list[Answer] = []
    first, second = f"f-{uuid.uuid4().hex[:8]}", f"d-{uuid.uuid4().hex[:8]}"
    if service == "dynamodb":
        for table in (first, second):
            documents_table(wsgi_client(service, flask_app, []), table)
    before = direct.answered

    calls(wsgi_client(service, flask_app, through_flask), first)
    calls(wsgi_client(service, direct, straight), second)

    assert direct.answered - before == len(straight) > 5
    assert [same_shape(answer, second) for answer in straight] == [
        same_shape(answer, first) for answer in through_flask
    ]
    # Flask's own header is there (what flask-cors adds), and a refusal is one too.
    assert all(("Access-Control-Allow-Origin", "*") in headers for _, headers, _ in straight)
    assert sum(status.startswith("400") for status, _, _ in straight) == refused


def test_a_request_with_an_origin_goes_through_flask(flask_app: Any, direct: moto_direct.Direct) -> None:
    through_flask: list[Answer] = []
    straight: list[Answer] = []
    origin = {"Origin": "http://example.com"}
    before = direct.answered

    wsgi_client("dynamodb", flask_app, through_flask, **origin).list_tables()
    wsgi_client("dynamodb", direct, straight, **origin).list_tables()

    assert direct.answered == before
    assert [same_shape(answer, "") for answer in straight] == [same_shape(answer, "") for answer in through_flask]
    assert ("Access-Control-Allow-Origin", "http://example.com") in straight[0][1]


def test_a_request_moto_fails_on_fails_the_same_way(flask_app: Any, direct: moto_direct.Direct) -> None:
    """A GetItem whose body is not JSON: moto reads no parameters and fails on the missing table
    name; its Flask app (in debug mode) lets the error through to the server, which answers 500."""
    environ = EnvironBuilder(
        method="POST",
        base_url=ENDPOINT,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/{SCOPE}",
        },
        data=b"{not json",
    ).get_environ()
    for app in (flask_app, direct):
        with pytest.raises(KeyError, match="TableName"):
            app(dict(environ, **{"wsgi.input": BytesIO(b"{not json")}), lambda *_: None)


def test_another_moto_release_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_direct.moto, "__version__", "5.3.0")
    with pytest.raises(moto_direct.UnsupportedMoto, match=r"moto 5\.3\.0 is installed"):
        moto_direct.Direct(aws_process.dispatcher())
