"""Log Analytics through the real LogsQueryClient: the KQL shapes the app sends, ingestion, timespans, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import TokenCredential
from azure.core.exceptions import HttpResponseError
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult, LogsQueryStatus

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox
from tests.kql.test_app_queries import app_queries

WS = DEFAULT_WORKSPACE_ID
WIRE = Path(__file__).resolve().parents[2] / "sandbox" / "wire"


def run(logs: LogsQueryClient, kql: str, timespan: object = None) -> list[dict[str, object]]:
    result = logs.query_workspace(WS, kql, timespan=timespan)
    assert result.status == LogsQueryStatus.SUCCESS
    table = result.tables[0]
    return [dict(zip(table.columns, row, strict=True)) for row in table.rows]


@pytest.fixture
def runs(sb: Sandbox, t0: datetime) -> Sandbox:
    """A pipeline run P1 whose step S1 failed, a completed run P2, and a step of P2 that is still running."""
    sb.add_rows(
        "AmlRunStatusChangedEvent",
        [
            {"RunId": "P1", "Status": "Running", "TimeGenerated": t0, "WorkspaceName": "ws"},
            {
                "RunId": "S1",
                "RootRunId": "P1",
                "ParentRunId": "P1",
                "Status": "Failed",
                "Message": "disk full",
                "TimeGenerated": t0 + timedelta(minutes=10),
                "WorkspaceName": "ws",
            },
            {
                "RunId": "P1",
                "Status": "Failed",
                "Message": "step failed",
                "TimeGenerated": t0 + timedelta(minutes=11),
                "WorkspaceName": "ws",
            },
            {
                "RunId": "P2",
                "RootRunId": "",
                "Status": "Completed",
                "TimeGenerated": t0 + timedelta(minutes=20),
                "WorkspaceName": "ws",
            },
            {
                "RunId": "S2",
                "RootRunId": "P2",
                "Status": "Running",
                "TimeGenerated": t0 + timedelta(minutes=21),
                "WorkspaceName": "ws",
            },
        ],
    )
    return sb


def test_where_case_insensitive_and_project_gives_aware_datetimes(
    runs: Sandbox, logs: LogsQueryClient, t0: datetime
) -> None:
    rows = run(
        logs,
        'AmlRunStatusChangedEvent | where Status =~ "FAILED" | project RunId, TimeGenerated '
        "| order by TimeGenerated asc",
    )
    assert [r["RunId"] for r in rows] == ["S1", "P1"]
    assert rows[0]["TimeGenerated"] == t0 + timedelta(minutes=10)
    assert rows[0]["TimeGenerated"].utcoffset() == timedelta(0)


def test_let_in_subquery_in_tilde_and_extend_iff(runs: Sandbox, logs: LogsQueryClient) -> None:
    kql = """
    let failedRoots = AmlRunStatusChangedEvent
        | where Status in~ ("failed", "canceled")
        | extend Root = iff(isempty(RootRunId), RunId, RootRunId)
        | distinct Root;
    AmlRunStatusChangedEvent
    | extend Root = iff(isempty(RootRunId), RunId, RootRunId)
    | where Root in (failedRoots)
    | distinct RunId, Root
    | order by RunId asc
    """
    assert run(logs, kql) == [{"RunId": "P1", "Root": "P1"}, {"RunId": "S1", "Root": "P1"}]


def test_arg_max_and_leftouter_join(runs: Sandbox, logs: LogsQueryClient) -> None:
    kql = """
    let latest = AmlRunStatusChangedEvent | summarize arg_max(TimeGenerated, Status, Message) by RunId;
    let steps = AmlRunStatusChangedEvent | where isnotempty(RootRunId) | distinct RunId, RootRunId;
    latest
    | where Status =~ "Failed"
    | join kind=leftouter (steps) on RunId
    | project RunId, Status, Message, RootRunId
    | order by RunId asc
    """
    assert run(logs, kql) == [
        {"RunId": "P1", "Status": "Failed", "Message": "step failed", "RootRunId": None},
        {"RunId": "S1", "Status": "Failed", "Message": "disk full", "RootRunId": "P1"},
    ]


def test_arg_max_star_hides_the_ingestion_column(runs: Sandbox, logs: LogsQueryClient) -> None:
    result = logs.query_workspace(
        WS, "AmlRunStatusChangedEvent | summarize arg_max(TimeGenerated, *) by RunId", timespan=None
    )
    columns = result.tables[0].columns
    assert "Message" in columns
    assert "_IngestedAt" not in columns
    assert len(result.tables[0].rows) == 4


def test_datetime_diff_tostring_and_now_follow_the_clock(runs: Sandbox, logs: LogsQueryClient) -> None:
    rows = run(
        logs,
        'AmlRunStatusChangedEvent | where RunId == "S1" '
        "| extend ageMinutes = datetime_diff('minute', now(), TimeGenerated), s = tostring(Status) "
        "| where TimeGenerated > ago(3h) | project ageMinutes, s",
    )
    assert rows == [{"ageMinutes": 110, "s": "Failed"}]


def test_rows_stay_hidden_until_ingested(sb: Sandbox, logs: LogsQueryClient, clock: datetime) -> None:
    sb.add_rows(
        "AmlRunStatusChangedEvent",
        [
            {"RunId": "early", "Status": "Running", "TimeGenerated": clock - timedelta(minutes=9)},
            {
                "RunId": "late",
                "Status": "Failed",
                "TimeGenerated": clock - timedelta(minutes=1),
                "_IngestedAt": clock + timedelta(minutes=5),
            },
        ],
    )
    kql = "AmlRunStatusChangedEvent | project RunId"
    assert run(logs, kql) == [{"RunId": "early"}]
    sb.advance(timedelta(minutes=5))
    assert run(logs, kql) == [{"RunId": "early"}, {"RunId": "late"}]


def test_default_ingestion_delay_and_ingestion_time_window(sb: Sandbox, logs: LogsQueryClient, clock: datetime) -> None:
    sb.add_rows("AmlRunStatusChangedEvent", [{"RunId": "old", "Status": "Failed", "TimeGenerated": clock}])
    sb.default_ingestion_delay = timedelta(minutes=7)
    sb.add_rows("AmlRunStatusChangedEvent", [{"RunId": "r", "Status": "Failed", "TimeGenerated": clock}])
    kql = (
        f"AmlRunStatusChangedEvent | where ingestion_time() > datetime({clock.isoformat()}) "
        f"and ingestion_time() <= datetime({(clock + timedelta(minutes=10)).isoformat()}) "
        "| project RunId, ingested = ingestion_time()"
    )
    assert run(logs, kql) == []
    sb.advance(timedelta(minutes=7))
    assert run(logs, kql) == [{"RunId": "r", "ingested": clock + timedelta(minutes=7)}]


def test_timespan_duration_and_interval(runs: Sandbox, logs: LogsQueryClient, t0: datetime) -> None:
    kql = "AmlRunStatusChangedEvent | project RunId, Status"
    assert len(run(logs, kql, timespan=timedelta(hours=3))) == 5
    assert {r["RunId"] for r in run(logs, kql, timespan=timedelta(minutes=100))} == {"P2", "S2"}
    window = (t0 + timedelta(minutes=5), t0 + timedelta(minutes=15))
    assert run(logs, kql, timespan=window) == [{"RunId": "S1", "Status": "Failed"}, {"RunId": "P1", "Status": "Failed"}]
    assert runs.queries[-1]["timespan"].endswith("Z") and "/" in runs.queries[-1]["timespan"]


def test_types_and_dynamic_columns(sb: Sandbox, logs: LogsQueryClient, clock: datetime) -> None:
    sb.add_rows(
        "AzureActivity", [{"TimeGenerated": clock, "OperationNameValue": "X/DELETE", "Properties_d": {"entity": "c1"}}]
    )
    result = logs.query_workspace(
        WS,
        "AzureActivity | extend n = toint(1), big = tolong(2), r = 1.5, b = true "
        "| project OperationNameValue, Properties_d, n, big, r, b, TimeGenerated",
        timespan=None,
    )
    table = result.tables[0]
    assert table.columns_types == ["string", "dynamic", "int", "long", "real", "bool", "datetime"]
    assert table.rows[0][1] == '{"entity":"c1"}'
    assert list(table.rows[0])[2:6] == [1, 2, 1.5, True]


def test_a_table_exists_only_once_a_row_of_it_was_ingested(sb: Sandbox, logs: LogsQueryClient, clock: datetime) -> None:
    recorded = json.loads((WIRE / "loganalytics-query-table-not-found.response.json").read_text())["error"]
    with pytest.raises(HttpResponseError) as caught:
        logs.query_workspace(WS, 'AmlComputeJobEvent | where EventType =~ "JobFailed"', timespan=None)
    assert caught.value.status_code == 400
    error = caught.value.response.json()["error"]
    assert _shape(error) == _shape(recorded)  # the same keys and codes, nested the same way
    assert error["innererror"]["innererror"]["message"] == recorded["innererror"]["innererror"]["message"]
    sb.add_rows(
        "AmlComputeJobEvent",
        [{"JobName": "j", "TimeGenerated": clock - timedelta(hours=5), "_IngestedAt": clock + timedelta(minutes=1)}],
    )
    with pytest.raises(HttpResponseError, match="'take' operator: Failed to resolve table"):
        logs.query_workspace(WS, "AmlComputeJobEvent | take 1", timespan=None)  # not ingested yet
    sb.advance(timedelta(minutes=1))
    assert run(logs, "AmlComputeJobEvent | project JobName", timespan=timedelta(hours=1)) == []  # exists, empty


def _shape(error: dict[str, Any]) -> list[tuple[str, ...]]:
    """Keys at each level, and the codes: what a client can branch on."""
    levels = []
    while error:
        levels.append((*sorted(error), error["code"]))
        error = error.get("innererror")
    return levels


def test_a_fuzzy_union_reads_a_missing_table_as_empty_with_a_warning(
    sb: Sandbox, logs: LogsQueryClient, clock: datetime
) -> None:
    sb.add_rows("AmlRunStatusChangedEvent", [{"RunId": "r1", "Status": "Failed", "TimeGenerated": clock}])
    kql = """let jobs = union isfuzzy=true (datatable(JobName:string, ClusterName:string)[]),
        (AmlComputeJobEvent | project JobName, ClusterName);
    AmlRunStatusChangedEvent | join kind=leftouter (jobs) on $left.RunId == $right.JobName
    | project RunId, ClusterName"""
    result = logs.query_workspace(WS, kql, timespan=None)
    assert isinstance(result, LogsQueryPartialResult)
    assert [list(row) for row in result.partial_data[0].rows] == [["r1", None]]
    [warning] = result.partial_error.details
    assert warning["innererror"]["severityName"] == "Warning"
    assert "Failed to resolve table expression named 'AmlComputeJobEvent'" in warning["innererror"]["message"]
    sb.add_rows("AmlComputeJobEvent", [{"JobName": "r1", "ClusterName": "gpu", "TimeGenerated": clock}])
    assert run(logs, kql) == [{"RunId": "r1", "ClusterName": "gpu"}]  # the table exists: no warning


def test_every_app_query_runs_in_a_workspace_without_tables(
    sb: Sandbox, logs: LogsQueryClient, clock: datetime
) -> None:
    """The scans', the webhook enrichment's and the log alert rule's KQL, on a workspace no log has reached yet."""
    for name, kql in app_queries():
        result = logs.query_workspace(WS, kql, timespan=(clock - timedelta(days=2), clock))
        assert isinstance(result, LogsQueryPartialResult), name  # rows, and a warning per table it skipped
        assert result.partial_data[0].rows == [], name
        assert {d["innererror"]["severityName"] for d in result.partial_error.details} == {"Warning"}, name


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (403, "InsufficientAccessError"),
        (404, "PathNotFoundError"),
        (429, "TooManyRequests"),
        (500, "InternalServerError"),
        (502, "BadGateway"),
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
    ],
)
def test_one_workspace_can_fail_while_the_others_answer(
    sb: Sandbox, logs: LogsQueryClient, status: int, code: str
) -> None:
    other = "55555555-5555-5555-5555-555555555555"
    sb.add_workspace(other)
    sb.fail_workspace(other.upper(), status, retry_after=30 if status == 429 else None)
    for _ in range(2):  # until healed
        with pytest.raises(HttpResponseError) as caught:
            logs.query_workspace(other, "print x = 1", timespan=None)
        assert (caught.value.status_code, caught.value.response.json()["error"]["code"]) == (status, code)
    assert caught.value.response.headers.get("Retry-After") == ("30" if status == 429 else None)
    assert run(logs, "print x = 1") == [{"x": 1}]  # the default workspace answers
    assert sb.faults.raised[f"logs:{other}"] == 2
    sb.heal_workspace(other)
    assert logs.query_workspace(other, "print x = 1", timespan=None).status == LogsQueryStatus.SUCCESS


