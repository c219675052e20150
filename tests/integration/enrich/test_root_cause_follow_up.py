"""The root cause when a step's rows reach Log Analytics late: with run history the first email already names
the step that failed first; without it, the first email names what Log Analytics had, and the scan that reads
the late rows sends exactly one follow-up in the same thread (same subject), never a second."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from sandbox.log_analytics import INGESTED_AT
from sandbox.scenarios import six_step_run


def _seed_with_late_train_rows(sandbox, *, run_history: bool, late_runs: tuple[str, ...] = ("pipe1_train",)) -> None:
    """The pipeline failed 16 minutes ago; train's rows (the real root cause) arrive 10 minutes from now."""
    run = six_step_run("ws-prod", "pipe1", sandbox.now - timedelta(minutes=31))
    tables: dict[str, list[dict]] = defaultdict(list)
    late = {INGESTED_AT: sandbox.now + timedelta(minutes=10)}
    for table, row in run.rows():
        tables[table].append({**row, **late} if row.get("RunId", row.get("JobName")) in late_runs else row)
    sandbox.add_tables(dict(tables))
    if run_history:
        sandbox.add_pipeline_runs([run])


def _ticks(sandbox, app, count: int) -> None:
    for _ in range(count):
        app.scan("run-failures", sandbox.now)
        sandbox.advance(timedelta(minutes=5))


def test_without_run_history_a_wrong_root_cause_gets_exactly_one_update(
    sandbox, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUN_HISTORY_ENABLED", "false")
    _seed_with_late_train_rows(sandbox, run_history=False)
    app = make_app()
    _ticks(sandbox, app, 1)
    [first] = sandbox.emails
    assert "(root cause pipe1_evaluate)" in first["content"]["subject"]  # all Log Analytics had

    _ticks(sandbox, app, 6)  # the late rows land; later scans read them again

    assert len(sandbox.emails) == 2
    update = sandbox.emails[1]["content"]
    assert update["subject"] == first["content"]["subject"]  # threads with the first
    assert update["plainText"].startswith("Update: root cause is now pipe1_train")
    assert "The first email named pipe1_evaluate" in update["plainText"]
    assert "ROOT CAUSE: step pipe1_train Failed" in update["plainText"]

    # Two more instances scanning the same rows: still no second update.
    for other in (make_app(), make_app()):
        other.scan("run-failures", sandbox.now)
    assert len(sandbox.emails) == 2


def test_without_run_history_an_email_naming_the_pipeline_itself_gets_one_update(
    sandbox, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step's rows are late, past the wait for step details: the first email names the pipeline run."""
    monkeypatch.setenv("RUN_HISTORY_ENABLED", "false")
    steps = tuple(f"pipe1_{name}" for name in ("prep", "train", "evaluate", "register", "deploy", "report"))
    _seed_with_late_train_rows(sandbox, run_history=False, late_runs=steps)
    app = make_app()
    _ticks(sandbox, app, 7)

    first, update = (email["content"] for email in sandbox.emails)
    assert first["subject"].endswith("(root cause pipe1)")
    assert update["subject"] == first["subject"]
    assert update["plainText"].startswith("Update: root cause is now pipe1_train")


def test_with_run_history_the_first_email_names_the_first_failure_and_no_update_follows(sandbox, make_app) -> None:
    _seed_with_late_train_rows(sandbox, run_history=True)
    app = make_app()
    _ticks(sandbox, app, 7)

    [email] = sandbox.emails
    assert email["content"]["subject"].endswith("(root cause train_model)")
    assert "train_model" in email["content"]["plainText"].split("ROOT CAUSE:")[1].splitlines()[0]
