"""Run-history enrichment figures for `make bench`: what one failed pipeline's details cost (HTTP calls, wall time)
against the sandbox, cold (the workspace's discovery too) and warm; and one delivery tick of 100 failed pipelines
under the per-tick cap, with the sandbox answering run history slowly, so the tick stays within its schedule.

Reference: the same number of plain GETs to the sandbox through a bare azure-core pipeline (same TLS, same
transport), measured in the same run. Returns plain rows ({figure, value, reference, ratio, target, ok});
bench.py turns them into its table.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

PIPELINES = 100
TICK_CAP = 20.0  # seconds: the per-tick cap used for the 100-pipeline tick (RUN_HISTORY_TICK_SECONDS)
PER_INCIDENT = 5.0  # seconds (RUN_HISTORY_INCIDENT_SECONDS)
SLOW = 0.5  # seconds: the sandbox's run history answers this late in the tick figure


def _subject(workspace: str, root: str, now: datetime) -> Any:
    from sandbox.scenarios import workspace_resource_id
    from shared.core.azure_ml import Workspace
    from shared.detectors import run_failures
    from shared.enrich import EnrichmentSubject

    incident = run_failures.PipelineFailure(
        workspace=Workspace.from_resource_id(workspace_resource_id(workspace), workspace),
        pipeline_run_id=root,
        pipeline_status="Failed",
        experiment="churn-model-training",
        root_cause=run_failures.Step(f"{root}_evaluate", "Failed", now),
        downstream=(),
    )
    payload = run_failures.incident_payload(incident)
    return EnrichmentSubject(run_failures.KIND, incident.key, payload, incident.labels)


def _enricher(sandbox: Any) -> Any:
    from shared.azure.arm import Arm
    from shared.azure.credentials import azure_credential
    from shared.azure.run_history import RunHistory
    from shared.enrich.run_history import RunHistoryEnricher

    options = sandbox.aml_client_options()
    credential = azure_credential("emulator", None)
    arm = Arm(credential, endpoint=options["endpoint"])
    history = RunHistory(credential, arm, api_hosts=options["api_hosts"], blob_hosts=options["blob_hosts"])
    return RunHistoryEnricher(history)


def _plain_gets(url: str, count: int) -> float:
    from azure.core import PipelineClient
    from azure.core.rest import HttpRequest

    client: Any = PipelineClient(url)
    started = time.perf_counter()
    for _ in range(count):
        client.send_request(HttpRequest("GET", url)).read()
    return time.perf_counter() - started


def run_history_rows(stack: Any) -> list[dict[str, Any]]:
    from sandbox.scenarios import six_step_run
    from shared.core.budget import Budget

    sandbox = stack.start().sandbox
    sandbox.reset()
    os.environ.update(sandbox.env())
    now = datetime.now(UTC).replace(microsecond=0)
    sandbox.set_clock(now)
    for index in range(PIPELINES + 2):
        sandbox.add_pipeline(six_step_run("ws-bench", f"bench{index:04d}", now - timedelta(minutes=30)))
    enricher = _enricher(sandbox)
    rows: list[dict[str, Any]] = []
    for label, root in (("cold: with the workspace's discovery", "bench0000"), ("warm", "bench0001")):
        budget = Budget(60)
        started = time.perf_counter()
        found = enricher.enrich(_subject("ws-bench", root, now), budget)
        seconds = time.perf_counter() - started
        reference = _plain_gets(f"{sandbox.endpoint}/discovery", budget.calls)
        complete = bool(found.additions) and not found.note
        rows.append(
            {
                "figure": f"run history per failed pipeline, {label}: HTTP calls, wall",
                "value": f"{budget.calls} calls, {seconds * 1000:.0f} ms",
                "reference": f"{budget.calls} plain GETs: {reference * 1000:.0f} ms",
                "ratio": seconds / reference,
                "target": "complete (steps, 2 errors, 2 log tails)",
                "ok": complete,
            }
        )
    sandbox.slow_service("runhistory", SLOW)
    tick = Budget(TICK_CAP)
    started = time.perf_counter()
    notes = 0
    for index in range(2, PIPELINES + 2):
        found = enricher.enrich(_subject("ws-bench", f"bench{index:04d}", now), tick.within(PER_INCIDENT))
        notes += bool(found.note) or not found.additions
    seconds = time.perf_counter() - started
    sandbox.heal_service("runhistory")
    rows.append(
        {
            "figure": f"run history, tick of {PIPELINES} failed pipelines, answers {SLOW:g} s late, cap {TICK_CAP:g}s",
            "value": f"{seconds:.1f} s, {tick.calls} calls; {PIPELINES - notes} enriched, {notes} sent without details",
            "reference": f"cap {TICK_CAP:g} s",
            "ratio": seconds / TICK_CAP,
            "target": "within the cap + one call",
            "ok": seconds <= TICK_CAP + 10.0 + SLOW,
        }
    )
    return rows