def test_a_workspace_fault_can_answer_a_number_of_times(sb: Sandbox, logs: LogsQueryClient) -> None:
    sb.fail_workspace(WS, 503, count=2)
    for _ in range(2):
        with pytest.raises(HttpResponseError):
            logs.query_workspace(WS, "print x = 1", timespan=None)
    assert run(logs, "print x = 1") == [{"x": 1}]
    with pytest.raises(ValueError, match="status must be one of"):
        sb.fail_workspace(WS, 418)


def test_unknown_workspace_is_404(sb: Sandbox, logs: LogsQueryClient) -> None:
    with pytest.raises(HttpResponseError) as caught:
        logs.query_workspace("22222222-2222-2222-2222-222222222222", "AzureActivity", timespan=None)
    assert caught.value.status_code == 404
    assert "PathNotFoundError" in str(caught.value)


def test_second_workspace_exists_once_it_has_rows(sb: Sandbox, logs: LogsQueryClient, clock: datetime) -> None:
    other = "33333333-3333-3333-3333-333333333333"
    sb.add_rows("AzureActivity", [{"TimeGenerated": clock, "Caller": "x"}], workspace_id=other)
    result = logs.query_workspace(other, "AzureActivity | project Caller", timespan=None)
    assert [list(row) for row in result.tables[0].rows] == [["x"]]
    with pytest.raises(HttpResponseError, match="SEM0100"):  # no AzureActivity row in the default workspace
        logs.query_workspace(WS, "AzureActivity | project Caller", timespan=None)


