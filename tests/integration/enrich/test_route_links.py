"""A route's `runbook` and `owner` links (rules.yaml) are in the email of every incident it routes; a link that is
not https (or mailto: for an owner) is refused when the rules file is read, with its file and line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.scenarios import six_step_run
from shared.rules import RulesError
from shared.rules_yaml import load_rules

ROUTE = """
routes:
  - match: {{kind: run-failure}}
    recipients: [ml-oncall@contoso.com]
    runbook: {runbook}
    owner: {owner}
"""
RUNBOOK = "https://dev.azure.com/contoso/ml/_wiki/wikis/runbooks/42/Churn"


def test_the_route_links_are_in_the_pipeline_email(sandbox, make_app, rules) -> None:
    rules(ROUTE.format(runbook=RUNBOOK, owner="mailto:churn-team@contoso.com"))
    sandbox.add_pipeline(six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=30)))
    make_app().scan("run-failures", sandbox.now)

    [email] = sandbox.emails
    assert f"Runbook: {RUNBOOK}" in email["content"]["plainText"]
    assert "Owner: mailto:churn-team@contoso.com" in email["content"]["plainText"]
    assert f'<a href="{RUNBOOK}"' in email["content"]["html"]


@pytest.mark.parametrize(
    "runbook",
    [
        "http://wiki.contoso.com/runbook",
        "javascript:alert(1)",
        'https://wiki.contoso.com/a"onmouseover="x',
        "https://user:pw@wiki.contoso.com/x",
    ],
)
def test_a_runbook_that_is_not_a_plain_https_link_is_refused_with_its_line(tmp_path, runbook: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(ROUTE.format(runbook=f"'{runbook}'", owner="mailto:team@contoso.com"))
    with pytest.raises(RulesError, match=r"rules.yaml:\d+: routes\[0\]\.runbook"):
        load_rules(path)
