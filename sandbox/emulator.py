"""The Sandbox: emulated Azure services sharing one simulated clock, served over HTTPS on loopback: Log Analytics,
Metrics, ACS Email, and Azure ML's ARM, run history and log blobs (methods in aml_sandbox.py).

Tests drive it in-process through this class; other processes drive it through the ``/_sandbox/`` control
API (see server.py), which maps one-to-one onto the methods here.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .aml import AzureMl
from .aml_sandbox import AzureMlSandbox
from .communication_email import POLL_HINT_HEADERS, Email
from .faults import Faults
from .log_analytics import DEFAULT_WORKSPACE_ID, LogAnalytics, partial_error
from .metrics import DEFAULT_REGION, Metrics, endpoint_template
from .seeds import resolve_times
from .server import SandboxServer
from .teams import Workflows
from .timeutil import parse_datetime
from .tls import make_server_context

SCHEMAS_PATH = Path(__file__).with_name("la-schemas.json")
LOCAL_RECIPIENT = "ml-oncall@contoso.com"  # where the local stack's emails go (captured, never sent)


def load_schemas(path: Path = SCHEMAS_PATH) -> dict[str, list[tuple[str, str]]]:
    """Table -> [(column, kusto type)] from la-schemas.json (its ``_about`` entry is documentation)."""
    raw = json.loads(path.read_text())
    return {
        table: [(name, kind) for name, kind in columns] for table, columns in raw.items() if not table.startswith("_")
    }


class Sandbox(AzureMlSandbox):
    """Log Analytics, Metrics, ACS Email and Azure ML stand-ins behind one HTTPS endpoint.

    Nothing runs until :meth:`start`. The clock starts at the wall clock truncated to seconds (or *now*)
    and moves only when told to, so ingestion delays and time windows are deterministic.
    """

    def __init__(
        self, *, now: datetime | str | None = None, port: int = 0, state_dir: str | Path | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._now = parse_datetime(now) if now else datetime.now(UTC).replace(microsecond=0)
        self._port = port
        self._state_dir = Path(state_dir) if state_dir else None
        self._own_state_dir = False
        self._server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._ca_bundle: Path | None = None
        self._queries: list[dict[str, Any]] = []
        self._metric_requests: list[dict[str, Any]] = []
        self.default_ingestion_delay = timedelta(0)
        self.email_poll_headers = dict(POLL_HINT_HEADERS)
        self.log_analytics = LogAnalytics(load_schemas())
        self.metrics = Metrics()
        self.email = Email()
        self.teams = Workflows()  # Teams webhooks: sandbox/teams.py
        self.faults = Faults()
        self.aml = AzureMl()

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        if self._state_dir is None:
            self._state_dir = Path(tempfile.mkdtemp(prefix="sandbox-"))
            self._own_state_dir = True
        context, self._ca_bundle = make_server_context(self._state_dir)
        self._server = SandboxServer(self._port, context, self)
        # A short poll interval makes stop() quick: shutdown() waits for the loop's next poll.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-https", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.log_analytics.close()
        self.teams.validator.close()
        if self._own_state_dir and self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)
            self._state_dir, self._own_state_dir = None, False

    def __enter__(self) -> Sandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"https://{self._server.host_port}"

    @property
    def ca_bundle(self) -> str:
        if self._ca_bundle is None:
            raise RuntimeError("the sandbox is not started")
        return str(self._ca_bundle)

    def env(self) -> dict[str, str]:
        """The settings that point the app at this sandbox."""
        return {
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "LOG_ANALYTICS_ENDPOINT": self.endpoint,
            "METRICS_ENDPOINT": endpoint_template(self.endpoint),
            "METRICS_REGION": DEFAULT_REGION,
            "ACS_ENDPOINT": self.endpoint,
            "AZURE_CREDENTIAL": "emulator",
            "ARM_ENDPOINT": self.endpoint,
            "AML_API_HOSTS": ",".join(self.aml_client_options()["api_hosts"]),
        }

    def app_settings(self, storage: str, **overrides: str) -> dict[str, str]:
        """Everything the app needs to run against this sandbox and Azurite (`storage`: its connection string):
        what a local.settings.json holds for `func start` against the local stack."""
        return {
            "AzureWebJobsStorage": storage,
            "LOG_ANALYTICS_WORKSPACE_IDS": DEFAULT_WORKSPACE_ID,
            "EMAIL_SENDER": "DoNotReply@alerts.contoso.com",
            "EMAIL_RECIPIENTS": LOCAL_RECIPIENT,
            **self.env(),
            **overrides,
        }

    # -- clock -------------------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set_clock(self, now: datetime | str) -> None:
        with self._lock:
            self._now = parse_datetime(now)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    # -- seeding and inspection --------------------------------------------------------------------------

    def add_workspace(self, workspace_id: str) -> None:
        """A Log Analytics workspace that exists but has no table yet: its queries name tables that are absent."""
        self.log_analytics.add_workspace(workspace_id)

    def add_rows(self, table: str, rows: list[dict[str, Any]], workspace_id: str = DEFAULT_WORKSPACE_ID) -> None:
        self.log_analytics.add_rows(table, rows, workspace_id, self.default_ingestion_delay)

    def add_tables(self, tables: dict[str, list[dict[str, Any]]], workspace_id: str = DEFAULT_WORKSPACE_ID) -> None:
        """Rows of several tables at once (table -> rows), as the scenarios build them."""
        for table, rows in tables.items():
            self.add_rows(table, rows, workspace_id)

    def add_metric_series(
        self,
        resource_id: str,
        namespace: str,
        metric: str,
        points: Sequence[tuple[datetime | str, float]],
        dimensions: dict[str, str] | None = None,
        unit: str = "Count",
        region: str = DEFAULT_REGION,
    ) -> None:
        """A series of *resource_id* in *region*: the regional endpoint of another region refuses it."""
        self.metrics.add_series(resource_id, namespace, metric, points, dimensions=dimensions, unit=unit, region=region)

    def load_seed(self, seed: dict[str, Any]) -> None:
        """Apply a seed document (docs/sandbox-seeds.md): ``{"clock"?, "workspace_id"?, "pipelines": [...],
        "tables": {table: rows}, "metrics": [...]}``; times may be relative to the clock (``now-25m``)."""
        if seed.get("clock"):
            self.set_clock(seed["clock"])
        seed = resolve_times(seed, self.now)
        workspace_id = seed.get("workspace_id") or DEFAULT_WORKSPACE_ID
        for run in seed.get("pipelines") or []:
            self.add_pipeline(run, workspace_id)
        self.add_tables(seed.get("tables") or {}, workspace_id)
        for series in seed.get("metrics") or []:
            self.add_metric_series(
                series["resource_id"],
                series["namespace"],
                series["metric"],
                [tuple(p) for p in series["points"]],
                series.get("dimensions"),
                series.get("unit", "Count"),
                series.get("region", DEFAULT_REGION),
            )

    def reset(self) -> None:
        """Forget rows, metric series, emails, Azure ML runs and schedules, faults and request logs; the clock
        stays where it is."""
        self.aml.clear()
        self.log_analytics.clear()
        self.metrics.clear()
        self.email.clear()
        self.teams.clear()  # its runs and faults; its webhooks stay (the app's settings hold their URLs)
        self.faults.clear()
        with self._lock:
            self._queries.clear()
            self._metric_requests.clear()

    @property
    def queries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._queries)

    @property
    def metric_requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._metric_requests)

    @property
    def emails(self) -> list[dict[str, Any]]:
        return self.email.sent

    def fail_next(self, service: str, status: int, count: int = 1) -> None:
        self.faults.fail_next(service, status, count)

    def fail_during(self, service: str, status: int, start: datetime, end: datetime) -> None:
        """Every call to *service* answers *status* while the sandbox clock is in [start, end)."""
        self.faults.fail_during(service, status, start, end)

    def fail_workspace(
        self, workspace_id: str, status: int, count: int | None = None, retry_after: int | None = None
    ) -> None:
        """Queries of this Log Analytics workspace answer *status* (403, 404, 429, 5xx), the next *count* of them
        or all until `heal_workspace`; a 429 or 503 may carry `Retry-After: <retry_after>` seconds."""
        self.faults.fail_workspace(workspace_id, status, count, retry_after)

    def heal_workspace(self, workspace_id: str) -> None:
        self.faults.heal_workspace(workspace_id)

    def delay_next(self, service: str, seconds: float, count: int = 1) -> None:
        self.faults.delay_next(service, seconds, count)

    def fail_next_partial(self, count: int = 1) -> None:
        self.faults.fail_next_partial(count)

    def fail_email_operation_next(self, count: int = 1) -> None:
        self.email.fail_operation_next(count)

    def lose_email_answer_next(self, count: int = 1, status: int | None = None) -> None:
        """The next sends are accepted and their 202 lost: the connection is cut, or a gateway answers `status`."""
        self.email.lose_answer_next(count, status)

    # -- answers, called by the server -------------------------------------------------------------------

    def answer_logs_query(self, workspace_id: str, body: dict[str, Any]) -> dict[str, Any]:
        self.faults.raise_if_workspace_fails(workspace_id)
        with self._lock:
            self._queries.append(
                {"workspace_id": workspace_id, "query": body.get("query"), "timespan": body.get("timespan")}
            )
        answer = self.log_analytics.query(workspace_id, body, self.now)
        if self.faults.take_partial():
            warnings = answer.get("error", {}).get("details", [])
            answer["error"] = partial_error(
                [
                    {
                        "code": "EngineError",
                        "message": "Sandbox-armed partial failure.",
                        "innererror": {"code": "LimitsExceeded", "message": "Result truncated."},
                    },
                    *warnings,
                ]
            )
        return answer

    def answer_metrics_batch(
        self, region: str, subscription: str, params: dict[str, str], body: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            self._metric_requests.append(
                {
                    "region": region,
                    "subscription": subscription,
                    "params": dict(params),
                    "resourceids": body.get("resourceids"),
                }
            )
        return self.metrics.get_batch(region, subscription, params, body, self.now)

    def answer_email_send(
        self,
        message: Any,
        operation_id: str | None,
        repeatability: tuple[str | None, str | None] = (None, None),
    ) -> tuple[dict[str, Any], dict[str, str]]:
        return self.email.send(message, operation_id, self.now, repeatability)

    def answer_email_operation(self, operation_id: str) -> dict[str, Any]:
        return self.email.operation(operation_id)

    # -- Teams Workflows webhooks ------------------------------------------------------------------------

    def add_teams_webhook(self, name: str = "alerts") -> str:
        """A Workflows webhook posting to the Teams channel *name*: its URL, signature included (a secret in Azure)."""
        workflow_id, sig = self.teams.add_webhook(name)
        return (
            f"{self.endpoint}/powerautomate/automations/direct/workflows/{workflow_id}/triggers/manual/paths/invoke"
            f"?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}"
        )

    @property
    def teams_runs(self) -> list[dict[str, Any]]:
        """Every post a webhook accepted (202), with the flow run's status and, when it failed, why."""
        return self.teams.runs

    @property
    def teams_cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards that reached a channel (valid ones): webhook name, posted_at, card."""
        return self.teams.posted

    def fail_teams(self, status: int, count: int = 1, retry_after: int | None = None) -> None:
        """The next *count* posts to any Teams webhook answer *status* (400, 429, 5xx), with `Retry-After` when
        given (a 429 without one says 0)."""
        self.teams.fail_next(status, count, retry_after)

    def fail_teams_during(self, status: int, start: datetime, end: datetime, retry_after: int | None = None) -> None:
        """Every post to a Teams webhook answers *status* while the sandbox clock is in [start, end)."""
        self.teams.fail_during(status, start, end, retry_after)

    def lose_teams_answer_next(self, count: int = 1) -> None:
        """The next *count* posts are accepted and their cards posted, and the connection is cut before the 202."""
        self.teams.lose_answer_next(count)

    def answer_teams_invoke(
        self, workflow_id: str, params: dict[str, str], body: Any, size: int, authorization: str | None
    ) -> None:
        """The trigger checks the signature, may be throttled or failing, accepts; then the flow runs."""
        name = self.teams.authorise(workflow_id, params, authorization)
        self.teams.raise_if_failing(self.now)
        self.teams.run(name, body, size, self.now)
