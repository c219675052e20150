"""`make demo`: the alerting app offline, with its real code and SDK clients.

Starts Azurite (Table and Queue Storage) and the sandbox (Log Analytics, Metrics, ACS Email, Azure ML run history
and ARM, Teams Workflows), then shows three stories, and three that send no failure event at all (demo_silent.py):
a failing 6-step pipeline (the `scan_run_failures` function, run twice: one email), a deleted compute cluster
(`scan_compute_changes`), and a drift metric that fires and resolves (`scan_metrics` over simulated time).
The queue functions (`scan_workspace`, `send_notifications`) get their messages from the local host loop
(sandbox/queue_host.py), as the Functions host would give them.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from sandbox import Sandbox
from sandbox.azurite import AzuriteNotAvailable, azurite_storage
from sandbox.demo_silent import demo_settings, stuck_and_missed
from sandbox.queue_host import QueueHost, app_use_cases
from sandbox.scenarios import activity_rows, six_step_run

OUT = Path(".sandbox") / "demo"
HERE = Path(__file__).resolve().parent
DRIFT_RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod"
    "/providers/microsoft.insights/components/appi-churn"
)


def _banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m")


def _show(sandbox: Sandbox, already_shown: int, name: str) -> int:
    emails = sandbox.emails[already_shown:]
    _banner(f"ACS Email received {len(emails)} new email(s)")
    OUT.mkdir(parents=True, exist_ok=True)
    for index, email in enumerate(emails):
        content = email["content"]
        recipients = ", ".join(r["address"] for r in email["recipients"]["to"])
        print(f"From: {email['senderAddress']}\nTo: {recipients}\nSubject: {content['subject']}\n")
        print(content["plainText"])
        html = OUT / f"{name}{'-' + str(index + 1) if len(emails) > 1 else ''}.html"
        html.write_text(content["html"])
        print(f"(HTML version: {html})")
    return len(sandbox.emails)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")
    logging.getLogger("function_app").setLevel(logging.INFO)
    try:
        with azurite_storage() as storage, Sandbox() as sandbox:
            tenant = "00000000-0000-0000-0000-0000000000bb"  # a placeholder, for the studio links' &tid=
            os.environ.update(
                sandbox.app_settings(
                    storage, STUDIO_TENANT_ID=tenant, RULES_FILE=str(HERE / "demo-rules.yaml"), **demo_settings(sandbox)
                )
            )
            from azure.functions.timer import TimerRequest

            import function_app
            from shared.entrypoints import alerting_app

            host = QueueHost(storage)

            def tick(function) -> None:
                function.build().get_user_function()(TimerRequest(past_due=False))
                ran = host.drain()  # the timer put one message per workspace; each scan puts what it found
                print(f"  (the host loop ran {ran} queue message(s))")

            shown = 0
            _banner("1. A pipeline fails: 6 steps in ws-churn-prod")
            print(
                "prep completes; train fails (NaN in input); evaluate fails later; register/deploy cancelled; "
                "report never starts"
            )
            # Its rows in Log Analytics and the same run in Azure ML run history (step names, errors, logs).
            sandbox.add_pipeline(
                six_step_run("ws-churn-prod", "churn_train_pipeline_7f3a", sandbox.now - timedelta(minutes=25))
            )
            tick(function_app.scan_run_failures)
            print("Second tick (same data, overlapping window):")
            tick(function_app.scan_run_failures)
            shown = _show(sandbox, shown, "run-failure")

            _banner("2. Someone deletes the GPU cluster in ws-churn-prod")
            delete = "Microsoft.MachineLearningServices/workspaces/computes/delete"
            sandbox.add_rows(
                "AzureActivity",
                activity_rows(
                    "ws-churn-prod",
                    "gpu-cluster",
                    delete,
                    "mallory@contoso.com",
                    sandbox.now - timedelta(minutes=27),
                    "6f1c2a9e-0000-4000-8000-00000000c0de",
                ),
            )
            print("The activity log holds a start and a final record of the delete.")
            tick(function_app.scan_compute_changes)
            tick(function_app.scan_compute_changes)
            shown = _show(sandbox, shown, "compute-change")

            _banner("3. Drift: churn_drift_score breaches 0.3 for 3 points, then recovers (simulated 75 minutes)")
            start = sandbox.now
            simulated = QueueHost(storage, app_use_cases(alerting_app(), lambda: sandbox.now))
            values = [0.12, 0.18, 0.41, 0.47, 0.52, 0.55, 0.24, 0.16, 0.11, 0.09, 0.1, 0.12, 0.08, 0.1, 0.09]
            points = [(start + timedelta(minutes=5 * i, seconds=20), v) for i, v in enumerate(values)]
            sandbox.add_metric_series(
                DRIFT_RESOURCE, "azure.applicationinsights", "churn_drift_score", points, {"feature": "tenure_months"}
            )
            for _ in values:  # the scan_metrics timer, every 5 simulated minutes
                sandbox.advance(timedelta(minutes=5))
                alerting_app().tick("metrics", sandbox.now)
                simulated.drain()
            shown = _show(sandbox, shown, "drift")

            def scan(name: str) -> None:
                alerting_app().tick(name, sandbox.now)
                simulated.drain()

            def show(name: str) -> None:
                nonlocal shown
                shown = _show(sandbox, shown, name)

            stuck_and_missed(sandbox, scan, _banner, show)
            # 4 above, then stuck + ended + missed nightly + disabled schedule; Teams: stuck + ended
            return 0 if (len(sandbox.emails), len(sandbox.teams_cards)) == (8, 2) else 1
    except AzuriteNotAvailable as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
