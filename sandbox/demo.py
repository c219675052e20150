"""`make demo`: the whole run-failure path offline, with the app's real code and SDK clients.

Starts Azurite (Table Storage) and the sandbox (Log Analytics, ACS Email), seeds a realistic failing pipeline,
runs the `scan_run_failures` Azure Function twice as the host would, and shows the one email it sent.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import timedelta
from pathlib import Path

from sandbox import DEFAULT_WORKSPACE_ID, Sandbox
from sandbox.azurite import AzuriteNotAvailable, azurite_tables
from sandbox.scenarios import six_step_pipeline

OUT = Path(".sandbox") / "demo"


def _settings(sandbox: Sandbox, storage: str) -> dict[str, str]:
    # Exactly what a local.settings.json would hold for `func start` against the local stack.
    return {
        "AzureWebJobsStorage": storage,
        "LOG_ANALYTICS_WORKSPACE_IDS": DEFAULT_WORKSPACE_ID,
        "LOG_ANALYTICS_ENDPOINT": sandbox.endpoint,
        "ACS_ENDPOINT": sandbox.endpoint,
        "EMAIL_SENDER": "DoNotReply@alerts.contoso.com",
        "EMAIL_RECIPIENTS": "ml-oncall@contoso.com",
        "AZURE_CREDENTIAL": "emulator",
        "REQUESTS_CA_BUNDLE": sandbox.ca_bundle,
        "STUDIO_TENANT_ID": "00000000-0000-0000-0000-0000000000bb",
    }


def _banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="  log %(levelname)s %(name)s: %(message)s")
    logging.getLogger("function_app").setLevel(logging.INFO)
    try:
        with azurite_tables() as storage, Sandbox() as sandbox:
            os.environ.update(_settings(sandbox, storage))
            from azure.functions.timer import TimerRequest

            import function_app

            started = sandbox.now - timedelta(minutes=25)
            tables = six_step_pipeline("ws-churn-prod", "churn_train_pipeline_7f3a", started)
            for table, rows in tables.items():
                sandbox.add_rows(table, rows)
            _banner(f"Seeded Log Analytics: a 6-step pipeline in ws-churn-prod ({sum(map(len, tables.values()))} rows)")
            print("prep completes; train fails (NaN in input); evaluate fails later; register/deploy cancelled; "
                  "report never starts")

            scan = function_app.scan_run_failures.build().get_user_function()
            _banner("Timer tick 1: scan_run_failures")
            scan(TimerRequest(past_due=False))
            _banner("Timer tick 2: scan_run_failures (same data, overlapping window)")
            scan(TimerRequest(past_due=False))

            emails = sandbox.emails
            _banner(f"ACS Email received {len(emails)} email(s)")
            for email in emails:
                content = email["content"]
                recipients = ", ".join(r["address"] for r in email["recipients"]["to"])
                print(f"From: {email['senderAddress']}\nTo: {recipients}\nSubject: {content['subject']}\n")
                print(content["plainText"])
                OUT.mkdir(parents=True, exist_ok=True)
                html = OUT / "run-failure.html"
                html.write_text(content["html"])
                print(f"(HTML version written to {html}; open it in a browser)")
            return 0 if len(emails) == 1 else 1
    except AzuriteNotAvailable as err:
        print(err, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
