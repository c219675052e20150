"""Self-monitoring contract: the alert rules' KQL (infra/app/queries/app-insights/) finds what the code really logs.

The app runs for real (Azurite, the sandbox's Log Analytics and ACS with their faults); each call of a timer use case
is one invocation. Its log records become Application Insights telemetry the way the Functions host writes it (see
`AppInsights`), and the deployed queries run over that in the sandbox's KQL engine (duckdb-kql). The host's
forwarding is the one thing with no stand-in, so it is imitated here: `AppInsights.invocation` writes what the host
writes (sources in infra/README.md, Assumptions).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

import function_app
from sandbox.emulator import load_schemas
from sandbox.log_analytics import INGESTED_AT, Workspace
from sandbox.scenarios import six_step_pipeline
from shared.core.log_markers import NOTICE_DEAD, SCAN_FAILED
from shared.detectors import DETECTORS
from tests.infra.bicep_model import INFRA
from tests.infra.bicep_model import load as load_bicep

QUERIES = INFRA / "app" / "queries" / "app-insights"
SCHEMAS = INFRA.parent / "sandbox" / "app-insights-schemas.json"
APP = "func-under-test"
OTHER_APP = "func-another-app"  # shares the Application Insights component
WS_GOOD = "aaaaaaaa-0000-0000-0000-000000000001"
WS_BAD = "bbbbbbbb-0000-0000-0000-000000000002"

# The Python worker sends a record's level as an RpcLog level (azure_functions_worker dispatcher `on_logging`), which
# the host logs at the same .NET LogLevel; its Application Insights logger turns that into severityLevel.
SEVERITY = {logging.DEBUG: 0, logging.INFO: 1, logging.WARNING: 2, logging.ERROR: 3, logging.CRITICAL: 4}

# The `let` lines infra/app/self-monitoring.bicep replaces with the deployed values, as it spells them.
_DEPLOYED = load_bicep(INFRA / "app" / "self-monitoring.bicep").variables
FUNCTION_APP_LINE, TICKS_LINE = _DEPLOYED["appLine"], _DEPLOYED["ticksLine"]


def alert_query(name: str, ticks: int = 3) -> str:
    text = (QUERIES / name).read_text()
    return text.replace(FUNCTION_APP_LINE, f'let functionApp = "{APP}";').replace(
        TICKS_LINE, f"let consecutiveTicks = {ticks};"
    )


class AppInsights:
    """The `traces` and `requests` of an Application Insights component, as a log alert rule scoped to it reads them."""

    def __init__(self) -> None:
        self._workspace = Workspace(load_schemas(SCHEMAS))
        self.now: datetime | None = None

    def invocation(
        self,
        function: str,
        records: list[logging.LogRecord],
        at: datetime,
        success: bool = True,
        app: str = APP,
        result_code: str = "",
    ) -> None:
        """One function invocation as the host records it: a `requests` row (Host.Results) and one `traces` row per
        log record the worker forwarded, all with the invocation's operation_Id. The worker formats a record with a
        plain `logging.Formatter` (message and any traceback); the logger's name is not forwarded."""
        operation = uuid.uuid4().hex
        common = {
            "cloud_RoleName": app,
            "operation_Id": operation,
            "operation_Name": function,
            "timestamp": at,
            INGESTED_AT: at,
        }
        self._workspace.insert(
            "requests",
            [
                {
                    **common,
                    "name": function,
                    "success": str(success),
                    "resultCode": result_code or ("0" if success else "500"),
                }
            ],
        )
        traces = [
            {**common, "message": logging.Formatter().format(record), "severityLevel": SEVERITY[record.levelno]}
            for record in records
        ]
        if traces:
            self._workspace.insert("traces", traces)
        self.now = at

    def alerts(self, query: str) -> list[dict[str, Any]]:
        """The rows the rule's query returns (each row one alert, per dimension values)."""
        assert self.now is not None
        answer = self._workspace.query(query, self.now + timedelta(minutes=1), None)
        [table] = answer["tables"]
        names = [column["name"] for column in table["columns"]]
        return [dict(zip(names, row, strict=True)) for row in table["rows"]]

    def close(self) -> None:
        self._workspace.close()


@pytest.fixture
def component():
    insights = AppInsights()
    yield insights
    insights.close()


@pytest.fixture
def two_workspaces(monkeypatch, app_settings, sandbox):
    for workspace_id in (WS_GOOD, WS_BAD):
        sandbox.add_workspace(workspace_id)
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", f"{WS_GOOD},{WS_BAD}")


