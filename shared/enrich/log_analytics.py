"""The Log Analytics enrichment of webhook alerts, behind the enrichment seam, at delivery (off the webhook's
request: send_notifications, or the outbox timer): an Azure Monitor alert about Azure ML runs becomes the failed
pipelines it is about, with their steps, keyed like the run-failure scan's incidents (so what the scan already
emailed is not emailed again, and the other way round). The delivery records them and the alert as `replaced`.

What to look up is planned by the webhook (webhook/enrichment.py) and stored in the alert's payload under LOOKUP
(`EnrichmentPlan.to_payload`). One query for all runs of an alert (`enrichment_query`) returns the same columns as
the scan's query, so `read_events` and `group_pipeline_failures` make the same incidents. Best effort: out of
time, a failed query or nothing found yet leaves the alert as it is, with a note saying why (the run-failure scan
will email each failed pipeline with its steps).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.azure.log_analytics import LogAnalytics
from shared.core.kql import kql_string_list
from shared.detectors import azure_monitor_alert, run_failures
from shared.detectors.base import Detected
from shared.detectors.run_failures_query import events_from_rows, failed_pipelines_query
from shared.enrich import Budget, Enrichment, EnrichmentSubject

log = logging.getLogger(__name__)

ENRICHMENT_TIMEOUT = 4.0  # seconds; the enrichment's Log Analytics client: server timeout 3 s, read timeout 4 s
LOOKUP = "run_lookup"  # the alert payload's key for its EnrichmentPlan (stored, not shown)
_SHOWN = ("rule", "severity", "condition", "service", "fired_at", "links", "unlinked")  # the alert block


@dataclass(frozen=True)
class EnrichmentPlan:
    """What to look up: failed runs in [start, end] of these AML workspaces or these run ids."""

    start: datetime
    end: datetime
    lookback_start: datetime  # the steps of a failed pipeline may have started long before it failed
    resource_ids: tuple[str, ...] = ()  # AML workspace resource ids (metric alerts)
    run_ids: tuple[str, ...] = ()  # RunId / RootRunId dimension values (log alerts)
    workspace_names: tuple[str, ...] = ()  # WorkspaceName dimension values (log alerts)
    log_analytics_workspace: str | None = None  # GUID named by the alert's own links, if any

    def to_payload(self) -> dict[str, Any]:
        """As stored in the alert's payload (JSON: times as ISO 8601, tuples as lists)."""

        def stored(value: Any) -> Any:
            if isinstance(value, datetime):
                return value.isoformat()
            return list(value) if isinstance(value, tuple) else value

        return {name: stored(value) for name, value in asdict(self).items()}

    @classmethod
    def from_payload(cls, stored: Any) -> EnrichmentPlan | None:
        """The plan `to_payload` stored; None for anything else (an alert with nothing to look up)."""
        if not isinstance(stored, Mapping):
            return None
        try:
            return cls(
                start=datetime.fromisoformat(stored["start"]),
                end=datetime.fromisoformat(stored["end"]),
                lookback_start=datetime.fromisoformat(stored["lookback_start"]),
                resource_ids=tuple(stored.get("resource_ids") or ()),
                run_ids=tuple(stored.get("run_ids") or ()),
                workspace_names=tuple(stored.get("workspace_names") or ()),
                log_analytics_workspace=stored.get("log_analytics_workspace"),
            )
        except (KeyError, TypeError, ValueError):
            return None


def enrichment_query(plan: EnrichmentPlan) -> str:
    """One query for all runs of an alert: the latest status of every run of each pipeline that had a run fail
    in the window (and in the alert's scope), with the compute job's error text and experiment."""
    scope = []
    if plan.resource_ids:
        scope.append(f"| where _ResourceId in~ {kql_string_list(plan.resource_ids)}")
    if plan.run_ids:
        ids = kql_string_list(plan.run_ids)
        scope.append(f"| where RunId in {ids} or RootRunId in {ids}")
    if plan.workspace_names:
        scope.append(f"| where WorkspaceName in~ {kql_string_list(plan.workspace_names)}")
    if not scope:
        raise ValueError("an enrichment query needs a scope (resource ids or run ids)")
    return failed_pipelines_query(
        plan.start, plan.end, clock="TimeGenerated", selection=[*scope, '| where Status =~ "Failed"']
    )


def configured_workspace(named: str | None, configured: tuple[str, ...]) -> str:
    """The configured Log Analytics workspace the alert names (GUIDs compare case-insensitively), else the first."""
    wanted = (named or "").lower()
    return next((workspace for workspace in configured if workspace.lower() == wanted), configured[0])


class LogAnalyticsEnricher:
    """Enricher of `alert` incidents whose payload holds an EnrichmentPlan under LOOKUP (none: not about Azure ML
    runs)."""

    name = "log-analytics"
    kinds = frozenset({azure_monitor_alert.KIND})

    def __init__(self, logs: LogAnalytics, workspace_ids: tuple[str, ...], group_wait: timedelta) -> None:
        self._logs = logs
        self._workspace_ids = workspace_ids
        self._group_wait = group_wait

    def enrich(self, subject: EnrichmentSubject, budget: Budget) -> Enrichment:
        plan = EnrichmentPlan.from_payload(subject.payload.get(LOOKUP))
        if plan is None:
            return Enrichment()
        if budget.remaining() < ENRICHMENT_TIMEOUT:
            return Enrichment(
                note="Step-level details were not looked up (the delivery ran out of time); the "
                "run-failure scan will email each failed pipeline with its steps."
            )
        workspace = configured_workspace(plan.log_analytics_workspace, self._workspace_ids)
        try:
            result = self._logs.query(workspace, enrichment_query(plan), plan.lookback_start, plan.end)
            incidents = run_failures.group_pipeline_failures(events_from_rows(result.rows))
        except Exception as err:  # no details is still an email: the plain alert, saying why
            log.warning("alert_webhook: enrichment query failed: %r", err)
            return Enrichment(
                note="Step-level details could not be read from Log Analytics now; the run-failure "
                "scan will email each failed pipeline with its steps."
            )
        if not incidents:
            return Enrichment(
                note="No failed run of this alert is in Log Analytics yet (Azure ML logs arrive minutes "
                "late); the run-failure scan will email each failed pipeline with its steps."
            )
        return Enrichment(replaced_by=tuple(self._pipeline(incident, subject.payload) for incident in incidents))

    def _pipeline(self, incident: run_failures.PipelineFailure, summary: Mapping[str, Any]) -> Detected:
        """A pipeline incident as the scan makes it, with the alert that led to it (shown in its message)."""
        payload = {**run_failures.incident_payload(incident), "alert": {k: summary[k] for k in _SHOWN}}
        labels = {**incident.labels, "rule": summary["rule"]}
        due_at = run_failures.due_at(incident, self._group_wait)
        return Detected(incident.key, run_failures.KIND, payload, labels, due_at)
