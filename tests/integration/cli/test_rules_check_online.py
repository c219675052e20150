"""`rules check --online`: each metric rule's metric is asked of its resources through ARM's metric definitions
(the sandbox answers them in ARM's format from its seeded series), so a misspelt metric or namespace, which the
Metrics batch API answers with no series at all, is a warning with file, line and fix."""

from __future__ import annotations

from datetime import timedelta

from sandbox.scenarios import six_step_pipeline
from shared import cli

SUB = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-prod/providers"
APPI = f"{SUB}/microsoft.insights/components/appi-churn"
GONE = f"{SUB}/microsoft.insights/components/appi-deleted"


def _rule(name: str, resource: str, namespace: str, metric: str) -> str:
    return f"""  - name: {name}
    resource_ids: [{resource}]
    namespace: {namespace}
    metric: {metric}
    aggregation: Average
    operator: GreaterThan
    threshold: 0.3
"""


def test_misspelt_metrics_and_namespaces_are_warned_about(sandbox, app_settings, tmp_path, capsys):
    sandbox.add_metric_series(
        APPI, "azure.applicationinsights", "churn_drift_score", [(sandbox.now - timedelta(minutes=5), 0.1)]
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "metric_rules:\n"
        + _rule("right", APPI, "azure.applicationinsights", "churn_drift_score")
        + _rule("metric-typo", APPI, "azure.applicationinsights", "churn_drift_scor")
        + _rule("namespace-typo", APPI, "azure.applicationinsight", "churn_drift_score")
        + _rule("no-resource", GONE, "azure.applicationinsights", "churn_drift_score")
    )
    code = cli.main(["rules", "check", str(rules), "--online", "--arm-endpoint", sandbox.endpoint])
    out = capsys.readouterr().out
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {rules}:12: metric_rules[1].metric: appi-churn has no metric 'churn_drift_scor' in "
        "azure.applicationinsights, so the rule never reads a point: did you mean 'churn_drift_score'?",
        f"warning: {rules}:18: metric_rules[2].namespace: appi-churn has no metric in namespace "
        "'azure.applicationinsight': check the namespace (a custom metric's namespace appears once a value was "
        "published)",
        f"warning: {rules}:26: metric_rules[3].metric: not checked on appi-deleted: " + warnings[2].split(": ", 4)[4],
    ]
    assert "404" in warnings[2] and "no such resource" in warnings[2]


def test_offline_the_same_file_has_no_metric_warnings(sandbox, app_settings, tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("metric_rules:\n" + _rule("metric-typo", APPI, "azure.applicationinsights", "churn_drift_scor"))
    assert cli.main(["rules", "check", str(rules)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_workspace_patterns_that_match_no_workspace_in_the_logs(sandbox, app_settings, tmp_path, capsys):
    """With the Log Analytics settings: the Azure ML workspaces whose runs are in the logs are read, and a pattern
    that matches none of them is a warning (a typo in a route sends a team's incidents to the default)."""
    sandbox.add_tables(six_step_pipeline("ws-churn-prod", "run-1", sandbox.now - timedelta(minutes=30)))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "run_failures:\n  workspaces: [ws-churn-*, ws-frud-*]\n"
        "routes:\n  - match: {workspace: ws-chrun-prod}\n    recipients: [churn-team@contoso.com]\n"
    )
    assert cli.main(["rules", "check", str(rules), "--online", "--arm-endpoint", sandbox.endpoint]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {rules}:4: routes[0].match.workspace: 'ws-chrun-prod' matches none of the Azure ML workspaces "
        "in the logs (ws-churn-prod), so it never matches: did you mean 'ws-churn-prod'?",
        f"warning: {rules}:2: run_failures.workspaces[1]: 'ws-frud-*' matches none of the Azure ML workspaces in "
        "the logs (ws-churn-prod), so it never matches: use one of ws-churn-prod",
    ]


def test_without_log_analytics_settings_the_patterns_are_not_checked(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LOG_ANALYTICS_WORKSPACE_IDS", raising=False)
    monkeypatch.setenv("AZURE_CREDENTIAL", "emulator")
    rules = tmp_path / "rules.yaml"
    rules.write_text("run_failures:\n  workspaces: [ws-frud-*]\n")
    assert cli.main(["rules", "check", str(rules), "--online"]) == 0
    out = capsys.readouterr().out
    assert "note: workspace patterns not checked: LOG_ANALYTICS_WORKSPACE_IDS is not set" in out
