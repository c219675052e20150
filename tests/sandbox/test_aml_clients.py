"""The ARM and run-history clients (shared/azure/) over HTTPS against the sandbox, through the real azure-core
pipeline: paging, log ranges, every failure as a reason (never an exception), time budgets, the token scope
fallback, and tokens and SAS URLs going only where they may."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from sandbox import Sandbox
from sandbox.pipeline_runs import PipelineRun, Step, Transition
from sandbox.scenarios import six_step_run, workspace_resource_id
from sandbox.step_logs import DEMO_SECRETS
from shared.azure.arm import Arm
from shared.azure.failures import Failure, Unavailable
from shared.azure.run_history import RunHistory
from shared.azure.run_models import StepList
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget
from shared.core.redact import REDACTED
from tests.sandbox.aml_wire import AudienceCredential

WS = "ws-churn-prod"
WORKSPACE = Workspace.from_resource_id(workspace_resource_id(WS), WS)  # as the log rows name it: upper-cased


@pytest.fixture
def tokens() -> AudienceCredential:
    return AudienceCredential()


@pytest.fixture
def history(sb: Sandbox, tokens: AudienceCredential) -> RunHistory:
    options = sb.aml_client_options()
    arm = Arm(tokens, endpoint=options["endpoint"], call_seconds=3.0)
    return RunHistory(
        tokens,
        arm,
        api_hosts=options["api_hosts"],
        blob_hosts=options["blob_hosts"],
        call_seconds=3.0,
        blob_call_seconds=3.0,
    )


@pytest.fixture
def pipeline(sb: Sandbox, t0: datetime) -> PipelineRun:
    return sb.add_pipeline(six_step_run(WS, "pipe1", t0))


def served(sb: Sandbox, service: str) -> list[dict[str, object]]:
    return [r for r in sb.aml.requests if r["service"] == service]


def steps_of(found: StepList | Unavailable) -> StepList:
    assert isinstance(found, StepList), found
    return found


def test_the_steps_of_a_pipeline_across_pages(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun, t0: datetime
) -> None:
    listing = steps_of(history.children(WORKSPACE, "pipe1", Budget(30)))
    assert listing.complete and len(served(sb, "runhistory")) == 2  # three steps per page
    assert [(s.display_name, s.status) for s in listing.steps] == [
        ("prep_data", "Completed"),
        ("train_model", "Failed"),
        ("evaluate_model", "Failed"),
        ("register_model", "Canceled"),
        ("deploy_model", "Canceled"),
        ("publish_report", "NotStarted"),
    ]
    train = listing.steps[1]
    assert (train.run_id, train.component_name, train.component_version, train.compute) == (
        "pipe1_train",
        "train_lightgbm_classifier",
        "3",
        "gpu-cluster",
    )
    assert (train.start, train.end, train.duration) == (
        t0 + timedelta(minutes=5),
        t0 + timedelta(minutes=12),
        timedelta(minutes=7),
    )
    root = history.run(WORKSPACE, "pipe1", Budget(30))
    assert not isinstance(root, Unavailable) and root.is_pipeline and root.status == "Failed"


def test_a_step_report_has_its_error_and_the_redacted_tail_of_its_log(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun
) -> None:
    budget = Budget(30)
    train = steps_of(history.children(WORKSPACE, "pipe1", budget)).steps[1]
    report = history.step_report(WORKSPACE, train, budget)
    assert report.problems == () and report.log is not None and report.error is not None
    assert report.error.code == "UserError" and "ValueError: Input contains NaN" in report.error.message
    assert report.log.file_name == "user_logs/std_log.txt" and len(report.log.lines) == 50 and report.log.truncated
    assert report.log.lines[-1] == "ValueError: Input contains NaN, infinity or a value too large for dtype('float64')."
    text = "\n".join(report.log.lines)
    assert not [secret for secret in DEMO_SECRETS if secret in text] and text.count(REDACTED) == 3
    size = report.log.size
    assert [r["range"] for r in served(sb, "blob")] == ["bytes=0-0", f"bytes=0-{size - 1}"]
    assert not any(r["authorization"] for r in served(sb, "blob") + served(sb, "discovery"))
    assert budget.calls == 7  # workspace, discovery, 2 pages of children, details, 2 ranges


def _one_step(sb: Sandbox, t0: datetime, log: str, log_file: str = "user_logs/std_log.txt") -> Step:
    step = Step(
        "p2_train",
        "train_model",
        "train",
        (Transition("Running", t0), Transition("Failed", t0)),
        log=log,
        log_file=log_file,
    )
    sb.add_pipeline(PipelineRun(WS, "p2", "p2", "exp", (Transition("Running", t0),), (step,)))
    return step


def test_a_long_log_is_read_from_its_last_64_kib(sb: Sandbox, history: RunHistory, t0: datetime) -> None:
    log = "".join(f"{i:06d} step output line with some padding to make it longer\n" for i in range(4000))
    _one_step(sb, t0, log)
    report = history.step_report(
        WORKSPACE, steps_of(history.children(WORKSPACE, "p2", Budget(30))).steps[0], Budget(30)
    )
    assert report.log is not None and report.log.size == len(log)
    assert report.log.lines == tuple(log.splitlines()[-50:]) and report.log.truncated
    assert [r["range"] for r in served(sb, "blob")] == ["bytes=0-0", f"bytes={len(log) - 65536}-{len(log) - 1}"]


def test_an_empty_log_and_a_legacy_driver_log(sb: Sandbox, history: RunHistory, t0: datetime) -> None:
    _one_step(sb, t0, "")
    step = steps_of(history.children(WORKSPACE, "p2", Budget(30))).steps[0]
    report = history.step_report(WORKSPACE, step, Budget(30))
    assert report.log is not None and (report.log.lines, report.log.size) == ((), 0)  # 416 to bytes=0-0
    assert len(served(sb, "blob")) == 1
    sb.reset()
    _one_step(sb, t0, "driver says\nboom\n", log_file="azureml-logs/70_driver_log.txt")
    report = history.step_report(WORKSPACE, step, Budget(30))
    assert report.log is not None and report.log.file_name == "azureml-logs/70_driver_log.txt"
    assert report.log.lines == ("driver says", "boom")


@pytest.mark.parametrize(
    ("service", "status", "failure", "reason"),
    [
        (
            "arm",
            403,
            Failure.FORBIDDEN,
            "ARM answered 403 AuthorizationFailed: the app's identity needs "
            "Microsoft.MachineLearningServices/workspaces/read on the workspace (see infra/README.md)",
        ),
        ("arm", 404, Failure.NOT_FOUND, "ARM answered 404 ResourceNotFound: no such Azure ML workspace"),
        (
            "runhistory",
            403,
            Failure.FORBIDDEN,
            "run history answered 403 UserError: the app's identity needs read "
            "access to the workspace's jobs (see infra/README.md)",
        ),
        ("runhistory", 404, Failure.NOT_FOUND, "run history answered 404 UserError: no such run in the workspace"),
        ("runhistory", 401, Failure.UNAUTHORIZED, "run history refused the app's token (401 UserError)"),
        (
            "discovery",
            503,
            Failure.SERVER_ERROR,
            "Azure ML discovery answered 503 ServiceUnavailable: the service failed",
        ),
    ],
)
def test_each_failure_comes_back_as_a_reason(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun, service: str, status: int, failure: Failure, reason: str
) -> None:
    sb.fail_service(service, status, workspace=None if service == "discovery" else WS)
    found = history.children(WORKSPACE, "pipe1", Budget(30))
    assert isinstance(found, Unavailable) and found.failure == failure and found.status == status
    assert found.reason.startswith(reason), found.reason


def test_a_log_that_cannot_be_read_leaves_the_rest_of_the_report(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun
) -> None:
    step = steps_of(history.children(WORKSPACE, "pipe1", Budget(30))).steps[1]
    sb.fail_service("blob", 403, workspace=WS)
    report = history.step_report(WORKSPACE, step, Budget(30))
    assert report.error is not None and report.log is None
    [problem] = report.problems
    assert problem.failure == Failure.FORBIDDEN
    assert problem.reason == (
        "log storage answered 403 AuthorizationPermissionMismatch: the log link was refused "
        "or has expired (user_logs/std_log.txt)"
    )


def test_throttling_is_retried_only_within_the_call_time(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun
) -> None:
    history.children(WORKSPACE, "pipe1", Budget(30))  # workspace and discovery are cached from here on
    sb.fail_service("runhistory", 429, workspace=WS, count=1, retry_after=1)
    started = time.monotonic()
    assert steps_of(history.children(WORKSPACE, "pipe1", Budget(30))).complete
    assert time.monotonic() - started >= 1  # Retry-After honoured
    sb.fail_service("runhistory", 429, workspace=WS, count=1, retry_after=30)
    started = time.monotonic()
    found = history.children(WORKSPACE, "pipe1", Budget(30))
    assert time.monotonic() - started < 2  # a 30 s wait would end past the 3 s call: not retried
    assert isinstance(found, Unavailable) and found.failure == Failure.THROTTLED
    assert found.reason == "run history is throttling the app (429 UserError, Retry-After 30 s); not read this time"


def test_a_slow_answer_is_a_timeout_and_a_spent_budget_calls_nothing(
    sb: Sandbox, history: RunHistory, pipeline: PipelineRun
) -> None:
    history.children(WORKSPACE, "pipe1", Budget(30))
    sb.slow_service("runhistory", 5, workspace=WS, count=1)
    started = time.monotonic()
    found = history.run(WORKSPACE, "pipe1", Budget(30))
    assert isinstance(found, Unavailable) and found.failure == Failure.TIMEOUT
    assert found.reason == "run history did not answer within 3 s" and time.monotonic() - started < 4.5
    asked = len(sb.aml.requests)
    tick = Budget(60)
    incident = tick.within(0.5)  # less than a call needs
    found = history.run(WORKSPACE, "pipe1", incident)
    assert isinstance(found, Unavailable) and found.failure == Failure.OUT_OF_TIME
    assert len(sb.aml.requests) == asked and incident.calls == 0
    assert not isinstance(history.run(WORKSPACE, "pipe1", tick.within(10)), Unavailable)
    assert tick.calls == 1 and tick.remaining() > 50


def test_a_401_moves_to_the_ml_scope_and_stays_there(
    sb: Sandbox, history: RunHistory, tokens: AudienceCredential, pipeline: PipelineRun
) -> None:
    sb.refuse_audience("runhistory", "https://management.azure.com")
    assert steps_of(history.children(WORKSPACE, "pipe1", Budget(30))).complete
    assert [s for s in tokens.scopes if "127.0.0.1" not in s] == [
        "https://management.azure.com/.default",
        "https://ml.azure.com/.default",
    ]
    before = len(served(sb, "runhistory"))
    assert not isinstance(history.run(WORKSPACE, "pipe1_train", Budget(30)), Unavailable)
    assert len(served(sb, "runhistory")) == before + 1  # straight to the scope that worked
    sb.refuse_audience("runhistory", "https://ml.azure.com")
    found = history.run(WORKSPACE, "pipe1", Budget(30))
    assert isinstance(found, Unavailable) and found.failure == Failure.UNAUTHORIZED
    assert found.reason.startswith("run history refused the app's token (401 InvalidAuthenticationToken)")


def test_workspace_discovery_and_refusals_are_remembered(
    sb: Sandbox, tokens: AudienceCredential, pipeline: PipelineRun, t0: datetime
) -> None:
    now = [1000.0]
    options = sb.aml_client_options()
    arm = Arm(tokens, endpoint=options["endpoint"], clock=lambda: now[0])
    history = RunHistory(
        tokens, arm, api_hosts=options["api_hosts"], blob_hosts=options["blob_hosts"], clock=lambda: now[0]
    )
    sb.add_pipeline(six_step_run(WS, "pipe2", t0))
    history.children(WORKSPACE, "pipe1", Budget(30))
    history.children(WORKSPACE, "pipe2", Budget(30))
    assert (len(served(sb, "arm")), len(served(sb, "discovery"))) == (1, 1)
    sb.fail_service("runhistory", 403, workspace=WS)
    first = history.run(WORKSPACE, "pipe1", Budget(30))
    asked = len(sb.aml.requests)
    assert history.details(WORKSPACE, "pipe1_train", Budget(30)) == first  # not asked again for 5 minutes
    assert len(sb.aml.requests) == asked
    now[0] += 301
    history.run(WORKSPACE, "pipe1", Budget(30))
    assert len(sb.aml.requests) == asked + 1


def test_tokens_and_sas_urls_go_only_to_allowed_hosts(
    sb: Sandbox, tokens: AudienceCredential, pipeline: PipelineRun
) -> None:
    options = sb.aml_client_options()
    port = options["endpoint"].rsplit(":", 1)[1]
    arm = Arm(tokens, endpoint=f"https://localhost:{port}")  # its discovery URL names localhost
    found = RunHistory(tokens, arm, api_hosts=options["api_hosts"]).children(WORKSPACE, "pipe1", Budget(30))
    assert isinstance(found, Unavailable) and found.failure == Failure.REFUSED
    assert served(sb, "discovery") == [] and served(sb, "runhistory") == []
    history = RunHistory(tokens, Arm(tokens, endpoint=options["endpoint"]), api_hosts=options["api_hosts"])
    step = steps_of(history.children(WORKSPACE, "pipe1", Budget(30))).steps[1]
    report = history.step_report(WORKSPACE, step, Budget(30))  # blob hosts: *.blob.core.windows.net only
    assert report.log is None and report.problems[0].failure == Failure.REFUSED
    assert served(sb, "blob") == []


def test_schedules_and_the_jobs_they_created(sb: Sandbox, tokens: AudienceCredential, clock: datetime) -> None:
    from sandbox.arm import cron_trigger

    arm = Arm(tokens, endpoint=sb.endpoint)
    for name, enabled in (("nightly", True), ("hourly", True), ("old", False), ("weekly", True)):
        sb.add_schedule(WS, name, cron_trigger("0 2 * * *"), enabled=enabled, created_at=clock - timedelta(days=9))
    schedules = arm.schedules(WORKSPACE, Budget(30))
    assert not isinstance(schedules, Unavailable)
    assert [(s.name, s.is_enabled) for s in schedules] == [
        ("nightly", True),
        ("hourly", True),
        ("old", False),
        ("weekly", True),
    ]
    for day in range(1, 8):
        at = clock - timedelta(days=day)
        sb.add_pipeline(
            PipelineRun(
                WS,
                f"n{day}",
                f"nightly-{at:%Y%m%dT%H%M%SZ}",
                "nightly",
                (Transition("Running", at),),
                (),
                schedule="nightly",
            )
        )
    by_schedule = arm.jobs_by_schedule(WORKSPACE, "nightly", Budget(30))
    assert not isinstance(by_schedule, Unavailable) and len(by_schedule.jobs) == 7 and by_schedule.complete
    recent = arm.pipeline_jobs(WORKSPACE, Budget(30), created_since=clock - timedelta(days=2, hours=12))
    assert not isinstance(recent, Unavailable) and not recent.complete  # stopped after a page of older jobs
    assert [j.name for j in recent.jobs] == ["n1", "n2", "n3", "n4", "n5", "n6"]
    sb.retire_api_version("2024-01-01-preview")
    fresh = Arm(tokens, endpoint=sb.endpoint)
    for _ in range(2):
        refused = fresh.jobs_by_schedule(WORKSPACE, "nightly", Budget(30))
        assert isinstance(refused, Unavailable) and refused.failure == Failure.UNSUPPORTED
    # 3 pages by schedule, 2 of the stable list, then one refusal: the second ask does not call
    assert len([r for r in served(sb, "arm") if str(r["path"]).endswith("/jobs")]) == 6
    step = fresh.job(WORKSPACE, "n1", Budget(30))
    assert not isinstance(step, Unavailable) and step.display_name.startswith("nightly-")
