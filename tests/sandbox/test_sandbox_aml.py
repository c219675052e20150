"""The Azure ML stand-ins, spoken to in plain HTTPS: ARM, discovery, run history and log blobs answer in the shapes
of the team's wire samples, as of the sandbox clock, with paging, ranges, their own errors and armed faults."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest

from sandbox import Sandbox
from sandbox.arm import cron_trigger, recurrence_trigger
from sandbox.pipeline_runs import PipelineRun, Transition
from sandbox.scenarios import RESOURCE_GROUP, SUBSCRIPTION, six_step_run
from tests.sandbox.aml_wire import assert_shape, get, get_json, sample

WS = "ws-churn-prod"
ARM_WS = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}"
    f"/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
)
API = "api-version=2025-09-01"


@pytest.fixture
def pipeline(sb: Sandbox, t0: datetime) -> PipelineRun:
    """The six-step pipeline, started two hours ago (all of it has happened)."""
    return sb.add_pipeline(six_step_run(WS, "pipe1", t0))


def history(sb: Sandbox, suffix: str) -> str:
    status, workspace = get_json(sb, f"{ARM_WS}?{API}")
    assert status == 200
    _, document = get_json(sb, workspace["properties"]["discoveryUrl"], token=None)
    return f"{document['api']}/history/v1.0{ARM_WS}{suffix}"


def test_workspace_discovery_and_run_history_answer_in_the_samples_shapes(sb: Sandbox, pipeline: PipelineRun) -> None:
    status, workspace = get_json(sb, f"{ARM_WS}?{API}")
    assert status == 200
    assert_shape(sample("arm-workspace-get-fragment.json"), workspace)
    status, document = get_json(sb, workspace["properties"]["discoveryUrl"], token=None)  # no token needed
    assert status == 200
    assert_shape(sample("discovery-get.json"), document)
    base = f"{document['api']}/history/v1.0{ARM_WS}"

    _, first = get_json(sb, f"{base}/runs/pipe1/children?api-version=v1.0")
    assert_shape(sample("runhistory-children-page1.json"), first)
    assert first["nextLink"] and urlsplit(first["nextLink"]).netloc == urlsplit(sb.endpoint).netloc
    _, second = get_json(sb, first["nextLink"])
    assert second["nextLink"] is None and second["continuationToken"] is None
    steps = first["value"] + second["value"]
    assert [s["displayName"] for s in steps] == [
        "prep_data",
        "train_model",
        "evaluate_model",
        "register_model",
        "deploy_model",
        "publish_report",
    ]
    for step in steps:
        assert_shape(sample("runhistory-children.json")["value"][1], step)

    _, run = get_json(sb, f"{base}/runs/pipe1_train")
    assert_shape(sample("runhistory-run-get-failed-step.json"), run)
    assert run["properties"]["azureml.moduleName"] == "train_lightgbm_classifier"
    assert (run["error"]["error"]["code"], run["compute"]["target"]) == ("UserError", "gpu-cluster")
    _, details = get_json(sb, f"{base}/runs/pipe1_train/details")
    assert_shape(sample("runhistory-run-details-failed-step.json"), details)
    assert "user_logs/std_log.txt" in details["logFiles"]
    _, evaluate = get_json(sb, f"{base}/runs/pipe1_evaluate/details")
    assert evaluate["error"]["error"]["innerError"] == {
        "code": "BadArgument",
        "innerError": {"code": "FileNotFound", "innerError": None},
    }


def test_arm_jobs_describe_the_pipeline_and_not_its_steps(sb: Sandbox, pipeline: PipelineRun) -> None:
    _, job = get_json(sb, f"{ARM_WS}/jobs/pipe1?{API}")
    assert_shape(sample("arm-job-get-pipeline.json"), job)
    assert (job["properties"]["status"], job["properties"]["displayName"]) == ("Failed", "churn_training_pipeline")
    _, step = get_json(sb, f"{ARM_WS}/jobs/pipe1_train?{API}")
    assert step["properties"] is None
    assert_shape(sample("arm-job-get-step.json"), step)


def test_log_blobs_answer_ranges_like_storage(sb: Sandbox, pipeline: PipelineRun) -> None:
    _, details = get_json(sb, history(sb, "/runs/pipe1_train/details"))
    url = details["logFiles"]["user_logs/std_log.txt"]
    log = pipeline.steps[1].log
    assert log is not None
    size = len(log.encode())
    status, headers, data = get(sb, url, token=None, headers={"x-ms-range": "bytes=0-0"})
    assert (status, headers["Content-Range"], data) == (206, f"bytes 0-0/{size}", log.encode()[:1])
    status, headers, data = get(sb, url, token=None, headers={"x-ms-range": f"bytes={size - 100}-"})
    assert (status, headers["Content-Range"], data) == (
        206,
        f"bytes {size - 100}-{size - 1}/{size}",
        log.encode()[-100:],
    )
    status, headers, data = get(sb, url, token=None, headers={"Range": f"bytes={size}-"})
    assert (status, headers["Content-Range"], headers["x-ms-error-code"]) == (416, f"bytes */{size}", "InvalidRange")
    assert b"<Code>InvalidRange</Code>" in data
    assert get(sb, url, token=None)[2] == log.encode()

    tampered = url.replace("sig=", "sig=x")
    assert get(sb, tampered, token=None)[1]["x-ms-error-code"] == "AuthenticationFailed"
    assert get(sb, url, token="a-token")[0] == 400  # no Authorization header on a SAS URL
    sb.advance(timedelta(hours=9))  # the SAS lives 8 hours
    status, _, data = get(sb, url, token=None)
    assert status == 403 and b"has to be after current time" in data


def test_run_history_shows_each_run_as_of_the_clock(sb: Sandbox, t0: datetime) -> None:
    sb.set_clock(t0 + timedelta(minutes=6))
    sb.add_pipeline(six_step_run(WS, "pipe1", t0))
    _, first = get_json(sb, history(sb, "/runs/pipe1/children?$top=10"))
    assert [(s["displayName"], s["status"], s["endTimeUtc"]) for s in first["value"]] == [
        ("prep_data", "Completed", "2026-01-02T10:04:00Z"),
        ("train_model", "Running", None),
        ("evaluate_model", "Running", None),
    ]
    assert first["value"][1]["error"] is None
    sb.set_clock(t0 + timedelta(minutes=13))
    _, train = get_json(sb, history(sb, "/runs/pipe1_train"))
    assert (train["status"], train["endTimeUtc"]) == ("Failed", "2026-01-02T10:12:00Z")
    _, root = get_json(sb, history(sb, "/runs/pipe1"))
    assert (root["status"], root["displayName"]) == ("Running", "churn_training_pipeline")
    assert get_json(sb, history(sb, "/runs/pipe1_report"))[0] == 404  # not created before minute 14


def test_schedules_page_and_hide_disabled_ones_unless_asked(sb: Sandbox, clock: datetime) -> None:
    created = clock - timedelta(days=30)
    sb.add_schedule(WS, "nightly-train", cron_trigger("0 2 * * *", "W. Europe Standard Time"), created_at=created)
    sb.add_schedule(
        WS,
        "weekly-scoring",
        recurrence_trigger("Week", 1, hours=(6,), minutes=(30,), week_days=("Monday",)),
        created_at=created,
    )
    sb.add_schedule(WS, "legacy-retrain", cron_trigger("30 3 * * 1-5"), enabled=False, created_at=created)
    sb.add_schedule(WS, "drift-monitor", recurrence_trigger("Day", 1), action_type="CreateMonitor", created_at=created)
    sb.add_schedule(WS, "tomorrow", cron_trigger("0 * * * *"), created_at=clock + timedelta(days=1))
    status, page = get_json(sb, f"{ARM_WS}/schedules?{API}&listViewType=All")
    assert status == 200 and len(page["value"]) == 3 and "$skip=" in page["nextLink"]
    assert_shape(sample("arm-schedules-list.json"), page)
    _, last = get_json(sb, page["nextLink"])
    assert "nextLink" not in last
    assert [s["name"] for s in page["value"] + last["value"]] == [
        "nightly-train",
        "weekly-scoring",
        "legacy-retrain",
        "drift-monitor",
    ]
    _, default = get_json(sb, f"{ARM_WS}/schedules?{API}")  # the service's default view: EnabledOnly
    assert "nextLink" not in default
    assert [s["name"] for s in default["value"]] == ["nightly-train", "weekly-scoring", "drift-monitor"]


def test_jobs_by_schedule_only_on_a_preview_api_version(sb: Sandbox, clock: datetime) -> None:
    def scheduled(day: int) -> PipelineRun:
        at = clock - timedelta(days=day, hours=10)
        return PipelineRun(
            WS,
            f"run_{day}",
            f"nightly-train-{at:%Y%m%dT%H%M%SZ}",
            "nightly-train",
            (Transition("Running", at), Transition("Completed", at + timedelta(hours=1))),
            (),
            schedule="nightly-train",
        )

    for day in (1, 2, 4):
        sb.add_pipeline(scheduled(day))
    manual = Transition("Running", clock - timedelta(hours=3))
    sb.add_pipeline(PipelineRun(WS, "manual", "manual_run", "adhoc", (manual,), ()))
    query = "scheduled=true&scheduleId=nightly-train&listViewType=All"
    _, preview = get_json(sb, f"{ARM_WS}/jobs?api-version=2024-01-01-preview&{query}")
    assert_shape(sample("arm-jobs-list-by-schedule.json"), preview)
    assert [j["name"] for j in preview["value"]] == ["run_1", "run_2", "run_4"]
    _, stable = get_json(sb, f"{ARM_WS}/jobs?{API}&{query}")  # stable versions have no such filter
    assert [j["name"] for j in stable["value"]] == ["manual", "run_1", "run_2"] and stable["nextLink"]
    assert_shape(sample("arm-jobs-list-stable.json"), stable)
    sb.retire_api_version("2024-01-01-preview")
    status, error = get_json(sb, f"{ARM_WS}/jobs?api-version=2024-01-01-preview&{query}")
    assert (status, error["error"]["code"]) == (400, "NoRegisteredProviderFound")


def test_errors_in_each_services_own_words(sb: Sandbox, pipeline: PipelineRun) -> None:
    assert get_json(sb, f"{ARM_WS}")[1]["error"]["code"] == "MissingApiVersionParameter"
    status, _, _ = get(sb, f"{ARM_WS}?{API}", token=None)
    assert status == 401
    other = ARM_WS.replace(WS, "ws-nope")
    assert get_json(sb, f"{other}?{API}")[1]["error"]["code"] == "ResourceNotFound"
    status, error = get_json(sb, history(sb, "/runs/no-such-run"))
    assert (status, error["error"]["code"]) == (404, "UserError")


def test_faults_per_service_and_workspace(sb: Sandbox, pipeline: PipelineRun) -> None:
    sb.add_pipeline(six_step_run("ws-other", "pipe2", pipeline.created))
    sb.fail_service("arm", 403, workspace=WS)
    status, error = get_json(sb, f"{ARM_WS}/schedules?{API}")
    assert status == 403
    assert_shape(sample("arm-schedules-list-403.json"), error)
    assert "workspaces/schedules/read" in error["error"]["message"]
    assert get_json(sb, f"{ARM_WS.replace(WS, 'ws-other')}?{API}")[0] == 200
    sb.heal_service("arm")
    url = history(sb, "/runs/pipe1/children")
    sb.fail_service("runhistory", 429, count=1, retry_after=7)
    status, headers, _ = get(sb, url)
    assert (status, headers["Retry-After"]) == (429, "7")
    assert get(sb, url)[0] == 200
    sb.fail_service("blob", 503, count=1)
    _, details = get_json(sb, history(sb, "/runs/pipe1_train/details"))
    status, headers, data = get(sb, details["logFiles"]["user_logs/std_log.txt"], token=None)
    assert (status, headers["x-ms-error-code"]) == (503, "ServerBusy") and data.startswith(b"<?xml")


def test_the_control_api_seeds_runs_and_arms_faults(sb: Sandbox, raw, t0: datetime) -> None:
    run = {
        "workspace": "ws-ctl",
        "run_id": "p9",
        "display_name": "p9_pipeline",
        "experiment": "exp",
        "transitions": [{"status": "Running", "at": t0.isoformat()}],
        "steps": [
            {
                "run_id": "p9_a",
                "name": "step_a",
                "component": "comp_a",
                "transitions": [{"status": "Running", "at": t0.isoformat()}],
            }
        ],
    }
    assert raw("POST", "/_sandbox/pipelines", {"run": run})[0] == 200
    assert raw("POST", "/_sandbox/faults", {"service": "runhistory", "status": 404, "workspace": "ws-ctl"})[0] == 200
    arm_ws = ARM_WS.replace(WS, "ws-ctl")
    _, workspace = get_json(sb, f"{arm_ws}?{API}")
    _, document = get_json(sb, workspace["properties"]["discoveryUrl"], token=None)
    assert get(sb, f"{document['api']}/history/v1.0{arm_ws}/runs/p9")[0] == 404
    _, requests = raw("GET", "/_sandbox/aml-requests")
    assert [(r["service"], r["authorization"]) for r in requests] == [
        ("arm", True),
        ("discovery", False),
        ("runhistory", True),
    ]
    assert sb.emails == [] and len(sb.queries) == 0
