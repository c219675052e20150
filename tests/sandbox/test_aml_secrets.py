"""A log's SAS URL is a secret: with every logger at DEBUG (azure-core's HTTP logging, urllib3's request lines),
no `sig=` reaches any log record, whether the read works, is refused, times out or cannot connect, and no reason
the clients give back carries it."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox import Sandbox
from sandbox.scenarios import six_step_run, workspace_resource_id
from shared.azure.arm import Arm
from shared.azure.failures import Failure, Unavailable
from shared.azure.log_tail import LogBlobs, SecretUrl
from shared.azure.run_history import RunHistory
from shared.azure.run_models import StepList
from shared.core.azure_ml import Workspace
from shared.core.budget import Budget
from tests.sandbox.aml_wire import AudienceCredential

WS = "ws-churn-prod"
WORKSPACE = Workspace.from_resource_id(workspace_resource_id(WS), WS)


def _records_text(caplog: pytest.LogCaptureFixture) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        if record.exc_info:
            texts.append(logging.Formatter().formatException(record.exc_info))
    return texts


def test_no_sas_in_any_log_record_or_reason(
    sb: Sandbox, caplog: pytest.LogCaptureFixture, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    sb.add_pipeline(six_step_run(WS, "pipe1", t0))
    options = sb.aml_client_options()
    tokens = AudienceCredential()
    history = RunHistory(
        tokens,
        Arm(tokens, endpoint=options["endpoint"]),
        api_hosts=options["api_hosts"],
        blob_hosts=options["blob_hosts"],
        call_seconds=2.0,
        blob_call_seconds=2.0,
    )
    steps = history.children(WORKSPACE, "pipe1", Budget(30))
    assert isinstance(steps, StepList)
    train = steps.steps[1]
    reports = [history.step_report(WORKSPACE, train, Budget(30))]
    sb.fail_service("blob", 403, workspace=WS, count=1)
    reports.append(history.step_report(WORKSPACE, train, Budget(30)))
    sb.slow_service("blob", 4, workspace=WS, count=1)
    reports.append(history.step_report(WORKSPACE, train, Budget(30)))
    assert reports[0].log is not None
    assert [r.problems[0].failure for r in reports[1:]] == [Failure.FORBIDDEN, Failure.TIMEOUT]

    # A SAS on an allowed host that does not answer, and one whose certificate is not trusted: requests puts the
    # whole URL, query and all, into the second exception's message.
    unreachable = LogBlobs(allowed_hosts=("127.0.0.1:1",), call_seconds=2.0)
    lost = unreachable.tail(
        "user_logs/std_log.txt", SecretUrl("https://127.0.0.1:1/blob/a/c/log.txt?sv=1&sig=c2VjcmV0&sp=r"), Budget(30)
    )
    details = history.details(WORKSPACE, "pipe1_train", Budget(30))
    assert not isinstance(details, Unavailable)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    untrusted = history.blobs.tail("user_logs/std_log.txt", details.log_files["user_logs/std_log.txt"], Budget(30))
    assert isinstance(lost, Unavailable) and isinstance(untrusted, Unavailable)
    assert lost.failure == untrusted.failure == Failure.UNREACHABLE

    texts = _records_text(caplog)
    assert any("/blob/" in text for text in texts)  # the blob requests were logged, at DEBUG
    leaked = [text for text in texts if "sig=" in text or "c2VjcmV0" in text]
    assert leaked == []
    reasons = [str(p) for r in reports for p in r.problems] + [str(lost), str(untrusted)]
    assert not [reason for reason in reasons if "sig=" in reason or "?" in reason]


def test_the_sas_signatures_the_sandbox_issued_are_nowhere_in_the_logs(
    sb: Sandbox, caplog: pytest.LogCaptureFixture, t0: datetime
) -> None:
    caplog.set_level(logging.DEBUG)
    sb.add_pipeline(six_step_run(WS, "pipe1", t0))
    options = sb.aml_client_options()
    tokens = AudienceCredential()
    history = RunHistory(
        tokens,
        Arm(tokens, endpoint=options["endpoint"]),
        api_hosts=options["api_hosts"],
        blob_hosts=options["blob_hosts"],
    )
    details = history.details(WORKSPACE, "pipe1_train", Budget(30))
    assert not isinstance(details, Unavailable)
    signatures = [parse_qs(urlsplit(url.reveal()).query)["sig"][0] for url in details.log_files.values()]
    name = details.log_file
    assert name is not None
    tail = history.blobs.tail(name, details.log_files[name], Budget(30))
    assert not isinstance(tail, Unavailable)
    assert signatures and not [s for s in signatures for text in _records_text(caplog) if s in text]
