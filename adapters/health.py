"""Readiness: whether everything a request may need answers right now (``/readyz``).

Each dependency gets one cheap call, all at once, each bounded by ``timeout`` seconds: DynamoDB
(DescribeTable on the accounts table), S3 (HeadBucket), SQS (GetQueueAttributes on each work
queue) and pub/sub (Redis's PING; ``memory://`` is always up). A failed check says which and why in
a few words: an AWS error code or an exception's class, never a message that could carry a URL or a
credential.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from adapters.aws import AwsTarget
    from adapters.pubsub import BroadcastPubSub

OK = "ok"
TIMEOUT_SECONDS = 2.0


class Readiness:
    """The checks of one API process. Its boto3 clients (built here: call it off the event loop)
    make one attempt each, bounded by ``timeout``."""

    def __init__(
        self,
        target: AwsTarget,
        *,
        table: str,
        bucket: str,
        queue_urls: Mapping[str, str],
        pubsub: BroadcastPubSub,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.table = table
        self.bucket = bucket
        self.queue_urls = dict(queue_urls)
        self.pubsub = pubsub
        self.timeout = timeout
        self._dynamodb: Any = target.client("dynamodb", timeout=timeout)
        self._s3: Any = target.client("s3", timeout=timeout)
        self._sqs: Any = target.client("sqs", timeout=timeout)

    async def check(self) -> tuple[bool, dict[str, str]]:
        """Whether every check passed, and each check's ``ok`` or the reason it failed."""
        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "dynamodb": lambda: asyncio.to_thread(self._table),
            "s3": lambda: asyncio.to_thread(self._s3.head_bucket, Bucket=self.bucket),
            **{f"sqs:{name}": self._queue_check(url) for name, url in self.queue_urls.items()},
            "pubsub": self.pubsub.ping,
        }
        results = await asyncio.gather(*(self._run(check) for check in checks.values()))
        answers = dict(zip(checks, results, strict=True))
        return all(answer == OK for answer in answers.values()), answers

    def _table(self) -> None:
        status = self._dynamodb.describe_table(TableName=self.table)["Table"]["TableStatus"]
        if status not in {"ACTIVE", "UPDATING"}:
            raise _NotReady(f"table {status}")

    def _queue_check(self, url: str) -> Callable[[], Awaitable[None]]:
        return lambda: asyncio.to_thread(
            self._sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )

    async def _run(self, check: Callable[[], Awaitable[None]]) -> str:
        try:
            await asyncio.wait_for(check(), self.timeout)
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except _NotReady as error:
            return str(error)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code") or "error"
            return f"{code} ({error.operation_name})"
        except Exception as error:
            return type(error).__name__
        return OK


class _NotReady(Exception):
    """A check that got an answer, and the answer was no."""
