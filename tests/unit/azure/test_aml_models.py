"""What the Azure ML clients read out of the services' answers (the team's wire samples), and the pure parts of
the log tail: which log file, which lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.azure.arm_models import AmlWorkspace, ArmJob, Schedule
from shared.azure.http import host_allowed, with_query
from shared.azure.log_tail import SecretUrl, last_lines, pick_log_file
from shared.azure.run_models import RunDetails, StepRun, parse_duration

WIRE = Path(__file__).resolve().parents[3] / "sandbox" / "wire" / "aml"


def body(name: str) -> dict[str, Any]:
    return json.loads((WIRE / name).read_text())["response"]["body"]


def test_a_step_from_the_children_list_has_what_the_email_shows() -> None:
    steps = [StepRun.from_json(item) for item in body("runhistory-children.json")["value"]]
    assert [(s.display_name, s.status) for s in steps] == [
        ("clean_data", "Completed"),
        ("train_model", "Failed"),
        ("validate_data", "Canceled"),
    ]
    train = steps[1]
    assert (train.component_name, train.component_version, train.compute) == (
        "train_logistic_regression",
        "3",
        "cpu-cluster",
    )
    assert train.start == datetime(2025, 11, 28, 2, 13, 36, 406000, tzinfo=UTC)
    assert train.duration == timedelta(seconds=26.111)
    assert train.error is not None and train.error.code == "UserError"
    assert train.error.message.endswith("KeyError: 'label'\n")
    assert not train.is_pipeline


def test_details_keep_the_sas_urls_out_of_every_repr() -> None:
    details = RunDetails.from_json(body("runhistory-run-details-failed-step.json"))
    assert details.log_file == "user_logs/std_log.txt"
    url = details.log_files["user_logs/std_log.txt"]
    assert "sig=" in url.reveal()
    for shown in (repr(details), str(details), repr(url), str(url), f"{url}", repr(dict(details.log_files))):
        assert "sig=" not in shown and "skoid" not in shown
    assert url.host == "mlwprodstorage01.blob.core.windows.net"


def test_an_inner_error_chain_and_secrets_in_an_error_message() -> None:
    error = {
        "error": {
            "code": "UserError",
            "message": "open failed: AccountKey=abc123/xyz==;EndpointSuffix=x",
            "innerError": {"code": "BadArgument", "innerError": {"code": "FileNotFound"}},
        }
    }
    step = StepRun.from_json({"runId": "s1", "status": "Failed", "error": error})
    assert step.error is not None
    assert step.error.inner_codes == ("BadArgument", "FileNotFound")
    assert "abc123" not in step.error.message and "AccountKey=[REDACTED]" in step.error.message
    assert step.display_name == "s1"  # no displayName: the run id


def test_arm_workspace_job_and_schedules() -> None:
    workspace = AmlWorkspace.from_json(body("arm-workspace-get-fragment.json"))
    assert (workspace.location, workspace.discovery_url) == (
        "westeurope",
        "https://westeurope.api.azureml.ms/discovery",
    )
    job = ArmJob.from_json(body("arm-job-get-pipeline.json"))
    assert (job.display_name, job.experiment_name, job.status) == (
        "fraud_training_pipeline",
        "fraud-training",
        "Failed",
    )
    assert job.studio_url.startswith("https://ml.azure.com/runs/quiet_lamp_7x2k9wq1zp?wsid=")
    schedules = [
        Schedule.from_json(s)
        for s in body("arm-schedules-list.json")["value"] + body("arm-schedules-list-page2.json")["value"]
    ]
    nightly, weekly, hourly, legacy, ended, monitor = schedules
    assert (nightly.trigger.kind, nightly.trigger.expression, nightly.trigger.time_zone) == (
        "Cron",
        "0 2 * * *",
        "W. Europe Standard Time",
    )
    assert (weekly.trigger.frequency, weekly.trigger.hours, weekly.trigger.week_days) == (
        "Week",
        (6,),
        ("Monday", "Thursday"),
    )
    assert (hourly.trigger.hours, hourly.trigger.minutes, hourly.trigger.interval) == ((), (), 4)
    assert not legacy.is_enabled and legacy.trigger.start_time is None
    assert ended.trigger.end_time == "2026-09-30T23:59:59"
    assert monitor.action_type == "CreateMonitor" and nightly.action_type == "CreateJob"
    assert nightly.last_modified_at == datetime(2026, 2, 1, 8, 12, 45, 120000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("names", "chosen"),
    [
        (["system_logs/lifecycler/lifecycler.log", "user_logs/std_log.txt"], "user_logs/std_log.txt"),
        (["user_logs/std_log_process_01.txt", "user_logs/std_log_process_00.txt"], "user_logs/std_log_process_00.txt"),
        (
            ["user_logs/std_log_node_1_rank_1.txt", "user_logs/std_log_node_1_rank_0.txt"],
            "user_logs/std_log_node_1_rank_0.txt",
        ),
        (
            [
                "azureml-logs/55_azureml-execution-tvmps.txt",
                "azureml-logs/70_driver_log.txt",
                "azureml-logs/75_job_post-tvmps.txt",
            ],
            "azureml-logs/70_driver_log.txt",
        ),
        (["azureml-logs/70_driver_log_1.txt", "azureml-logs/70_driver_log_0.txt"], "azureml-logs/70_driver_log_0.txt"),
        (["logs/azureml/executionlogs.txt", "logs/azureml/stderrlogs.txt"], "logs/azureml/executionlogs.txt"),
        (["system_logs/cs_capability/cs-capability.log"], None),
    ],
)
def test_the_log_worth_tailing_by_azure_ai_ml_rules(names: list[str], chosen: str | None) -> None:
    assert pick_log_file(names) == chosen


def test_last_lines_drop_a_partial_first_line_and_keep_fifty() -> None:
    data = b"".join(f"line {i:03d}\n".encode() for i in range(200))
    lines, cut = last_lines(data[13:], mid_file=True)
    assert lines == [f"line {i:03d}" for i in range(150, 200)] and cut
    lines, cut = last_lines(b"a\nb\n", mid_file=False)
    assert lines == ["a", "b"] and not cut


def test_a_multibyte_character_cut_by_the_range_does_not_break_the_tail() -> None:
    data = "é partial\nnext ✓ line\nlast\n".encode()[1:]  # starts inside the two bytes of é
    lines, _ = last_lines(data, mid_file=True)
    assert lines == ["next ✓ line", "last"]
    assert last_lines(b"ok \xff\xfe bytes\n", mid_file=False)[0] == ["ok \ufffd\ufffd bytes"]


def test_hosts_and_query_parameters() -> None:
    blob = (".blob.core.windows.net",)
    assert host_allowed("https://acct.blob.core.windows.net/c/p?sig=x", blob)
    assert not host_allowed("http://acct.blob.core.windows.net/c/p", blob)
    assert not host_allowed("https://acct.blob.core.windows.net.evil.example/c/p", blob)
    assert not host_allowed("https://evil.example/?x=.blob.core.windows.net", blob)
    assert host_allowed("https://127.0.0.1:8443/blob/x", ("127.0.0.1:8443",))
    assert not host_allowed("https://127.0.0.1:9999/blob/x", ("127.0.0.1:8443",))
    link = "https://h/jobs?api-version=2099-01-01-preview&$skip=abc&listViewType=All"
    assert (
        with_query(link, **{"api-version": "2025-09-01"})
        == "https://h/jobs?$skip=abc&listViewType=All&api-version=2025-09-01"
    )


def test_durations() -> None:
    assert parse_duration("00:00:26.1110000") == timedelta(seconds=26.111)
    assert parse_duration("1.02:03:04") == timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert parse_duration(None) is None and parse_duration("soon") is None


def test_secret_url_is_only_revealed_on_purpose() -> None:
    url = SecretUrl("https://a.blob.core.windows.net/c/b.txt?sv=1&sig=c2VjcmV0&sp=r")
    assert repr(url) == "SecretUrl('https://a.blob.core.windows.net/c/b.txt?…')"
    assert url.reveal().endswith("sig=c2VjcmV0&sp=r")
