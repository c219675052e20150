"""Metric rules within the Metrics batch API's limits: `rules check` refuses what getBatch would refuse (with
file:line), a rule's resources are grouped into calls of one region, subscription and type, and the regional
endpoint comes from a template (public, sovereign or the sandbox)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from shared import cli
from shared.app import AlertingApp
from shared.azure.metrics import _audience
from shared.detectors.metric_rules import MetricsRegionMissing, batch_calls
from shared.rules import MetricRule, RulesError
from shared.rules_yaml import parse_rules
from shared.settings import APP_ROOT, Settings, SettingsError
from tests.unit.test_settings import VALID

SUB_A = "00000000-0000-0000-0000-00000000000a"
SUB_B = "00000000-0000-0000-0000-00000000000b"
WORKSPACES = "Microsoft.MachineLearningServices/workspaces"


def _workspace(index: int, subscription: str = SUB_A) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/rg-ml/providers/{WORKSPACES}/ws-{index:03}"


def _rule_yaml(resources: str, interval: str = "PT5M") -> str:
    return f"""storm_limit: 20
metric_rules:
  - name: failed-pipeline-runs
{resources}
    namespace: {WORKSPACES}
    metric: Failed Runs
    aggregation: Total
    operator: GreaterThan
    threshold: 0
    interval: {interval}
