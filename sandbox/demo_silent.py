"""`make demo`, part two: what sends no failure event at all. A pipeline hangs in Running (`scan_stuck_runs`: a
"stuck" email and a Teams card, then an "ended" email once it is cancelled), a nightly schedule that did not
fire, and a schedule someone disabled (`scan_schedules`: one email each, however many ticks see them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from sandbox import Sandbox, arm
from sandbox.aml_rows import workspace_resource_id
from sandbox.scenarios import stuck_run

WORKSPACE = "ws-churn-prod"
ZONE, WINDOWS_ZONE = ZoneInfo("Europe/Berlin"), "W. Europe Standard Time"


def demo_settings(sandbox: Sandbox) -> dict[str, str]:
    """The settings part two needs: the Azure ML workspace whose schedules are read, the Teams webhook."""
    return {
        "AML_WORKSPACE_IDS": workspace_resource_id(WORKSPACE),
        "TEAMS_WEBHOOK_ML_ONCALL": sandbox.add_teams_webhook("ml-oncall"),
    }


def stuck_and_missed(
    sandbox: Sandbox, scan: Callable[[str], None], banner: Callable[[str], None], show: Callable[[str], None]
) -> None:
    """`scan(name)` runs one tick of a scan at the sandbox's time and delivers; `show(name)` prints new emails."""
    banner("4. A pipeline hangs: train_model Running for 13 hours in ws-churn-prod (limit: 12 hours)")
    ends = sandbox.now + timedelta(hours=2)
    sandbox.add_pipeline(
        stuck_run(WORKSPACE, "churn_train_hung_51c2", sandbox.now - timedelta(hours=13), ends, "Canceled")
    )
    scan("stuck-runs")
    scan("stuck-runs")  # the next tick: still stuck, nothing new
    show("stuck-run")
    _show_cards(sandbox, 0)

    banner("5. Two hours later someone cancels it: the stuck-run notice is closed")
    sandbox.set_clock(ends + timedelta(minutes=10))
    scan("stuck-runs")
    show("stuck-run-ended")
    _show_cards(sandbox, 1)

    banner("6. The next morning: the nightly retraining did not run at 02:00; another schedule was disabled")
    morning = (sandbox.now.astimezone(ZONE) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    sandbox.set_clock(morning.astimezone(ZoneInfo("UTC")))
    fired = morning.replace(hour=2)
    nightly = arm.cron_trigger("0 2 * * *", WINDOWS_ZONE)
    sandbox.add_schedule(WORKSPACE, "nightly-retrain", nightly, created_at=sandbox.now - timedelta(days=20))
    yesterday = stuck_run(WORKSPACE, "nightly_retrain_ok", fired - timedelta(days=1), fired - timedelta(hours=22))
    stamp = (fired - timedelta(days=1)).astimezone(ZoneInfo("UTC")).strftime("%Y%m%dT%H%M%SZ")
    sandbox.add_pipeline(replace(yesterday, schedule="nightly-retrain", display_name=f"nightly-retrain-{stamp}"))
    weekly = arm.recurrence_trigger("Week", 1, hours=(6,), minutes=(0,), week_days=("Monday",), time_zone=WINDOWS_ZONE)
    sandbox.add_schedule(
        WORKSPACE,
        "weekly-drift-report",
        weekly,
        created_at=sandbox.now - timedelta(days=60),
        modified_at=sandbox.now - timedelta(hours=3),
        enabled=False,
    )
    print("Three ticks of scan_schedules, 15 minutes apart:")
    for _ in range(3):
        scan("schedules")
        sandbox.advance(timedelta(minutes=15))
    show("schedule")


def _show_cards(sandbox: Sandbox, already_shown: int) -> None:
    runs = sandbox.teams_runs[already_shown:]
    print(f"\nTeams received {len(runs)} card(s); the sandbox validated each with Microsoft's adaptivecards library:")
    for run in runs:
        print(
            f"  webhook {run['webhook']}: flow run {run['status']}{'' if not run['error'] else ' ' + str(run['error'])}"
        )
        print(json.dumps(run["payload"], indent=2, ensure_ascii=False))
