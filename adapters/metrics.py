"""The process's metrics, for Prometheus (``/metrics``) and, when configured, CloudWatch.

One :class:`Metrics` per process (per app, in tests), on its own registry rather than
prometheus_client's global one, so that two apps in one process never count into each other.
Everything is recorded on the event loop; the queue depth is read from SQS when a scrape (or the
CloudWatch reporter) asks for it, at most once per ``QUEUE_DEPTH_CACHE_SECONDS``.

Label values are kept few: an operation is named only if its name is a plain GraphQL name and one
of the first ``MAX_OPERATIONS`` seen (else ``other``); failure reasons are classes, not texts.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter as Tally
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from prometheus_client.metrics_core import Metric

    from adapters.queue import Queue

log = logging.getLogger("docstore.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
#: Distinct operation names kept as labels; later new names count as ``other``.
MAX_OPERATIONS = 200
QUEUE_DEPTH_CACHE_SECONDS = 5.0
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
EXTRACTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

#: A CloudWatch metric: its name and its dimensions as (name, value) pairs.
Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class Statistics:
    """SampleCount, Sum, Minimum and Maximum of what was observed (CloudWatch's StatisticValues)."""

    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class Window:
    """What happened since the last :meth:`drain`: counts and statistics, for CloudWatch, which
    wants each period's values rather than Prometheus's running totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Tally[Key] = Tally()
        self.statistics: dict[Key, Statistics] = {}

    def count(self, key: Key, amount: int = 1) -> None:
        with self._lock:
            self.counts[key] += amount

    def observe(self, key: Key, value: float) -> None:
        with self._lock:
            self.statistics.setdefault(key, Statistics()).add(value)

    def drain(self) -> tuple[dict[Key, int], dict[Key, Statistics]]:
        with self._lock:
            counts, statistics = dict(self.counts), self.statistics
            self.counts, self.statistics = Tally(), {}
        return counts, statistics


class Metrics:
    """Every DocStore metric of one process, on one private registry.

    ``window`` keeps per-period counts and latency statistics beside the Prometheus metrics
    (for the CloudWatch reporter; off when nothing reads them). Queue depths are read from SQS at
    most once per ``queue_depth_cache_seconds``, however often they are scraped.
    """

    def __init__(self, *, window: bool = False, queue_depth_cache_seconds: float = QUEUE_DEPTH_CACHE_SECONDS) -> None:
        self.queue_depth_cache_seconds = queue_depth_cache_seconds
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "docstore_graphql_requests",
            "GraphQL operations handled, by operation name, type and outcome (ok, error, invalid).",
            ["operation", "type", "outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "docstore_graphql_request_seconds",
            "Time to answer a GraphQL query or mutation, by operation name and type.",
            ["operation", "type"],
            buckets=REQUEST_BUCKETS,
            registry=self.registry,
        )
        self.subscriptions = Gauge(
            "docstore_subscriptions_open",
            "Subscriptions running in this process, by field.",
            ["field"],
            registry=self.registry,
        )
        self.extraction_seconds = Histogram(
            "docstore_extraction_seconds",
            "Time to extract a file's text (successes and failures), by detected type.",
            ["content_type"],
            buckets=EXTRACTION_BUCKETS,
            registry=self.registry,
        )
        self.extraction_failures = Counter(
            "docstore_extraction_failures",
            "Extractions that failed, by reason class (TIMEOUT, MEMORY, CRASHED, ENCRYPTED, TOO_LARGE, INVALID, ...).",
            ["reason"],
            registry=self.registry,
        )
        self.documents_processed = Counter(
            "docstore_documents_processed",
            "Documents the pipeline finished, by outcome (ready, failed, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.thumbnails = Counter(
            "docstore_thumbnails",
            "Documents whose bytes have thumbnails, by outcome: made, reused (made before for the same bytes), "
            "or failed with the reason class of the file's failure (TIMEOUT, MEMORY, TOO_LARGE, INVALID, ...).",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.window = Window() if window else None
        self._operations: set[str] = set()
        self._queues: Mapping[str, Queue] = {}
        self._depths: dict[str, int] = {}
        self._depths_at = float("-inf")
        self._depths_lock = threading.Lock()

    def operation_label(self, name: str | None) -> str:
        """``name`` as a label value: ``anonymous`` for none, ``other`` past the limits."""
        if not name:
            return "anonymous"
        if name in self._operations:
            return name
        if not OPERATION_NAME.fullmatch(name) or len(self._operations) >= MAX_OPERATIONS:
            return "other"
        self._operations.add(name)
        return name

    def observe_request(self, operation: str, kind: str, outcome: str, seconds: float | None) -> None:
        """One operation handled; ``seconds`` is None for subscriptions (their time is their life)."""
        self.requests.labels(operation, kind, outcome).inc()
        if seconds is not None:
            self.request_seconds.labels(operation, kind).observe(seconds)
        if self.window is not None:
            self.window.count(("GraphQLRequests", (("Operation", operation), ("Outcome", outcome))))
            if seconds is not None:
                self.window.observe(("GraphQLRequestLatency", (("Operation", operation),)), seconds)

    def subscription_opened(self, field: str) -> None:
        self.subscriptions.labels(field).inc()

    def subscription_closed(self, field: str) -> None:
        self.subscriptions.labels(field).dec()

    def open_subscriptions(self) -> dict[str, int]:
        """The gauge's values by field (fields back at 0 included)."""
        (family,) = self.subscriptions.collect()
        return {sample.labels["field"]: int(sample.value) for sample in family.samples}

    def observe_extraction(self, content_type: str, seconds: float, failure: str | None = None) -> None:
        """One extraction of a file of ``content_type`` that took ``seconds``; ``failure`` is its
        reason class when it failed."""
        self.extraction_seconds.labels(content_type).observe(seconds)
        if failure is not None:
            self.extraction_failures.labels(failure).inc()
        if self.window is not None:
            self.window.observe(("ExtractionDuration", (("ContentType", content_type),)), seconds)
            if failure is not None:
                self.window.count(("ExtractionFailures", (("Reason", failure),)))

    def thumbnail(self, outcome: str, reason: str = "") -> None:
        """A document's thumbnails ``made``, ``reused`` or ``failed`` (with the ``reason`` class)."""
        self.thumbnails.labels(outcome, reason).inc()
        if self.window is not None:
            self.window.count(("Thumbnails", (("Outcome", outcome), ("Reason", reason or "-"))))

    def document_processed(self, outcome: str) -> None:
        self.documents_processed.labels(outcome).inc()
        if self.window is not None:
            self.window.count(("DocumentsProcessed", (("Outcome", outcome),)))

    def watch_queues(self, queues: Mapping[str, Queue]) -> None:
        """Report these queues' depth as ``docstore_queue_depth{queue}`` (read at scrape time)."""
        if not self._queues:
            self.registry.register(_QueueDepths(self))
        self._queues = queues

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting in each watched queue, at most ``queue_depth_cache_seconds`` old.
        Blocking (SQS). A queue that cannot be read is left out, and logged."""
        with self._depths_lock:
            if time.monotonic() - self._depths_at >= self.queue_depth_cache_seconds:
                depths = {}
                for name, queue in self._queues.items():
                    try:
                        depths[name] = queue.depth()
                    except Exception as error:
                        log.warning("could not read the depth of queue %s: %s", name, type(error).__name__)
                self._depths, self._depths_at = depths, time.monotonic()
            return dict(self._depths)

    def exposition(self) -> bytes:
        """Every metric in Prometheus's text format. Blocking (reads the queue depths)."""
        return generate_latest(self.registry)


class _QueueDepths(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterable[Metric]:
        return [self._family()]  # so that registering it reads no queue

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for name, depth in self.metrics.queue_depths().items():
            family.add_metric([name], depth)
        return [family]

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "docstore_queue_depth", "Messages waiting in each work queue (SQS's approximate count).", labels=["queue"]
        )
