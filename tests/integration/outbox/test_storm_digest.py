"""The storm guard per group of recipients, end to end (the app's real clients, Azurite, the sandbox's ACS): 30
pipelines fail in one tick with storm_limit 20; the churn team (5 of them) gets its 5 emails, the default
recipients (25) one digest whose entries keep their link, first error line, workspace and real failure time,
grouped by error, oldest first."""

from __future__ import annotations

import re
from datetime import timedelta

from sandbox.scenarios import job_failed_row, status_row

from ..conftest import RECIPIENT

RULES = """storm_limit: 20
routes:
  - match: {workspace: ws-churn-*}
    recipients: [churn-team@contoso.com]
"""
NOT_FOUND = "ComputeNotFound: compute target gpu-cluster-{n} was deleted"
NAN = "ValueError: Input contains NaN in column {n}"


def _failed_pipeline(workspace: str, root: str, failed_at, error: str) -> dict[str, list]:
    step = f"{root}_train"
    return {
        "AmlRunStatusChangedEvent": [
            status_row(workspace, step, root, root, "Failed", failed_at),
            status_row(workspace, root, "", root, "Failed", failed_at + timedelta(seconds=30)),
        ],
        "AmlComputeJobEvent": [
            job_failed_row(workspace, step, "nightly", "gpu-cluster", failed_at, error + "\nTraceback (most recent ...")
        ],
    }


def test_a_team_below_the_limit_gets_its_emails_and_the_digest_keeps_the_detail(sandbox, make_app, rules, state):
    rules(RULES)
    app = make_app()
    app.scan("run-failures", sandbox.now)  # the first scan holds its start
    sandbox.advance(timedelta(minutes=30))
    failed = {}
    # Seeded newest first, so an order by insertion or by record time would not be the failure order.
    for i in reversed(range(30)):
        workspace = f"ws-churn-{i}" if i < 5 else f"ws-fraud-{i % 3}"
        error = (NOT_FOUND if i % 2 else NAN).format(n=i)
        failed[f"p{i:02}"] = sandbox.now - timedelta(minutes=25) + timedelta(seconds=20 * i)
        for table, rows in _failed_pipeline(workspace, f"p{i:02}", failed[f"p{i:02}"], error).items():
            sandbox.add_rows(table, rows)

    report = app.scan("run-failures", sandbox.now)

    assert (report.delivery.sent, report.delivery.emails, report.delivery.digests) == (30, 6, 1)
    churn = [e for e in sandbox.emails if e["recipients"]["to"] == [{"address": "churn-team@contoso.com"}]]
    assert sorted(e["content"]["subject"] for e in churn) == [
        f"[AML] Pipeline failed: nightly in ws-churn-{i} (root cause p{i:02}_train)" for i in range(5)
    ]
    [digest] = [e for e in sandbox.emails if e["recipients"]["to"] == [{"address": RECIPIENT}]]
    assert digest["content"]["subject"] == "[AML] 25 alerts at once: 25 pipeline failures"
    text = digest["content"]["plainText"]
    assert "python -m shared show <key>" in text  # how to see each one in full

    # Two groups by error text (the numbers differ), the group of the oldest failure first.
    assert re.findall(r"^(\S.*)  \[(\d+)\]$", text, re.M) == [
        ("ComputeNotFound: compute target gpu-cluster-5 was deleted", "13"),
        ("ValueError: Input contains NaN in column 6", "12"),
    ]
    entries = re.findall(r"^  - (\S+ \S+) UTC  (\S+)\n    (.+)\n    (https://\S+)\n    key: (\S+)$", text, re.M)
    assert len(entries) == 25
    for when, workspace, subject, link, key in entries:
        root = key.rsplit(":", 1)[1]
        assert when == failed[root].strftime("%Y-%m-%d %H:%M:%S")  # when it failed, not when it was recorded
        assert workspace.startswith("ws-fraud-") and f"in {workspace} " in subject
        assert link.startswith(f"https://ml.azure.com/runs/{root}?wsid=")
    odd = [key.rsplit(":", 1)[1] for *_, key in entries[:13]]
    assert odd == [f"p{i:02}" for i in range(5, 30, 2)]  # oldest first within the group
    assert 'href="https://ml.azure.com/runs/p05?wsid=' in digest["content"]["html"]
