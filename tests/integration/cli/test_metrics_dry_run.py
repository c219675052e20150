"""`scan metrics --dry-run`: the notices a tick would send now, read from the Metrics API (the sandbox) and the
stored series states (Azurite), with nothing sent, claimed or saved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared import cli

RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod"
    "/providers/microsoft.insights/components/appi-churn"
)
RULES = f"""metric_rules:
  - name: churn-drift
    resource_ids: [{RESOURCE}]
    namespace: azure.applicationinsights
    metric: churn_drift_score
    aggregation: average
    operator: GreaterThan
    threshold: 0.3
    consecutive: 3
"""


def test_a_dry_run_prints_the_firing_notice_and_changes_nothing(sandbox, app_settings, rules, state, capsys):
    rules(RULES)
    step = timedelta(minutes=5)
    start = sandbox.now - (sandbox.now - datetime(1970, 1, 1, tzinfo=UTC)) % step - 5 * step
    values = [0.1, 0.2, 0.41, 0.47, 0.52]
    points = [(start + i * step + timedelta(seconds=20), v) for i, v in enumerate(values)]
    sandbox.add_metric_series(RESOURCE, "azure.applicationinsights", "churn_drift_score", points)

    for _ in range(2):  # twice: the first run saved nothing, so the second sees the same
        assert cli.main(["scan", "metrics", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "# metric rule churn-drift: 1 series from 1 call(s)" in out
        assert "Subject:" in out and "churn_drift_score" in out
    assert sandbox.emails == []
    assert state.incidents.records() == []
    assert state.metric_states.load("churn-drift") == {}
