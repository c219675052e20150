"""`show KEY`: what a storm digest points to for an incident in full: its state and its whole email."""

from __future__ import annotations

from datetime import timedelta

from sandbox.scenarios import six_step_pipeline
from shared import cli


def test_show_prints_one_incident_in_full(sandbox, app_settings, capsys):
    sandbox.add_tables(six_step_pipeline("ws-a", "run-a", sandbox.now - timedelta(minutes=30)))
    assert cli.main(["scan", "run-failures"]) == 0
    capsys.readouterr()
    assert cli.main(["show", "run-failure:ws-a:run-a"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("sent attempts=1 first seen ")
    assert "Subject: [AML] Pipeline failed: churn-model-training in ws-a (root cause run-a_train)" in out
    assert "ROOT CAUSE: step run-a_train" in out and "DOWNSTREAM" in out
    assert cli.main(["show", "run-failure:ws-a:nope"]) == 1
    assert "no incident 'run-failure:ws-a:nope'" in capsys.readouterr().err
