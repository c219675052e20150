"""`rules check` as a linter, with no app settings at all: errors that say what was meant (did-you-mean, the ISO
8601 form of `5m`), enums in any case, and warnings with file, line and fix for rules that cannot fire."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shared import cli
from shared.app import ALL_SETTINGS

MISTAKES = """\
storm_limit: 20
metric_rules:
  - name: drift
    resource_ids:
      - /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Insights/components/appi-churn
    namespace: aml.drift
    metric: churn_drift_score
    aggregation: average
    operator: greaterthan
    threshold: 0.3
routes:
  - match: {kind: run-failures, workspace: ws-churn-*}
    recipients: [churn-team@contoso.com]
silences:
  - match: {workspace: ws-legacy}
    ends: 2020-01-01T00:00:00Z
    reason: decommissioned
"""


@pytest.fixture(autouse=True)
def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*ALL_SETTINGS, "RULES_FILE"]:
        monkeypatch.setenv(name, "")  # recorded, so what a settings file loads is undone after the test
        monkeypatch.delenv(name)
    assert not [name for name in ALL_SETTINGS if os.environ.get(name)]


def _check(tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, *extra: str) -> tuple[int, str]:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    code = cli.main(["rules", "check", str(path), *extra])
    printed = capsys.readouterr()
    return code, printed.out + printed.err


def test_rules_that_cannot_fire_are_warned_about_with_file_line_and_fix(tmp_path, capsys):
    code, out = _check(tmp_path, capsys, MISTAKES)
    assert code == 0  # valid: `average` and `greaterthan` are read as Average and GreaterThan
    assert f"{tmp_path}/rules.yaml:5: metric_rules[0].resource_ids[0]: <sub> is a placeholder" in out
    assert "put the real resource id" in out
    assert (
        f"{tmp_path}/rules.yaml:12: routes[0].match.kind: no detector makes kind 'run-failures', so this never "
        "matches: did you mean 'run-failure'?"
    ) in out
    assert f"{tmp_path}/rules.yaml:16: silences[0].ends: this silence ended 2020-01-01 00:00 UTC" in out
    assert "3 warning(s) above" in out
    assert _check(tmp_path, capsys, MISTAKES, "--strict")[0] == 1


@pytest.mark.parametrize(
    ("line", "text", "message"),
    [
        ("storm_limt: 5", 1, "storm_limt: unknown key 'storm_limt': did you mean 'storm_limit'?"),
        (
            "run_failures: {workspace: [ws-a]}",
            1,
            "run_failures.workspace: unknown key 'workspace': did you mean 'workspaces'?",
        ),
    ],
)
def test_unknown_keys_get_a_did_you_mean(tmp_path, capsys, line, text, message):
    code, out = _check(tmp_path, capsys, line + "\n")
    assert code == 2
    assert f"rules.yaml:{text}: {message}" in out


def test_durations_and_enums_say_what_to_write(tmp_path, capsys):
    rule = MISTAKES.replace("threshold: 0.3", "threshold: 0.3\n    interval: 5m\n    repeat_every: 4 hours")
    rule = rule.replace("aggregation: average", "aggregation: avg").replace("greaterthan", "GreaterThen")
    code, out = _check(tmp_path, capsys, rule)
    assert code == 2
    assert "rules.yaml:8: metric_rules[0].aggregation: 'avg' is not one of Total, Average" in out
    assert "rules.yaml:9: metric_rules[0].operator: 'GreaterThen' is not one of GreaterThan" in out
    assert "did you mean 'GreaterThan'?" in out
    assert "rules.yaml:11: metric_rules[0].interval: '5m' is not an ISO 8601 duration: use PT5M" in out
    assert "rules.yaml:12: metric_rules[0].repeat_every: '4 hours' is not an ISO 8601 duration: use PT4H" in out
    assert "Traceback" not in out


def test_the_repos_rules_file_checks_clean_without_settings(capsys):
    assert cli.main(["rules", "check"]) == 0
    assert "warning" not in capsys.readouterr().out


def test_settings_may_come_after_the_subcommand(tmp_path, capsys):
    settings = tmp_path / "local.settings.json"
    settings.write_text('{"Values": {"RULES_FILE": "%s"}}' % (tmp_path / "r.yaml"))
    (tmp_path / "r.yaml").write_text("storm_limit: 7\n")
    assert cli.main(["rules", "check", "--settings", str(settings)]) == 0
    assert "storm limit 7" in capsys.readouterr().out
    assert cli.main(["rules", f"--settings={settings}", "check"]) == 0
