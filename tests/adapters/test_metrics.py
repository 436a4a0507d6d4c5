"""Metrics on their own registry; queue depth read from real SQS queues; CloudWatch through moto."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.cloudwatch import CloudWatchReporter
from adapters.metrics import MAX_OPERATIONS, Metrics
from adapters.queue import SqsQueue, ensure_queues


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by name and sorted labels: what a scraper reads."""
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def fresh_queue(target) -> SqsQueue:
    prefix = f"depth-{uuid.uuid4().hex[:8]}"
    return SqsQueue(target, ensure_queues(target, prefix, visibility_seconds=300)["upload-events"])


def test_two_metrics_objects_never_count_into_each_other() -> None:
    first, second = Metrics(), Metrics()

    first.observe_request("Me", "query", "ok", 0.01)

    key = ("docstore_graphql_requests_total", (("operation", "Me"), ("outcome", "ok"), ("type", "query")))
    assert samples(first)[key] == 1
    assert not any(name == "docstore_graphql_requests_total" for name, _ in samples(second))


def test_operation_labels_stay_few() -> None:
    metrics = Metrics()

    assert metrics.operation_label(None) == "anonymous"
    assert metrics.operation_label("Me") == "Me"
    assert metrics.operation_label("bad name; drop table") == "other"
    assert metrics.operation_label("x" * 65) == "other"
    for number in range(MAX_OPERATIONS - 1):
        assert metrics.operation_label(f"Op{number}") == f"Op{number}"
    assert metrics.operation_label("OneTooMany") == "other"
    assert metrics.operation_label("Me") == "Me"  # names already seen keep their label


def test_queue_depth_is_the_number_of_messages_sent(target) -> None:
    queue = fresh_queue(target)
    metrics = Metrics(queue_depth_cache_seconds=0)
    metrics.watch_queues({"upload-events": queue})
    for number in range(3):
        queue.send({"type": "test", "number": number})

    assert samples(metrics)[("docstore_queue_depth", (("queue", "upload-events"),))] == 3


def test_queue_depth_is_read_once_per_cache_period(target) -> None:
    queue = fresh_queue(target)
    metrics = Metrics(queue_depth_cache_seconds=3600)
    metrics.watch_queues({"upload-events": queue})
    queue.send({"type": "test"})
    assert metrics.queue_depths() == {"upload-events": 1}

    queue.send({"type": "test"})

    assert samples(metrics)[("docstore_queue_depth", (("queue", "upload-events"),))] == 1
    assert queue.depth() == 2


def test_a_queue_that_cannot_be_read_is_left_out(target) -> None:
    queue = fresh_queue(target)
    queue.client.delete_queue(QueueUrl=queue.url)
    metrics = Metrics(queue_depth_cache_seconds=0)
    metrics.watch_queues({"gone": queue})

    assert metrics.queue_depths() == {}
    assert not any(name == "docstore_queue_depth" for name, _ in samples(metrics))


def statistics(client, namespace: str, name: str, dimensions: dict[str, str]) -> list[dict]:
    now = datetime.now(UTC)
    answer = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": key, "Value": value} for key, value in dimensions.items()],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=10),
        Period=3600,
        Statistics=["SampleCount", "Sum", "Minimum", "Maximum"],
    )
    return [{key: point[key] for key in ("SampleCount", "Sum", "Minimum", "Maximum")} for point in answer["Datapoints"]]


def test_cloudwatch_gets_each_periods_counts_and_latency_statistics(target) -> None:
    namespace = f"DocStore/Test-{uuid.uuid4().hex[:8]}"
    queue = fresh_queue(target)
    queue.send({"type": "test"})
    metrics = Metrics(window=True, queue_depth_cache_seconds=0)
    metrics.watch_queues({"upload-events": queue})
    reporter = CloudWatchReporter(target, namespace, metrics)
    for seconds in (0.25, 0.5, 0.75):
        metrics.observe_request("Me", "query", "ok", seconds)
    metrics.observe_request("Me", "query", "error", 1.0)
    metrics.subscription_opened("documentEvents")
    metrics.observe_extraction("application/pdf", 2.0, "ENCRYPTED")

    sent = reporter.push()

    client = reporter.client
    listed = client.list_metrics(Namespace=namespace)["Metrics"]
    assert sent == len(listed) == 7
    assert {(m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in listed} == {
        ("GraphQLRequests", (("Operation", "Me"), ("Outcome", "ok"))),
        ("GraphQLRequests", (("Operation", "Me"), ("Outcome", "error"))),
        ("GraphQLRequestLatency", (("Operation", "Me"),)),
        ("OpenSubscriptions", (("Field", "documentEvents"),)),
        ("QueueDepth", (("Queue", "upload-events"),)),
        ("ExtractionDuration", (("ContentType", "application/pdf"),)),
        ("ExtractionFailures", (("Reason", "ENCRYPTED"),)),
    }
    assert statistics(client, namespace, "GraphQLRequestLatency", {"Operation": "Me"}) == [
        {"SampleCount": 4.0, "Sum": 2.5, "Minimum": 0.25, "Maximum": 1.0}
    ]
    assert statistics(client, namespace, "GraphQLRequests", {"Operation": "Me", "Outcome": "ok"})[0]["Sum"] == 3.0
    assert statistics(client, namespace, "QueueDepth", {"Queue": "upload-events"})[0]["Sum"] == 1.0
    assert statistics(client, namespace, "ExtractionFailures", {"Reason": "ENCRYPTED"})[0]["Sum"] == 1.0


def test_a_second_push_sends_only_what_happened_since_the_first(target) -> None:
    namespace = f"DocStore/Test-{uuid.uuid4().hex[:8]}"
    metrics = Metrics(window=True)
    reporter = CloudWatchReporter(target, namespace, metrics)
    metrics.observe_request("Me", "query", "ok", 0.5)
    assert reporter.push() == 2

    metrics.observe_request("Me", "query", "ok", 0.25)
    assert reporter.push() == 2

    points = statistics(reporter.client, namespace, "GraphQLRequests", {"Operation": "Me", "Outcome": "ok"})
    assert points == [{"SampleCount": 2.0, "Sum": 2.0, "Minimum": 1.0, "Maximum": 1.0}]
    assert reporter.push() == 0  # nothing happened: nothing sent


def test_cloudwatch_needs_a_window() -> None:
    with pytest.raises(ValueError, match="window=True"):
        CloudWatchReporter(None, "x", Metrics())  # type: ignore[arg-type]


def test_open_subscriptions_are_what_the_gauge_holds_fields_at_zero_included() -> None:
    metrics = Metrics()
    assert metrics.open_subscriptions() == {}

    metrics.subscription_opened("documentEvents")
    metrics.subscription_opened("documentEvents")
    metrics.subscription_opened("quotaEvents")
    metrics.subscription_closed("documentEvents")
    metrics.subscription_closed("quotaEvents")

    assert metrics.open_subscriptions() == {"documentEvents": 1, "quotaEvents": 0}