@pytest.mark.parametrize(
    ("kql", "inner"),
    [
        ("AmlRunStatusChangedEvent | where", "SyntaxError"),
        ("NoSuchTable | take 1", "SemanticError"),
        ("AmlRunStatusChangedEvent | extend x = no_such_function(RunId)", "SemanticError"),
    ],
)
def test_bad_kql_is_400_with_the_library_message(sb: Sandbox, logs: LogsQueryClient, kql: str, inner: str) -> None:
    with pytest.raises(HttpResponseError) as caught:
        logs.query_workspace(WS, kql, timespan=None)
    assert caught.value.status_code == 400
    error = caught.value.response.json()["error"]
    assert error["code"] == "BadArgumentError"
    assert error["innererror"]["code"] == inner
    assert error["innererror"]["message"]


def test_partial_result(runs: Sandbox, logs: LogsQueryClient) -> None:
    runs.fail_next_partial()
    result = logs.query_workspace(WS, "AmlRunStatusChangedEvent | project RunId", timespan=None)
    assert isinstance(result, LogsQueryPartialResult)
    assert result.status == LogsQueryStatus.PARTIAL
    assert result.partial_error.code == "PartialError"
    assert len(result.partial_data[0].rows) == 5
    assert logs.query_workspace(WS, "AmlRunStatusChangedEvent", timespan=None).status == LogsQueryStatus.SUCCESS


