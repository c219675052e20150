"""Stuck-run and missed-schedule notices as on-call receives them (pure rendering): the email and the Teams card
say the same facts, which limit was used (the adaptive p95 included), the expected time in the schedule's zone and
in UTC, with links only to Azure ML studio."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.channels.email.render import render_incident
from shared.channels.teams import TeamsChannel
from shared.channels.teams.card import link_url
from shared.core.azure_ml import Workspace
from shared.detectors.base import ViewOptions
from shared.detectors.schedule_plan import plan_schedule
from shared.detectors.schedules import check_schedule
from shared.detectors.stuck_run_query import RunState
from shared.detectors.stuck_runs import stuck_run_notices
from shared.outbox.records import new_record
from shared.rules.schedules import ScheduleRules
from shared.rules.stuck_runs import StuckRunRules

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
WS = Workspace("ws-prod", "00000000-0000-0000-0000-0000000000aa", "rg-ml")
OPTIONS = ViewOptions()


def _card(detected) -> str:
    record = new_record(detected.key, detected.kind, detected.payload, ("ml-oncall",), NOW, NOW, channel="teams")
    payload = TeamsChannel({}, OPTIONS).render([record])
    card = payload["attachments"][0]["content"]
    assert all(link_url(action["url"]) for action in card.get("actions", []))  # Azure's own hosts only
    return json.dumps(card, ensure_ascii=False)


def test_a_stuck_run_judged_by_its_p95_says_so_in_the_email_and_the_card():
    pipeline = RunState(
        "p1", "", "p1", "Running", NOW - timedelta(hours=8), NOW - timedelta(hours=8), NOW - timedelta(hours=8),
        WS, experiment="train-churn", baseline_runs=14, baseline_p95=timedelta(hours=2),
    )  # fmt: skip
    [notice] = stuck_run_notices([pipeline], StuckRunRules(), NOW, {})
    email = render_incident(notice.kind, notice.payload, OPTIONS)
    assert email.subject == "[AML] Stuck pipeline: train-churn in ws-prod, Running over its 6 h 00 min limit"
    reason = "adaptive: 3 x p95 2 h 00 min of 14 completed runs of train-churn"
    assert f"Which limit: {reason}" in email.text
    assert "https://ml.azure.com/runs/p1?wsid=" in email.html
    card = _card(notice)
    assert email.subject in card and reason in card and '"url": "https://ml.azure.com/runs/p1?wsid=' in card


def test_its_end_says_how_it_ended():
    recorded = {"stuck-run:ws-prod:p1": NOW - timedelta(hours=2)}
    ended = RunState("p1", "", "p1", "Failed", NOW - timedelta(minutes=5), NOW - timedelta(hours=9), None, WS)
    [notice] = stuck_run_notices([ended], StuckRunRules(), NOW, recorded)
    email = render_incident(notice.kind, notice.payload, OPTIONS)
    assert email.subject == "[AML] Stuck pipeline ended: p1 in ws-prod Failed after 8 h 55 min"
    assert "Ended:      Failed at 2026-03-10 08:55:00 UTC" in email.text
    assert "Failed at 2026-03-10 08:55:00 UTC" in _card(notice)


def _schedule(enabled: bool = True) -> dict:
    return {
        "id": f"/subscriptions/{WS.subscription_id}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices"
        "/workspaces/ws-prod/schedules/nightly",
        "name": "nightly",
        "properties": {
            "displayName": "nightly",
            "isEnabled": enabled,
            "provisioningState": "Succeeded",
            "trigger": {"triggerType": "Cron", "expression": "0 2 * * *", "timeZone": "W. Europe Standard Time"},
            "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline"}},
        },
        "systemData": {
            "createdAt": "2026-02-01T00:00:00Z",
            "lastModifiedAt": "2026-03-10T06:00:00Z",
            "lastModifiedBy": "Jane Doe",
        },
    }


def test_a_missed_fire_time_names_its_time_in_the_schedules_zone_and_in_utc():
    rules = ScheduleRules()
    body = _schedule()
    body["systemData"]["lastModifiedAt"] = "2026-02-01T00:00:00Z"
    [notice] = check_schedule(plan_schedule(body, rules, NOW), [], rules, NOW).notices
    email = render_incident(notice.kind, notice.payload, OPTIONS)
    assert email.subject == "[AML] Schedule nightly in ws-prod did not run at 2026-03-10 02:00 W. Europe Standard Time"
    assert "Expected:   2026-03-10 02:00 (W. Europe Standard Time)\n            2026-03-10 01:00:00 UTC" in email.text
    card = _card(notice)
    assert "2026-03-10 02:00 (W. Europe Standard Time)" in card and "2026-03-10 01:00:00 UTC" in card


def test_a_disabled_schedule_says_it_is_reported_once():
    rules = ScheduleRules()
    [notice] = check_schedule(plan_schedule(_schedule(enabled=False), rules, NOW), [], rules, NOW).notices
    email = render_incident(notice.kind, notice.payload, OPTIONS)
    assert email.subject == "[AML] Schedule nightly in ws-prod was disabled"
    assert "disabled since 2026-03-10 06:00:00 UTC (last changed by Jane Doe)" in email.text
    assert "reported once" in email.text
