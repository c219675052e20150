"""Metrics batch through the real MetricsClient: buckets, aggregations, dimension filters, clock, faults."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.monitor.querymetrics import MetricAggregationType, MetricsClient

from sandbox import Sandbox
from sandbox.metrics import endpoint_template

WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws"
)
NAMESPACE = "Microsoft.MachineLearningServices/workspaces"


@pytest.fixture
def failed_runs(sb: Sandbox, clock: datetime) -> datetime:
    """Failed Runs split by RunType; returns the window start (an hour before the clock)."""
    start = clock - timedelta(hours=1)
    sb.add_metric_series(
        WORKSPACE,
        NAMESPACE,
        "Failed Runs",
        [(start + timedelta(minutes=1), 1), (start + timedelta(minutes=2), 3)],
        dimensions={"RunType": "PipelineRun"},
    )
    sb.add_metric_series(
        WORKSPACE,
        NAMESPACE,
        "Failed Runs",
        [(start + timedelta(minutes=3), 2), (start + timedelta(minutes=40), 5), (clock + timedelta(minutes=1), 100)],
        dimensions={"RunType": "StepRun"},
    )
    return start


def test_totals_per_bucket_without_filter(
    sb: Sandbox, metrics: MetricsClient, failed_runs: datetime, clock: datetime
) -> None:
    [result] = metrics.query_resources(
        resource_ids=[WORKSPACE],
        metric_namespace=NAMESPACE,
        metric_names=["Failed Runs"],
        timespan=(failed_runs, clock),
        granularity=timedelta(minutes=15),
        aggregations=[MetricAggregationType.TOTAL, MetricAggregationType.COUNT, MetricAggregationType.MAXIMUM],
    )
    assert result.granularity == timedelta(minutes=15)
    [metric] = result.metrics
    assert metric.name == "Failed Runs"
    [series] = metric.timeseries
    assert series.metadata_values == {}
    assert [(p.timestamp - failed_runs, p.total, p.count, p.maximum) for p in series.data] == [
        (timedelta(0), 6, 3, 3),
        (timedelta(minutes=15), None, None, None),
        (timedelta(minutes=30), 5, 1, 5),
        (timedelta(minutes=45), None, None, None),
    ]
    assert sb.metric_requests[0]["params"]["metricnames"] == "Failed Runs"


def test_filter_value_and_split_by_dimension(metrics: MetricsClient, failed_runs: datetime, clock: datetime) -> None:
    def query(filter_: str) -> dict[str, float]:
        [result] = metrics.query_resources(
            resource_ids=[WORKSPACE],
            metric_namespace=NAMESPACE,
            metric_names=["Failed Runs"],
            timespan=(failed_runs, clock),
            granularity=timedelta(hours=1),
            aggregations=["Total"],
            filter=filter_,
        )
        return {s.metadata_values["RunType"]: s.data[0].total for s in result.metrics[0].timeseries}

    assert query("RunType eq 'PipelineRun'") == {"PipelineRun": 4}
    assert query("RunType eq '*'") == {"PipelineRun": 4, "StepRun": 7}
    assert query("RunType eq 'StepRun' and RunType eq '*'") == {"StepRun": 7}
    assert query("RunType eq 'Nope'") == {}


def test_points_after_the_clock_appear_once_it_advances(
    sb: Sandbox, metrics: MetricsClient, failed_runs: datetime, clock: datetime
) -> None:
    def total() -> float:
        [result] = metrics.query_resources(
            resource_ids=[WORKSPACE],
            metric_namespace=NAMESPACE,
            metric_names=["Failed Runs"],
            timespan=(failed_runs, clock + timedelta(hours=1)),
            granularity=timedelta(hours=6),
            aggregations=["Total"],
        )
        return result.metrics[0].timeseries[0].data[0].total

    assert total() == 11
    sb.advance(timedelta(minutes=5))
    assert total() == 111


def test_unknown_metric_has_no_timeseries(metrics: MetricsClient, failed_runs: datetime, clock: datetime) -> None:
    [result] = metrics.query_resources(
        resource_ids=[WORKSPACE],
        metric_namespace=NAMESPACE,
        metric_names=["Failed Runs", "Data Drift"],
        timespan=(failed_runs, clock),
        granularity=timedelta(minutes=30),
        aggregations=["Average"],
    )
    known, unknown = result.metrics
    assert [p.average for p in known.timeseries[0].data] == [2, 5]
    assert unknown.name == "Data Drift"
    assert unknown.timeseries == []


@pytest.mark.parametrize("status", [429, 503])
def test_faults(sb: Sandbox, metrics: MetricsClient, status: int) -> None:
    sb.fail_next("metrics", status)
    with pytest.raises(HttpResponseError) as caught:
        metrics.query_resources(resource_ids=[WORKSPACE], metric_namespace=NAMESPACE, metric_names=["Failed Runs"])
    assert caught.value.status_code == status
    if status == 429:
        assert caught.value.response.headers["Retry-After"] == "0"


# --- what the batch API refuses: 400 with the service's error body, raised by the SDK as HttpResponseError ------

SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"


def _workspaces(count: int, subscription: str = SUBSCRIPTION) -> list[str]:
    return [
        f"/subscriptions/{subscription}/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
        f"/workspaces/ws-{index}"
        for index in range(count)
    ]


def _refusal(metrics: MetricsClient, resource_ids: list[str], granularity: timedelta = timedelta(minutes=5)) -> str:
    with pytest.raises(HttpResponseError) as caught:
        metrics.query_resources(
            resource_ids=resource_ids,
            metric_namespace=NAMESPACE,
            metric_names=["Failed Runs"],
            granularity=granularity,
            aggregations=["Total"],
        )
    assert caught.value.status_code == 400
    assert caught.value.error.code == "BadRequest"  # the SDK parsed {"error": {"code", "message"}}
    return caught.value.error.message


def test_at_most_50_resource_ids_per_call(metrics: MetricsClient) -> None:
    assert (
        len(
            metrics.query_resources(
                resource_ids=_workspaces(50), metric_namespace=NAMESPACE, metric_names=["Failed Runs"]
            )
        )
        == 50
    )
    assert "not 51" in _refusal(metrics, _workspaces(51))


def test_one_subscription_and_one_resource_type_per_call(metrics: MetricsClient) -> None:
    other_subscription = _workspaces(1, "00000000-0000-0000-0000-000000000002")
    assert "is not in subscription" in _refusal(metrics, _workspaces(2) + other_subscription)
    insights = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg/providers/microsoft.insights/components/appi"
    assert "of one resource type" in _refusal(metrics, [*_workspaces(2), insights])


def test_a_resource_is_read_from_the_endpoint_of_its_region(
    sb: Sandbox, metrics: MetricsClient, credential, clock: datetime
) -> None:
    [in_eastus] = _workspaces(1)
    sb.add_metric_series(in_eastus, NAMESPACE, "Failed Runs", [(clock - timedelta(minutes=3), 2)], region="eastus")
    assert "is in region eastus, not westeurope" in _refusal(metrics, [in_eastus])
    eastus = MetricsClient(endpoint_template(sb.endpoint).format(region="eastus"), credential, retry_total=0)
    [result] = eastus.query_resources(
        resource_ids=[in_eastus],
        metric_namespace=NAMESPACE,
        metric_names=["Failed Runs"],
        timespan=(clock - timedelta(hours=1), clock),
        granularity=timedelta(hours=1),
        aggregations=["Total"],
    )
    assert result.resource_region == "eastus"
    assert result.metrics[0].timeseries[0].data[0].total == 2
    assert sb.metric_requests[-1]["region"] == "eastus"


@pytest.mark.parametrize("grain", [timedelta(minutes=2), timedelta(minutes=10), timedelta(hours=2)])
def test_only_the_supported_time_grains(metrics: MetricsClient, grain: timedelta) -> None:
    assert _refusal(metrics, _workspaces(1), grain).startswith("Invalid time grain duration: PT")


def test_a_filtered_batch_answers_top_series_silently(sb: Sandbox, metrics: MetricsClient, clock: datetime) -> None:
    ids = _workspaces(12)
    for resource_id in ids:
        sb.add_metric_series(
            resource_id,
            NAMESPACE,
            "Failed Runs",
            [(clock - timedelta(minutes=3), 1)],
            dimensions={"RunType": "PipelineRun"},
        )

    def series(**top) -> int:
        results = metrics.query_resources(
            resource_ids=ids, metric_namespace=NAMESPACE, metric_names=["Failed Runs"], filter="RunType eq '*'", **top
        )
        return sum(len(result.metrics[0].timeseries) for result in results)

    assert series() == 10  # the default top, over the whole batch
    assert series(max_results=100) == 12
