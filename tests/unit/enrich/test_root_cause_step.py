"""The root cause from run history's children: the failed step that ended first; and what a message names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.azure.run_models import StepRun
from shared.detectors.run_failure_view import headline
from shared.enrich.run_history import root_cause_step

T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


def _step(run_id: str, status: str, end_minutes: int | None) -> StepRun:
    end = T0 + timedelta(minutes=end_minutes) if end_minutes is not None else None
    return StepRun(run_id, run_id, status, "root", "root", "", "", "", None, T0, end, None, "azureml.StepRun", None)


def test_the_failed_step_that_ended_first_whatever_the_listing_order() -> None:
    steps = [
        _step("evaluate", "Failed", 14),
        _step("prep", "Completed", 4),
        _step("train", "Failed", 12),
        _step("register", "Canceled", 13),
        _step("odd", "Failed", None),  # no end time: last
    ]
    found = root_cause_step(steps)
    assert found is not None and found.run_id == "train"


def test_no_failed_step_no_root_cause() -> None:
    assert root_cause_step([_step("prep", "Completed", 4), _step("train", "Canceled", 5)]) is None


def test_a_message_names_run_historys_pick_else_the_log_analytics_root_cause() -> None:
    base = {"pipeline_run_id": "root", "root_cause": {"run_id": "evaluate"}}
    assert headline(base) == "evaluate"
    assert headline({**base, "run_history": {"root_cause": "train"}}) == "train"
    assert headline({**base, "root_cause": {"run_id": "root"}}) == "root"  # only the pipeline's own row yet
