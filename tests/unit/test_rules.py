"""The rules file: the repo's own file is valid, and a broken one is reported by file, line and field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.routing import recipients_for
from shared.rules import RulesError
from shared.rules.parts import is_watched
from shared.rules_yaml import load_rules, parse_rules
from shared.settings import APP_ROOT
from shared.silences import silence_for

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEFAULT = ("oncall@contoso.com",)


def test_the_deployed_rules_file_is_valid():
    rules = load_rules(APP_ROOT / "rules.yaml")
    assert "Microsoft.MachineLearningServices/workspaces/computes/delete" in rules.compute_changes.operations
    assert rules.storm_limit >= 1


def _error(text: str) -> str:
    with pytest.raises(RulesError) as error:
        parse_rules(text, "team/rules.yaml")
    return str(error.value)


def test_a_wrong_field_is_named_with_its_line():
    text = """storm_limit: 5
metric_rules:
  - name: drift
    resource_ids: [/subscriptions/s/resourceGroups/g/providers/microsoft.insights/components/ai]
    namespace: azure.applicationinsights
    metric: drift_score
    aggregation: Max
    operator: GreaterThan
    threshold: high
"""
    message = _error(text)
    assert "team/rules.yaml:7: metric_rules[0].aggregation: 'Max' is not one of Total, Average" in message
    assert "did you mean 'Maximum'?" in message
    assert "team/rules.yaml:9: metric_rules[0].threshold: Input should be a valid number" in message


def test_a_missing_field_points_at_its_parent():
    message = _error("routes:\n  - recipients: [a@contoso.com]\n")
    assert "team/rules.yaml:2: routes[0].match: Field required" in message


def test_an_email_route_without_recipients_says_so():
    message = _error("routes:\n  - match: {workspace: ws-a}\n")
    assert "team/rules.yaml:2: routes[0]: Value error, email needs recipients" in message


def test_typos_in_keys_are_not_silently_ignored():
    message = _error("storm_limit: 5\nsilnces: []\n")
    assert "team/rules.yaml:2: silnces: unknown key 'silnces': did you mean 'silences'?" in message


def test_bad_values_say_what_is_expected():
    message = _error(
        "routes:\n  - match: {workspace: ws-a}\n    recipients: [churn-team]\n"
        "silences:\n  - match: {}\n    ends: 2026-01-01T00:00:00Z\n    reason: maintenance\n"
    )
    assert "team/rules.yaml:3: routes[0].recipients[0]: Value error, 'churn-team' is not an email address" in message
    assert "team/rules.yaml:5: silences[0].match: Value error, give at least one of kind, workspace" in message


def test_naive_times_and_duplicate_rule_names_are_refused():
    assert "times need a timezone" in _error(
        "silences:\n  - match: {workspace: a}\n    ends: 2026-01-01T00:00:00\n    reason: maintenance\n"
    )
    rule = (
        "  - {name: r, resource_ids: [/subscriptions/s/resourceGroups/g/providers/p/t/n], namespace: nsp,"
        " metric: m, aggregation: Total, operator: GreaterThan, threshold: 1}\n"
    )
    assert "metric rule names must be unique: r" in _error("metric_rules:\n" + rule.replace("name: r", "name: rr") * 2)


def test_broken_yaml_gives_the_line():
    assert _error("routes:\n  - match: {workspace: [\n").startswith("team/rules.yaml:3: not valid YAML")


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RulesError, match=r"missing\.yaml: cannot read the rules file"):
        load_rules(tmp_path / "missing.yaml")


ROUTED = parse_rules("""
routes:
  - match: {workspace: ws-churn-*}
    recipients: [churn@contoso.com]
  - match: {kind: metric, rule: drift}
    recipients: [data@contoso.com, oncall@contoso.com]
    also_default: true
silences:
  - match: {workspace: ws-scratch}
    starts: 2026-03-01T10:00:00Z
    ends: 2026-03-01T14:00:00Z
    reason: load test
""")


def test_first_matching_route_wins_and_no_match_goes_to_default():
    assert recipients_for({"kind": "run-failure", "workspace": "WS-Churn-Prod"}, ROUTED.routes, DEFAULT) == (
        "churn@contoso.com",
    )
    assert recipients_for({"kind": "metric", "rule": "drift"}, ROUTED.routes, DEFAULT) == (
        "data@contoso.com",
        "oncall@contoso.com",
    )  # also_default, without sending twice to oncall
    assert recipients_for({"kind": "run-failure", "workspace": "ws-other"}, ROUTED.routes, DEFAULT) == DEFAULT


def test_silences_match_only_while_active():
    labels = {"kind": "run-failure", "workspace": "ws-scratch"}
    assert silence_for(labels, ROUTED.silences, NOW) is not None
    assert silence_for(labels, ROUTED.silences, datetime(2026, 3, 1, 14, 0, tzinfo=UTC)) is None  # ended
    assert silence_for(labels, ROUTED.silences, datetime(2026, 3, 1, 9, 59, tzinfo=UTC)) is None  # not yet
    assert silence_for({"workspace": "ws-prod"}, ROUTED.silences, NOW) is None


def test_workspace_watch_list():
    assert is_watched("ws-a", [])
    assert is_watched("WS-Churn-1", ["ws-churn-*"])
    assert not is_watched("ws-b", ["ws-churn-*"])


def test_anchors_and_aliases_of_ordinary_size_still_work():
    rules = parse_rules(
        "routes:\n  - match: {workspace: ws-a}\n    recipients: &team [a@contoso.com, b@contoso.com]\n"
        "  - match: {workspace: ws-b}\n    recipients: *team\n"
    )
    assert rules.routes[1].recipients == ["a@contoso.com", "b@contoso.com"]


def test_expanding_aliases_and_deep_nesting_are_refused_with_their_line():
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n" for previous, name in zip("abcd", "bcde", strict=True)
    )
    assert _error(laughs) == (
        "team/rules.yaml:5: alias *d makes more than 100,000 values once aliases are "
        "expanded; write the values out or use fewer nested aliases"
    )
    assert _error("routes: " + "[" * 40 + "]" * 40) == "team/rules.yaml:1: nested more than 32 levels deep"
