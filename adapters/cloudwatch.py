"""CloudWatch custom metrics: every interval, what the process counted since the last push
(PutMetricData), when ``DOCSTORE_CLOUDWATCH_NAMESPACE`` is set.

Sent per period, as CloudWatch wants them: ``GraphQLRequests`` (Count, by Operation and Outcome),
``GraphQLRequestLatency`` (Seconds as StatisticValues: SampleCount, Sum, Minimum, Maximum, by
Operation), ``ExtractionDuration`` (the same, by ContentType), ``ExtractionFailures`` (by Reason),
``DocumentsProcessed`` (by Outcome); and as they stand at the push: ``OpenSubscriptions`` (by
Field) and ``QueueDepth`` (by Queue). What a push fails to send is logged and lost (metrics are not
worth a backlog); what was counted after the last push before the process stops is not sent.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from adapters.aws import AwsTarget
    from adapters.metrics import Key, Metrics, Statistics

log = logging.getLogger("docstore.cloudwatch")

#: Data points per PutMetricData call (CloudWatch takes up to 1000; 20 suits older endpoints too).
BATCH = 20
SECONDS = {"GraphQLRequestLatency", "ExtractionDuration"}


class CloudWatchReporter:
    """Pushes one :class:`Metrics`' window and gauges to ``namespace``. Its methods block but
    :meth:`run_forever`."""

    def __init__(self, target: AwsTarget, namespace: str, metrics: Metrics) -> None:
        if metrics.window is None:
            raise ValueError("the metrics keep no window for CloudWatch: build them with window=True")
        self.namespace = namespace
        self.metrics = metrics
        self._target = target

    @functools.cached_property
    def client(self) -> Any:
        # Built at the first push, in the reporter's worker thread, not while the process opens.
        return self._target.client("cloudwatch")

    def data(self) -> list[dict[str, Any]]:
        """What the next push sends; takes the window's counts (a second call starts from zero)."""
        assert self.metrics.window is not None
        counts, statistics = self.metrics.window.drain()
        now = datetime.now(UTC)
        data = [_count(key, value, now) for key, value in counts.items()]
        data += [_statistics(key, value, now) for key, value in statistics.items()]
        data += [
            _count(("OpenSubscriptions", (("Field", field),)), value, now)
            for field, value in self.metrics.open_subscriptions().items()
        ]
        data += [
            _count(("QueueDepth", (("Queue", name),)), depth, now)
            for name, depth in self.metrics.queue_depths().items()
        ]
        return data

    def push(self) -> int:
        """Send :meth:`data`; how many data points were sent."""
        data = self.data()
        for start in range(0, len(data), BATCH):
            self.client.put_metric_data(Namespace=self.namespace, MetricData=data[start : start + BATCH])
        return len(data)

    async def run_forever(self, interval: float) -> None:
        """Push every ``interval`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await asyncio.to_thread(self.push)
            except Exception as error:
                log.warning("could not send metrics to CloudWatch: %s", type(error).__name__)


def _dimensions(key: Key) -> list[dict[str, str]]:
    return [{"Name": name, "Value": value} for name, value in key[1]]


def _count(key: Key, value: float, at: datetime) -> dict[str, Any]:
    return {"MetricName": key[0], "Dimensions": _dimensions(key), "Timestamp": at, "Value": value, "Unit": "Count"}


def _statistics(key: Key, value: Statistics, at: datetime) -> dict[str, Any]:
    return {
        "MetricName": key[0],
        "Dimensions": _dimensions(key),
        "Timestamp": at,
        "StatisticValues": {
            "SampleCount": value.count,
            "Sum": value.total,
            "Minimum": value.low,
            "Maximum": value.high,
        },
        "Unit": "Seconds" if key[0] in SECONDS else "None",
    }
