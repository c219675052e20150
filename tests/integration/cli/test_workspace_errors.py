"""A Log Analytics workspace id that is wrong (the Azure ML workspace's GUID pasted instead of the Log Analytics
customer id) or an endpoint that cannot be reached: the CLI and the tick report say which setting, which id, what
a right one looks like; the other workspaces are still scanned; no traceback."""

from __future__ import annotations

from datetime import timedelta

from sandbox.scenarios import six_step_pipeline
from shared import cli

# An Azure ML workspace's GUID (studio's "Workspace ID"): the sandbox's Log Analytics does not know it, like Azure's.
AML_WORKSPACE_GUID = "3f1c9a7e-2b4d-4e8a-9c61-0d2e5f7a8b90"
LA_WORKSPACE = "11111111-1111-1111-1111-111111111111"


def test_a_wrong_workspace_id_is_named_with_the_setting_and_the_likely_mistake(
    sandbox, app_settings, monkeypatch, capsys
):
    sandbox.add_tables(six_step_pipeline("ws-a", "run-a", sandbox.now - timedelta(minutes=30)), LA_WORKSPACE)
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", f"{AML_WORKSPACE_GUID},{LA_WORKSPACE}")

    assert cli.main(["scan", "run-failures"]) == 0
    report = capsys.readouterr().out
    assert f"NOT READ, retried next tick: {AML_WORKSPACE_GUID} (404 PathNotFoundError" in report
    assert "check LOG_ANALYTICS_WORKSPACE_IDS" in report
    assert "customer id" in report and "Azure ML workspace's GUID" in report
    assert "Traceback" not in report
    assert len(sandbox.emails) == 1  # the other workspace was scanned and its pipeline emailed


def test_the_dry_run_says_the_same_per_workspace(sandbox, app_settings, monkeypatch, capsys):
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_IDS", AML_WORKSPACE_GUID)
    assert cli.main(["scan", "run-failures", "--dry-run", "--since", "6h"]) == 0
    out = capsys.readouterr()
    assert f"# workspace {AML_WORKSPACE_GUID}" in out.out and "check LOG_ANALYTICS_WORKSPACE_IDS" in out.out
    assert "Traceback" not in out.out + out.err


def test_an_unreachable_endpoint_names_its_setting(sandbox, app_settings, monkeypatch, capsys):
    monkeypatch.setenv("LOG_ANALYTICS_ENDPOINT", "https://127.0.0.1:1")
    assert cli.main(["scan", "run-failures"]) == 0
    report = capsys.readouterr().out
    assert "connection failed" in report
    assert "Cannot reach LOG_ANALYTICS_ENDPOINT (https://127.0.0.1:1)" in report
