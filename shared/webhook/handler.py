"""The alert webhook use case: one Azure Monitor action-group delivery -> at most one message per incident.

    size / content type / (Secure Webhook token) / parse / allow-list   -> 413, 415, 401, 403, 400
    claim the delivery (alertId + monitorCondition) in `webhookdeliveries` -> a repeat is answered 200, no message;
        a copy that finds another copy's unfinished claim is answered 503 (retry), never 200
    one alert incident `alert:<hash>:<condition>`; Fired on Azure ML runs, it carries what to look up
        (webhook/enrichment.py), and at delivery one Log Analytics query turns it into pipeline incidents keyed
        like the scan (`run-failure:<ws>:<run>`), so what the scan already emailed is not emailed again (and the
        other way round); nothing found: the alert, with a note (enrich/log_analytics.py)
    record through the intake (claim; it puts them on the notifications queue), mark the delivery done, answer:
        send_notifications enriches and sends them, off the request (docs/queues.md). Storage without a queue
        service (a table-only Azurite): deliver now, within the budget; a failed send stays pending
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
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.core.resource_ids import parse_resource_id
from shared.detectors.azure_monitor_alert import KIND as ALERT_KIND
from shared.detectors.base import Detected
from shared.enrich import Budget
from shared.enrich.log_analytics import LOOKUP
from shared.webhook.answers import Rejected, WebhookAnswer, error, retry

if TYPE_CHECKING:
    from shared.outbox.delivery import OutboxDelivery
    from shared.outbox.intake import Intake
    from shared.settings import Settings
    from shared.webhook.deliveries import DeliveryClaim, WebhookDeliveries
    from shared.webhook.payload import Alert
    from shared.webhook.secure import SecureWebhook

log = logging.getLogger(__name__)

# Seconds. One request: auth (signing keys at most KEYS_TIMEOUT, once an hour), claim, record, enqueue. Without a
# queue service, also the delivery (its enrichment, and one send request if SEND_RESERVE is left; else the outbox
# timer sends it).
REQUEST_BUDGET = 8.0
SEND_RESERVE = 3.0
# Longer than the budget, so a live request keeps its claim (a hanging table service can stretch one past it: a
# second copy then records the same incidents and the outbox's compare-and-swap still sends once), and short enough
# that Azure's retry 25 s after a failed answer takes over a claim the failed request could not release.
DELIVERY_LEASE = timedelta(seconds=20)


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


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


class AlertWebhook:
    def __init__(
        self,
        *,
        settings: Settings,
        deliveries: WebhookDeliveries,
        intake: Intake,
        delivery: OutboxDelivery,
        secure: SecureWebhook | None = None,
    ) -> None:
        """Each built over clients whose timeouts and retries fit REQUEST_BUDGET (AlertingApp builds them)."""
        self._settings = settings
        self._deliveries = deliveries
        self._intake = intake
        self._delivery = delivery
        self._secure = secure

    def receive(self, body: bytes, headers: Mapping[str, str], now: datetime) -> WebhookAnswer:
        started = time.perf_counter()
        answer = self._receive(body, headers, now, Budget(REQUEST_BUDGET))
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        answer.body["ms"] = elapsed
        level = logging.INFO if answer.status < 400 else logging.WARNING
        log.log(level, "alert_webhook: %d %s in %.1f ms", answer.status, answer.body.get("status"), elapsed)
        return answer

    def _receive(self, body: bytes, headers: Mapping[str, str], now: datetime, budget: Budget) -> WebhookAnswer:
        from shared.webhook.payload import parse_alert

        rejected = self._check_request(body, headers)
        if rejected is not None:
            return rejected
        try:
            alert = parse_alert(body)
        except Rejected as err:
            return error(err.status, err.message)
        targets = alert.essentials.alert_target_ids or []
        if not in_allowed_scopes(targets, self._settings.webhook_allowed_scopes):
            return error(
                403,
                "The alert's target resources are outside WEBHOOK_ALLOWED_SCOPES: "
                + (", ".join(t[:300] for t in targets[:5]) or "(no alertTargetIDs)"),
            )
        try:
            return self._claim_and_process(alert, now, budget)
        except Exception as err:
            if _is_state_unavailable(err):
                log.warning("alert_webhook: state store unavailable, asking Azure to retry: %r", err)
                return retry("The state store is unreachable; retry later.")
            # Not the caller's fault and possibly transient: a 503 makes Azure retry; the error is in the log.
            log.exception("alert_webhook: processing failed")
            return retry("The alert could not be processed now; retry later.")

    def _check_request(self, body: bytes, headers: Mapping[str, str]) -> WebhookAnswer | None:
        """Size, content type and (Secure Webhook) token, before the body is even parsed."""
        from shared.webhook.payload import MAX_BODY_BYTES

        if len(body) > MAX_BODY_BYTES:
            return error(
                413,
                f"The body is {len(body)} bytes; a common alert schema payload is at most "
                f"{MAX_BODY_BYTES} bytes (256 KB).",
            )
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            return error(415, f"Content-Type {content_type!r} is not accepted; send application/json.")
        if self._secure is None:
            return None
        try:
            self._secure.validate(_header(headers, "authorization"))
        except Rejected as err:
            if err.status == 503:
                return retry(err.message, err.retry_after)
            extra = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if err.status == 401 else {}
            return error(err.status, err.message, extra)
        return None

    def _claim_and_process(self, alert: Alert, now: datetime, budget: Budget) -> WebhookAnswer:
        """Claim the delivery, process it, and release the claim on anything but a 2xx: Azure's retry of a
        failed delivery must find it claimable, never "duplicate"."""
        key = delivery_key(alert.essentials.alert_id, alert.condition)
        claim = self._deliveries.begin(key, now, DELIVERY_LEASE)
        if claim.status == "duplicate":
            return WebhookAnswer(200, {"status": "duplicate", "delivery": key})
        if claim.status == "in-progress":
            wait = max(1, math.ceil(((claim.lease_until or now) - now).total_seconds()))
            return retry("Another delivery of this alert is being processed; retry later.", wait)
        answer = None
        try:
            answer = self._process(alert, key, now, budget)
        finally:
            if answer is None or not 200 <= answer.status < 300:
                self._release(key, claim)
        return answer

    def _release(self, key: str, claim: DeliveryClaim) -> None:
        try:
            if not self._deliveries.release(key, claim):
                log.info("alert_webhook: the claim of %s was taken over by another copy", key)
        except Exception as err:  # best effort: unreleased, the claim is taken over when its lease runs out
            log.warning(
                "alert_webhook: could not release the claim of %s (lease until %s): %r", key, claim.lease_until, err
            )

    def _process(self, alert: Alert, key: str, now: datetime, budget: Budget) -> WebhookAnswer:
        from shared.webhook.enrichment import plan_enrichment
        from shared.webhook.summary import summarise

        summary = summarise(alert)
        labels = {
            "kind": ALERT_KIND,
            "workspace": _workspace_name(alert),
            "experiment": "",
            "compute": "",
            "rule": summary["rule"],
        }
        s = self._settings
        plan = plan_enrichment(alert, now, s.enrichment_margin, s.scan_lookback)
        payload = {**summary, **({LOOKUP: plan.to_payload()} if plan else {})}
        recorded = self._intake.record([Detected(key, ALERT_KIND, payload, labels, now)], now, source="alert_webhook")
        keys = list(recorded.detections)  # the alert's record, and its copies for the route's other destinations
        self._deliveries.finish(key, [key], now)
        sent = pending = 0
        if self._intake.queued:  # never sends or polls here: send_notifications does, off the request
            pending = len(keys)
        elif budget.remaining() < SEND_RESERVE:  # recorded and due: the outbox timer sends it within minutes
            log.warning(
                "alert_webhook: %.1f s of the request budget left; the outbox timer sends %s",
                budget.remaining(),
                ", ".join(keys),
            )
            pending = len(keys)
        else:
            try:
                # The delivery's enrichers (the alert's pipelines, their run history) get what the request has left
                # before its send.
                enrichment = budget.within(max(0.0, budget.remaining() - SEND_RESERVE))
                report = self._delivery.deliver_named(keys, now, enrichment)
                sent = report.sent
                pending = report.retrying
            except Exception:  # recorded already: the outbox timer sends it; the caller must not retry
                log.exception("alert_webhook: immediate delivery failed; the outbox will retry")
        return WebhookAnswer(
            200,
            {
                "status": "processed",
                "delivery": key,
                "incidents": [key],
                "new": recorded.claimed,
                "sent": sent,
                "pending": pending,
                "queued": self._intake.queued,
            },
        )


def _workspace_name(alert: Alert) -> str:
    """The name of the workspace the alert fired on (its first target that is a workspace), or ''."""
    for target in alert.essentials.alert_target_ids or []:
        resource = parse_resource_id(target.rstrip("/"))
        if resource is not None and resource.types[-1].lower() == "workspaces":
            return resource.name
    return ""


def _is_state_unavailable(err: Exception) -> bool:
    from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

    if isinstance(err, ServiceRequestError | ServiceResponseError):
        return True
    status = getattr(err, "status_code", None)
    return isinstance(err, HttpResponseError) and (status is None or status >= 500 or status in (408, 429))
