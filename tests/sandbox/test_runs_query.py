"""Run history's `experimentids/{id}/runs:query` through the app's client against the sandbox: one POST, the
experiment's runs (pipelines and their steps) created before a time, newest first, `top` of them; a refusal
comes back as a reason."""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox import Sandbox
from sandbox.scenarios import six_step_run
from shared.azure.failures import Failure, Unavailable
from shared.azure.run_history import RunHistory
from shared.core.budget import Budget
from tests.sandbox.test_aml_clients import WORKSPACE, WS, history, served, tokens  # noqa: F401 (fixtures)


def test_the_experiments_runs_before_a_time_newest_first(
    sb: Sandbox,
    history: RunHistory,  # noqa: F811
    t0: datetime,
) -> None:
    for days in (3, 2, 1):
        sb.add_pipeline(six_step_run(WS, f"earlier{days}", t0 - timedelta(days=days)))
    this = sb.add_pipeline(six_step_run(WS, "pipe1", t0))
    run = history.run(WORKSPACE, this.run_id, Budget(10))
    assert not isinstance(run, Unavailable) and run.experiment_id and run.created is not None

    runs = history.experiment_runs(WORKSPACE, run.experiment_id, run.created, Budget(10), top=200)

    assert not isinstance(runs, Unavailable), runs
    roots = [r.run_id for r in runs if not r.parent_run_id]
    assert roots == ["earlier1", "earlier2", "earlier3"]  # newest first; this run is not before itself
    assert len(runs) == 3 * 7  # each pipeline run and its six steps
    assert [r["method"] for r in served(sb, "runhistory") if str(r["path"]).endswith("runs:query")] == ["POST"]
    top = history.experiment_runs(WORKSPACE, run.experiment_id, run.created, Budget(10), top=5)
    assert not isinstance(top, Unavailable) and len(top) == 5


def test_a_refused_query_is_a_reason(sb: Sandbox, history: RunHistory, t0: datetime) -> None:  # noqa: F811
    sb.add_pipeline(six_step_run(WS, "pipe1", t0))
    sb.fail_service("runhistory", 403, workspace=WS)
    runs = history.experiment_runs(WORKSPACE, "00000000-0000-0000-0000-000000000000", t0, Budget(10), top=10)
    assert isinstance(runs, Unavailable) and runs.failure is Failure.FORBIDDEN