"""


def _ids(ids: list[str], indent: str = "      ") -> str:
    return "\n".join(f"{indent}- {resource_id}" for resource_id in ids)


def _rules_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> tuple[int, str]:
    """`python -m shared rules check` on a rules file with this text: exit code, and what it printed."""
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    for name, value in {**VALID, "RULES_FILE": str(path)}.items():
        monkeypatch.setenv(name, value)
    code = cli.main(["rules", "check"])
    printed = capsys.readouterr()
    return code, printed.err + printed.out


def test_rules_check_refuses_51_resource_ids_of_one_type_naming_the_line(tmp_path, monkeypatch, capsys):
    text = _rule_yaml("    resource_ids:\n" + _ids([_workspace(i) for i in range(51)]))
    code, errors = _rules_check(tmp_path, monkeypatch, capsys, text)
    assert code == 2
    assert (
        f"rules.yaml:4: metric_rules[0].resource_ids: Value error, 51 resource ids of type "
        f"{WORKSPACES.lower()} in subscription {SUB_A}: the Metrics batch API reads at most 50 per call"
    ) in errors


def test_rules_check_refuses_an_interval_the_service_does_not_support(tmp_path, monkeypatch, capsys):
    text = _rule_yaml(f"    resource_ids: [{_workspace(1)}]", interval="PT2M")
    code, errors = _rules_check(tmp_path, monkeypatch, capsys, text)
    assert code == 2
    assert (
        "rules.yaml:10: metric_rules[0].interval: Value error, PT2M is not a time grain of the Metrics API: "
        "use one of PT1M, PT5M, PT15M, PT30M, PT1H, PT6H, PT12H, P1D"
    ) in errors


def test_rules_check_accepts_what_fits_in_batch_calls(tmp_path, monkeypatch, capsys):
    # 50 of one subscription and 50 of another: two calls of 50.
    ids = [_workspace(i) for i in range(50)] + [_workspace(i, SUB_B) for i in range(50)]
    code, printed = _rules_check(tmp_path, monkeypatch, capsys, _rule_yaml("    resource_ids:\n" + _ids(ids), "P1D"))
    assert code == 0
    assert printed.endswith("rules.yaml: valid (1 metric rule(s), 0 route(s), 0 silence(s), storm limit 20)\n")


def _error(text: str) -> str:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "rules.yaml")
    return str(error.value)


def test_region_errors_name_their_line():
    by_region = f"""    resource_ids_by_region:
      westeurope: [{_workspace(1)}]
      West US: [{_workspace(2)}]
      WestEurope: [{_workspace(3)}]
      eastus: [{_workspace(1).upper()}]"""
    message = _error(_rule_yaml(by_region))
    assert "rules.yaml:6: metric_rules[0].resource_ids_by_region.West US" in message
    assert "'West US' is not an Azure region name" in message
    assert "rules.yaml:7: metric_rules[0].resource_ids_by_region.WestEurope" in message
    both = (
        f"    region: westeurope\n    resource_ids: [{_workspace(1)}]\n    resource_ids_by_region:\n"
        f"      eastus: [{_workspace(2)}]"
    )
    assert "rules.yaml:3: metric_rules[0]: Value error, give resource_ids" in _error(_rule_yaml(both))
    assert "is listed twice" in _error(_rule_yaml(f"    resource_ids: [{_workspace(1)}, {_workspace(1).lower()}]"))
    assert "is listed under two" in _error(
        _rule_yaml(f"    resource_ids_by_region:\n      westeurope: [{_workspace(1)}]\n      eastus: [{_workspace(1)}]")
    )
    assert "rules.yaml:4: metric_rules[0].resource_ids[0]: Value error, '/subscriptions/a/b' is not a resource id" in (
        _error(_rule_yaml("    resource_ids: [/subscriptions/a/b]"))
    )


def _rule(**resources) -> MetricRule:
    return MetricRule(
        name="failed-runs",
        namespace=WORKSPACES,
        metric="Failed Runs",
        aggregation="Total",
        operator="GreaterThan",
        threshold=0,
        interval=timedelta(minutes=5),
        **resources,
    )


def test_resources_are_grouped_by_region_subscription_and_type_in_rule_order():
    insights = f"/subscriptions/{SUB_A}/resourceGroups/rg/providers/microsoft.insights/components/appi"
    rule = _rule(
        resource_ids_by_region={
            "westeurope": [_workspace(0), _workspace(1, SUB_B), insights, _workspace(2)],
            "eastus": [_workspace(3)],
        }
    )
    calls = [(c.region, c.subscription, c.resource_type, c.resource_ids) for c in batch_calls(rule, "northeurope")]
    assert calls == [
        ("westeurope", SUB_A, WORKSPACES.lower(), (_workspace(0), _workspace(2))),
        ("westeurope", SUB_B, WORKSPACES.lower(), (_workspace(1, SUB_B),)),
        ("westeurope", SUB_A, "microsoft.insights/components", (insights,)),
        ("eastus", SUB_A, WORKSPACES.lower(), (_workspace(3),)),
    ]


def test_resource_ids_are_in_the_rules_region_or_the_default_one():
    assert {c.region for c in batch_calls(_rule(resource_ids=[_workspace(0)]), "westeurope")} == {"westeurope"}
    assert {c.region for c in batch_calls(_rule(region="eastus2", resource_ids=[_workspace(0)]), "x")} == {"eastus2"}
    with pytest.raises(MetricsRegionMissing, match="set region in the rule or the METRICS_REGION app setting"):
        batch_calls(_rule(resource_ids=[_workspace(0)]), None)


def test_a_rule_without_a_region_needs_metrics_region(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(_rule_yaml(f"    resource_ids: [{_workspace(1)}]"))
    app = AlertingApp(Settings.from_environ({**VALID, "RULES_FILE": str(path)}))
    with pytest.raises(SettingsError, match="failed-pipeline-runs: its resource_ids name no region"):
        app.metrics  # noqa: B018
    with_region = AlertingApp(Settings.from_environ({**VALID, "RULES_FILE": str(path), "METRICS_REGION": "westus"}))
    assert with_region.metric_scan.default_region == "westus"


def test_metrics_endpoint_is_a_template_and_an_old_regional_value_still_works():
    default = Settings.from_environ(VALID)
    assert (default.metrics_endpoint, default.metrics_region) == ("https://{region}.metrics.monitor.azure.com", None)
    old = Settings.from_environ({**VALID, "METRICS_ENDPOINT": "https://westeurope.metrics.monitor.azure.com"})
    assert (old.metrics_endpoint, old.metrics_region) == ("https://{region}.metrics.monitor.azure.com", "westeurope")
    gov = Settings.from_environ(
        {**VALID, "METRICS_ENDPOINT": "https://{region}.metrics.monitor.azure.us", "METRICS_REGION": "USGovVirginia"}
    )
    assert (gov.metrics_endpoint, gov.metrics_region) == ("https://{region}.metrics.monitor.azure.us", "usgovvirginia")
    with pytest.raises(SettingsError) as error:
        Settings.from_environ(
            {**VALID, "METRICS_ENDPOINT": "https://metrics.example.com", "METRICS_REGION": "West Europe"}
        )
    assert (
        "METRICS_ENDPOINT='https://metrics.example.com' is invalid: expected an endpoint template with "
        "{region}" in str(error.value)
    )
    assert "METRICS_REGION='West Europe' is invalid: expected an Azure region name" in str(error.value)


def test_sovereign_endpoints_ask_for_tokens_of_their_cloud():
    assert _audience("https://{region}.metrics.monitor.azure.cn") == {"audience": "https://metrics.monitor.azure.cn"}
    assert _audience("https://{region}.metrics.monitor.azure.com") == {"audience": "https://metrics.monitor.azure.com"}
    assert _audience("https://127.0.0.1:8443/metrics/{region}") == {}


def test_the_commented_metric_rule_examples_in_rules_yaml_are_valid():
    lines, uncommented, in_examples = (APP_ROOT / "rules.yaml").read_text().splitlines(), [], False
    for line in lines:
        in_examples = line == "metric_rules: []" or (in_examples and line.startswith("#  "))
        uncommented.append("metric_rules:" if line == "metric_rules: []" else line[1:] if in_examples else line)
    text = "\n".join(uncommented).replace("<sub>", SUB_A).replace("<rg>", "rg-ml").replace("<ws-us>", "ws-us")
    rules = parse_rules(text.replace("<ws>", "ws"), "rules.yaml")
    assert [(rule.name, sorted(rule.resources_by_region(None))) for rule in rules.metric_rules] == [
        ("failed-pipeline-runs", ["eastus", "westeurope"]),
        ("churn-feature-drift", ["westeurope"]),
    ]