def _tick(app, component, caplog, sandbox, function: str = "scan_run_failures") -> None:
    """One invocation of a timer function (its use case on `app`), recorded as the host records it."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        if function == "deliver_outbox":
            app.deliver_outbox(sandbox.now)
        else:
            app.scan(next(spec.scan for spec in DETECTORS if spec.function == function), sandbox.now)
    component.invocation(function, list(caplog.records), sandbox.now)
    sandbox.advance(timedelta(minutes=5))


def test_a_workspace_unread_three_ticks_in_a_row_fires_once_per_workspace(
    two_workspaces, sandbox, make_app, component, caplog
):
    sandbox.fail_workspace(WS_BAD, 403)
    app = make_app()
    query = alert_query("failed-scans.kql")
    for _ in range(2):
        _tick(app, component, caplog, sandbox)
        assert component.alerts(query) == []  # one or two failed ticks: the next one usually reads it
    _tick(app, component, caplog, sandbox)
    [alert] = component.alerts(query)
    assert (alert["Scan"], alert["WorkspaceId"], alert["FailedTicks"]) == ("run-failures", WS_BAD, 3)
    # The scan of the other kind reads the same workspace: it is another dimension, not yet three ticks.
    _tick(app, component, caplog, sandbox, "scan_compute_changes")
    assert [(a["Scan"], a["FailedTicks"]) for a in component.alerts(query)] == [("run-failures", 3)]

    sandbox.heal_workspace(WS_BAD)
    _tick(app, component, caplog, sandbox)
    assert component.alerts(query) == []  # the last three ticks: failed, failed, read


def test_failures_with_a_good_tick_between_them_do_not_fire(two_workspaces, sandbox, make_app, component, caplog):
    app = make_app()
    for fails in (True, True, False, True, True):
        if fails:
            sandbox.fail_workspace(WS_BAD, 503)
        else:
            sandbox.heal_workspace(WS_BAD)
        _tick(app, component, caplog, sandbox)
    assert component.alerts(alert_query("failed-scans.kql")) == []
    assert component.alerts(alert_query("failed-scans.kql", ticks=2))[0]["WorkspaceId"] == WS_BAD


def test_the_scan_failure_record_carries_the_contracted_marker(two_workspaces, sandbox, make_app, caplog):
    sandbox.fail_workspace(WS_BAD, 429, retry_after=600)
    with caplog.at_level(logging.INFO):
        make_app().scan("run-failures", sandbox.now)
    [marked] = [record for record in caplog.records if record.getMessage().startswith(f"{SCAN_FAILED} ")]
    assert marked.levelno == logging.WARNING  # throttled: passes by itself; 403/404 are ERROR (test_workspaces_flow)
    assert f"{SCAN_FAILED} run-failures: Log Analytics workspace {WS_BAD} not read" in marked.getMessage()


def test_a_notice_that_went_dead_fires_and_retries_do_not(sandbox, make_app, state, component, caplog):
    sandbox.add_tables(six_step_pipeline("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    sandbox.fail_next("email", 500, count=1000)
    app = make_app()
    query = alert_query("dead-notices.kql")
    _tick(app, component, caplog, sandbox)
    assert component.alerts(query) == []  # the first attempt failed: a retry is due, nobody is told yet
    logged = []
    for _ in range(6):
        _tick(app, component, caplog, sandbox, "deliver_outbox")
        logged += caplog.records
        sandbox.advance(timedelta(minutes=25))
    [alert] = component.alerts(query)
    assert (alert["IncidentKey"], alert["Attempts"]) == ("run-failure:ws-prod:pipe1", 4)
    assert "HTTP 500" in alert["message"]
    [dead] = [record for record in logged if record.getMessage().startswith(f"{NOTICE_DEAD} ")]
    assert dead.levelno == logging.ERROR


def test_a_failed_invocation_fires_with_its_function_name_and_client_errors_or_other_apps_do_not(component, sandbox):
    component.invocation("deliver_outbox", [], sandbox.now, success=True)
    component.invocation("scan_metrics", [], sandbox.now, success=False, app=OTHER_APP)
    component.invocation("alert_webhook", [], sandbox.now, success=False, result_code="401")  # no function key
    assert component.alerts(alert_query("function-failures.kql")) == []
    component.invocation("deliver_outbox", [], sandbox.now, success=False)
    assert [a["FunctionName"] for a in component.alerts(alert_query("function-failures.kql"))] == ["deliver_outbox"]


def test_the_queries_name_the_markers_and_the_apps_scan_functions() -> None:
    scans = (QUERIES / "failed-scans.kql").read_text()
    assert f'startswith "{SCAN_FAILED} "' in scans
    assert f'startswith "{NOTICE_DEAD} "' in (QUERIES / "dead-notices.kql").read_text()
    # The ticks are the invocations of these timer functions; a renamed function would leave the rule blind.
    for name in ("scan_run_failures", "scan_compute_changes"):
        assert f'"{name}"' in scans
        assert hasattr(function_app, name)
