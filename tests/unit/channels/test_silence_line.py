"""Every email says how to mute its kind of incident: the exact CLI line, shell-quoted (labels are untrusted)."""

from __future__ import annotations

import shlex

from shared.channels.email.render import render_incident
from shared.silences import silence_command
from tests.unit.channels.test_email_render import _incident, incident_payload


def test_the_pipeline_email_ends_with_the_cli_line_for_its_kind_workspace_and_experiment() -> None:
    incident = _incident()
    email = render_incident("run-failure", incident_payload(incident), labels=incident.labels)
    line = (
        "python -m shared silence add --match kind=run-failure --match workspace=ws-prod "
        "--match experiment=churn-model-training --for 4h --reason 'known problem'"
    )
    assert f"To mute incidents like this one for 4 hours:\n  {line}" in email.text
    assert "python -m shared silence add --match kind=run-failure" in email.html


def test_an_untrusted_label_cannot_break_out_of_the_command() -> None:
    line = silence_command({"kind": "alert", "rule": "x'; rm -rf / #"})
    assert shlex.split(line)[5:9] == ["--match", "kind=alert", "--match", "rule=x'; rm -rf / #"]