@pytest.mark.parametrize("status", [429, 500, 503])
def test_faults_surface_without_retries(sb: Sandbox, logs: LogsQueryClient, status: int) -> None:
    sb.fail_next("logs", status)
    with pytest.raises(HttpResponseError) as caught:
        logs.query_workspace(WS, "print x = 1", timespan=None)
    assert caught.value.status_code == status
    assert run(logs, "print x = 1") == [{"x": 1}]


def test_default_retry_policy_absorbs_one_500(sb: Sandbox, credential: TokenCredential) -> None:
    sb.fail_next("logs", 500)
    client = LogsQueryClient(credential, endpoint=sb.endpoint + "/v1")  # "/v1" suffix is accepted too
    assert client.query_workspace(WS, "print x = 1", timespan=None).status == LogsQueryStatus.SUCCESS
    assert len(sb.queries) == 1  # the faulted attempt never reached the query engine


def test_unknown_table_or_column_in_add_rows_is_rejected(sb: Sandbox, clock: datetime) -> None:
    with pytest.raises(ValueError, match="Nope"):
        sb.add_rows("AzureActivity", [{"TimeGenerated": clock, "Nope": 1}])
    with pytest.raises(ValueError, match="unknown table"):
        sb.add_rows("Nope", [])


def test_requests_without_bearer_token_are_401(raw: Callable[..., tuple[int, Any]]) -> None:
    status, body = raw("POST", f"/v1/workspaces/{WS}/query", {"query": "AzureActivity"})
    assert status == 401
    assert body["error"]["code"] == "AuthenticationFailed"
