"""The alert webhook use case: one Azure Monitor action-group delivery -> at most one email per incident.

    size / content type / (Secure Webhook token) / parse / allow-list   -> 413, 415, 401, 403, 400
    claim the delivery (alertId + monitorCondition) in `webhookdeliveries` -> a repeat is answered 200, no email;
        a copy that finds another copy's unfinished claim is answered 503 (retry), never 200
    Fired on Azure ML runs: one query -> pipeline incidents keyed like the scan (`run-failure:<ws>:<run>`),
        so what the scan already emailed is not emailed again (and the other way round)
    anything else, or nothing found yet: one alert incident `alert:<hash>:<condition>`
    record in the outbox (claim), mark the delivery done, send what is due now; a failed send stays pending
    Table Storage unreachable -> 503 + Retry-After (Azure retries 503, not 500); the claim is released first

Time: Azure retries a 408/429/503/504 after 5, 20, 5, 40 and 5 s and does not follow Retry-After
(`../shared/reference/azure-facts.md`). It documents no timeout any more; it used to wait 10 s for an answer, so a
request spends at most REQUEST_BUDGET. A claim that could not be released (the table service failed) holds for
DELIVERY_LEASE, longer than any request: Azure's retry 5 s later is answered 503, the one 25 s later takes over.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from shared import outbox
from shared.outbox import Detection, OutboxRecord
from shared.routing import Router

if TYPE_CHECKING:
    from shared.log_analytics import LogAnalytics
    from shared.outbox_delivery import OutboxDelivery
    from shared.secure_webhook import SecureWebhook
    from shared.settings import Settings
    from shared.state_tables import DeliveryClaim, StateTables

log = logging.getLogger(__name__)

ALERT_KIND = "alert"
RUN_FAILURE_KIND = "run-failure"
# Seconds. One request: auth (signing keys at most KEYS_TIMEOUT, once an hour), claim, enrichment (at most
# ENRICHMENT_TIMEOUT), record, and one send request if SEND_RESERVE is left; else the outbox timer sends it.
REQUEST_BUDGET = 8.0
ENRICHMENT_TIMEOUT = 4.0  # the webhook's Log Analytics client: server timeout 3 s, read timeout 4 s, no retries
SEND_RESERVE = 3.0
# Longer than the budget, so a live request keeps its claim (a hanging table service can stretch one past it: a
# second copy then records the same incidents and the outbox's compare-and-swap still sends once), and short enough
# that Azure's retry 25 s after a failed answer takes over a claim the failed request could not release.
DELIVERY_LEASE = timedelta(seconds=20)
RETRY_AFTER_SECONDS = 5  # Azure's own first retry delay; a released claim can be claimed again at once


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def delivery_key(alert_id: str, condition: str) -> str:
    return f"{ALERT_KIND}:{hashlib.sha256(alert_id.encode()).hexdigest()[:32]}:{condition}"


def in_allowed_scopes(targets: list[str], scopes: tuple[str, ...]) -> bool:
    """Every target resource must be inside one allowed scope (a path prefix, compared case-insensitively)."""
    if not scopes:
        return True
    if not targets:
        return False
    for target in targets:
        lowered = target.lower().rstrip("/")
        if not any(lowered == scope or lowered.startswith(scope + "/") for scope in scopes):
            return False
    return True


def configured_workspace(named: str | None, configured: tuple[str, ...]) -> str:
    """The configured Log Analytics workspace the alert names (GUIDs compare case-insensitively), else the first."""
    wanted = (named or "").lower()
    return next((workspace for workspace in configured if workspace.lower() == wanted), configured[0])


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class _Budget:
    """What is left of REQUEST_BUDGET, on the monotonic clock (the wall clock `now` may jump)."""

    def __init__(self, seconds: float = REQUEST_BUDGET) -> None:
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()


class AlertWebhook:
    def __init__(self, *, settings: Settings, state: StateTables, logs: LogAnalytics, delivery: OutboxDelivery,
                 route: Router, secure: SecureWebhook | None = None) -> None:
        """`state`, `logs`: clients whose timeouts and retries fit REQUEST_BUDGET (AlertingApp builds them)."""
        self._settings = settings
        self._state = state
        self._logs = logs
        self._delivery = delivery
        self._route = route
        self._secure = secure

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> WebhookAnswer:
        started = time.perf_counter()
        answer = self._receive(body, headers, now, _Budget())
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        answer.body["ms"] = elapsed
        level = logging.INFO if answer.status < 400 else logging.WARNING
        log.log(level, "alert_webhook: %d %s in %.1f ms", answer.status, answer.body.get("status"), elapsed)
        return answer

    def _receive(self, body: bytes, headers: Mapping[str, str], now: datetime, budget: _Budget) -> WebhookAnswer:
        from shared.alert_payload import PayloadError, parse_alert

        rejected = self._check_request(body, headers)
        if rejected is not None:
            return rejected
        try:
            alert = parse_alert(body)
        except PayloadError as err:
            return _error(err.status, err.message)
        targets = alert.essentials.alert_target_ids or []
        if not in_allowed_scopes(targets, self._settings.webhook_allowed_scopes):
            return _error(403, "The alert's target resources are outside WEBHOOK_ALLOWED_SCOPES: "
                               + (", ".join(t[:300] for t in targets[:5]) or "(no alertTargetIDs)"))
        try:
            return self._claim_and_process(alert, now, budget)
        except Exception as err:
            if _is_state_unavailable(err):
                log.warning("alert_webhook: state store unavailable, asking Azure to retry: %r", err)
                return _retry("The state store is unreachable; retry later.")
            # Not the caller's fault and possibly transient: a 503 makes Azure retry; the error is in the log.
            log.exception("alert_webhook: processing failed")
            return _retry("The alert could not be processed now; retry later.")

    def _check_request(self, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer | None:
        """Size, content type and (Secure Webhook) token, before the body is even parsed."""
        from shared.alert_payload import MAX_BODY_BYTES

        if len(body) > MAX_BODY_BYTES:
            return _error(413, f"The body is {len(body)} bytes; a common alert schema payload is at most "
                               f"{MAX_BODY_BYTES} bytes (256 KB).")
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            return _error(415, f"Content-Type {content_type!r} is not accepted; send application/json.")
        if self._secure is None:
            return None
        from shared.secure_webhook import AuthError

        try:
            self._secure.validate(_header(headers, "authorization"))
        except AuthError as err:
            if err.status == 503:
                return _retry(err.message, err.retry_after)
            extra = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if err.status == 401 else {}
            return _error(err.status, err.message, extra)
        return None

    def _claim_and_process(self, alert: Any, now: datetime, budget: _Budget) -> WebhookAnswer:
        """Claim the delivery, process it, and release the claim on anything but a 2xx: Azure's retry of a
        failed delivery must find it claimable, never "duplicate"."""
        key = delivery_key(alert.essentials.alert_id, alert.condition)
        claim = self._state.begin_delivery(key, now, DELIVERY_LEASE)
        if claim.status == "duplicate":
            return WebhookAnswer(200, {"status": "duplicate", "delivery": key})
        if claim.status == "in-progress":
            wait = max(1, math.ceil((claim.lease_until - now).total_seconds()))
            return _retry("Another delivery of this alert is being processed; retry later.", wait)
        answer = None
        try:
            answer = self._process(alert, key, now, budget)
        finally:
            if answer is None or not 200 <= answer.status < 300:
                self._release(key, claim)
        return answer

    def _release(self, key: str, claim: DeliveryClaim) -> None:
        try:
            if not self._state.release_delivery(key, claim):
                log.info("alert_webhook: the claim of %s was taken over by another copy", key)
        except Exception as err:  # best effort: unreleased, the claim is taken over when its lease runs out
            log.warning("alert_webhook: could not release the claim of %s (lease until %s): %r",
                        key, claim.lease_until, err)

    def _process(self, alert: Any, key: str, now: datetime, budget: _Budget) -> WebhookAnswer:
        from shared.alert_payload import summarise

        summary = summarise(alert)
        records, pipelines = self._enriched_records(alert, summary, now, budget)
        if not pipelines:
            labels = {"kind": ALERT_KIND, "workspace": _workspace_name(alert), "experiment": "", "compute": "",
                      "rule": summary["rule"]}
            records = [outbox.new_record(key, ALERT_KIND, summary, self._route(labels), now, now, labels=labels)]
        recorded = [self._record(record) for record in records]
        keys = [record.key for record in records]
        self._state.finish_delivery(key, keys, now)
        sent = pending = 0
        if budget.left() < SEND_RESERVE:  # recorded and due: the outbox timer sends it within minutes
            log.warning("alert_webhook: %.1f s of the request budget left; the outbox timer sends %s",
                        budget.left(), ", ".join(keys))
            pending = len(keys)
        else:
            try:
                report = self._delivery.deliver_now(keys, now)
                sent = report.sent
                pending = report.retrying
            except Exception:  # recorded already: the outbox timer sends it; the caller must not retry
                log.exception("alert_webhook: immediate delivery failed; the outbox will retry")
        return WebhookAnswer(200, {
            "status": "processed", "delivery": key, "incidents": keys,
            "new": sum(detection is Detection.CLAIM for detection in recorded),
            "enriched_pipelines": pipelines, "sent": sent, "pending": pending,
        })

    def _enriched_records(self, alert: Any, summary: dict[str, Any], now: datetime, budget: _Budget
                          ) -> tuple[list[OutboxRecord], int]:
        from shared.alert_enrichment import enrichment_query, plan_enrichment
        from shared.run_failures import due_at, events_from_rows, group_pipeline_failures, incident_payload

        s = self._settings
        plan = plan_enrichment(alert, now, s.enrichment_margin, s.scan_lookback)
        if plan is None:
            return [], 0
        if budget.left() < ENRICHMENT_TIMEOUT:
            summary["note"] = ("Step-level details were not looked up (the request ran out of time); the "
                               "run-failure scan will email each failed pipeline with its steps.")
            return [], 0
        workspace = configured_workspace(plan.log_analytics_workspace, s.workspace_ids)
        try:
            result = self._logs.query(workspace, enrichment_query(plan), plan.lookback_start, plan.end)
            incidents = group_pipeline_failures(events_from_rows(result.rows))
        except Exception as err:  # no details is still an email: the plain alert, saying why
            log.warning("alert_webhook: enrichment query failed: %r", err)
            summary["note"] = "Step-level details could not be read from Log Analytics now; the run-failure " \
                              "scan will email each failed pipeline with its steps."
            return [], 0
        if not incidents:
            summary["note"] = ("No failed run of this alert is in Log Analytics yet (Azure ML logs arrive minutes "
                               "late); the run-failure scan will email each failed pipeline with its steps.")
            return [], 0
        shown = ("rule", "severity", "condition", "service", "fired_at", "links", "unlinked")
        alert_view = {k: summary[k] for k in shown}
        records = []
        for incident in incidents:
            payload = {**incident_payload(incident), "alert": alert_view}
            labels = {**incident.labels, "rule": summary["rule"]}
            records.append(outbox.new_record(incident.key, RUN_FAILURE_KIND, payload, self._route(labels), now,
                                             due_at(incident, s.group_wait), labels=labels))
        return records, len(incidents)

    def _record(self, fresh: OutboxRecord) -> Detection:
        """Claim, or add the alert to the scan's still-pending record; an incident already sent is left alone."""
        return self._state.record_detected(fresh)


def _workspace_name(alert: Any) -> str:
    for target in alert.essentials.alert_target_ids or []:
        parts = target.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2].lower() == "workspaces":
            return parts[-1]
    return ""


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> WebhookAnswer:
    return WebhookAnswer(status, {"status": "rejected" if status < 500 else "retry", "error": message},
                         headers or {})


def _retry(message: str, after: int = RETRY_AFTER_SECONDS) -> WebhookAnswer:
    """503: Azure retries it (a 500 it does not)."""
    return _error(503, message, {"Retry-After": str(after)})


def _is_state_unavailable(err: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(err, (ServiceRequestError, ServiceResponseError)):
        return True
    status = getattr(err, "status_code", None)
    return isinstance(err, HttpResponseError) and (status is None or status >= 500 or status in (408, 429))
