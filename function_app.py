"""Azure Functions entry points: wiring only. Each function parses its trigger, calls one use case, logs the result.

A scan's function is named in its registry line (shared/detectors/): `function` and `schedule_setting`. The queue
triggers read the queues of shared/azure/queues.py (NOTIFICATIONS, SCAN_WORKSPACES) over the host's storage
connection; host.json sets how they are retried (docs/queues.md)."""

import json
import logging
from datetime import UTC, datetime

import azure.functions as func

from shared.entrypoints import alerting_app

app = func.FunctionApp()
log = logging.getLogger("function_app")


def _scan(function: str, scan: str) -> None:
    report = alerting_app().tick(scan, datetime.now(UTC))
    log.info("%s: %s", function, report.summary())


@app.timer_trigger(schedule="%RUN_FAILURES_SCHEDULE%", arg_name="timer", use_monitor=True)
def scan_run_failures(timer: func.TimerRequest) -> None:
    _scan("scan_run_failures", "run-failures")


@app.timer_trigger(schedule="%COMPUTE_CHANGES_SCHEDULE%", arg_name="timer", use_monitor=True)
def scan_compute_changes(timer: func.TimerRequest) -> None:
    _scan("scan_compute_changes", "compute-changes")


@app.timer_trigger(schedule="%METRICS_SCHEDULE%", arg_name="timer", use_monitor=True)
def scan_metrics(timer: func.TimerRequest) -> None:
    _scan("scan_metrics", "metrics")


@app.timer_trigger(schedule="%STUCK_RUNS_SCHEDULE%", arg_name="timer", use_monitor=True)
def scan_stuck_runs(timer: func.TimerRequest) -> None:
    _scan("scan_stuck_runs", "stuck-runs")


@app.timer_trigger(schedule="%SCHEDULES_SCHEDULE%", arg_name="timer", use_monitor=True)
def scan_schedules(timer: func.TimerRequest) -> None:
    _scan("scan_schedules", "schedules")


@app.timer_trigger(schedule="%OUTBOX_SCHEDULE%", arg_name="timer", use_monitor=True)
def deliver_outbox(timer: func.TimerRequest) -> None:
    report = alerting_app().deliver_outbox(datetime.now(UTC))
    log.info("deliver_outbox: %s", report.summary())


@app.queue_trigger(arg_name="message", queue_name="scan-workspaces", connection="AzureWebJobsStorage")
def scan_workspace(message: func.QueueMessage) -> None:
    found = alerting_app().scan_workspace(message.get_body(), message.dequeue_count or 1, datetime.now(UTC))
    log.info("scan_workspace: %s", found.summary() if found else "nothing scanned")


@app.queue_trigger(arg_name="message", queue_name="notifications", connection="AzureWebJobsStorage")
def send_notifications(message: func.QueueMessage) -> None:
    report = alerting_app().send_notifications(message.get_body(), message.dequeue_count or 1, datetime.now(UTC))
    log.info("send_notifications: %s", report.summary() if report else "nothing to send")


@app.route(route="alerts", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def alert_webhook(req: func.HttpRequest) -> func.HttpResponse:
    answer = alerting_app().receive_alert(req.get_body(), dict(req.headers), datetime.now(UTC))
    return func.HttpResponse(
        json.dumps(answer.body), status_code=answer.status, headers=answer.headers, mimetype="application/json"
    )
