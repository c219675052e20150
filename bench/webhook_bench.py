"""Webhook figures for `make bench`: answer time of a burst of deliveries, and a long hypothesis run.

Runs the real function (`function_app.alert_webhook`) against Azurite and the sandbox, as the integration tests do.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SAMPLES = ROOT / "tests" / "data" / "alerts"


def configure(sandbox, connection: str) -> None:
    """App settings pointing at Azurite + the sandbox (as tests/integration/conftest.py), for the function."""
    from shared.entrypoints import alerting_app

    logging.disable(logging.WARNING)  # thousands of deliberate 400s would flood the output
    os.environ.update(sandbox.app_settings(connection))
    alerting_app.cache_clear()


def _post(body: bytes) -> tuple[int, float]:
    status, ms, _, _ = _post_timed(body)
    return status, ms


def _post_timed(body: bytes) -> tuple[int, float, float, list[str]]:
    """(status, answer ms, wall clock at the answer, incident keys the answer names)."""
    import azure.functions as func

    import function_app

    handler = function_app.alert_webhook.build().get_user_function()
    started = time.perf_counter()
    response = handler(func.HttpRequest("POST", "/api/alerts", body=body, headers={"Content-Type": "application/json"}))
    ms, answered = (time.perf_counter() - started) * 1000, time.time()
    keys: list[str] = []
    if response.status_code == 200:
        keys = json.loads(response.get_body()).get("incidents", [])
    return response.status_code, ms, answered, keys


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def burst_bodies(fired: str, deliveries: int = 200, duplicates: int = 50, tag: str = "bench") -> tuple[list, int]:
    """The burst's bodies, shuffled, and how many distinct alerts they carry."""
    samples = sorted(SAMPLES.glob("*.json"))
    distinct = []
    for i in range(deliveries - duplicates):
        document = json.loads(samples[i % len(samples)].read_text())
        document["data"]["essentials"]["alertId"] += f"-{tag}-{i}"
        document["data"]["essentials"]["firedDateTime"] = fired
        distinct.append(json.dumps(document).encode())
    rng = random.Random(7)
    bodies = distinct + [rng.choice(distinct) for _ in range(duplicates)]
    rng.shuffle(bodies)
    return bodies, len(distinct)


def _deliver(body: bytes) -> list[tuple[int, float, float, list[str]]]:
    """One delivery as Azure makes it (a 503 is retried after 5 s, ...): every answer's status, time, wall clock
    and incident keys."""
    from sandbox.action_group import deliver

    answers: list[tuple[int, float, float, list[str]]] = []

    def post(data: bytes) -> int:
        answers.append(_post_timed(data))
        return answers[-1][0]

    deliver(post, body)
    return answers


def post_all(bodies: list[bytes], workers: int = 8) -> list[list[tuple[int, float, float, list[str]]]]:
    """A warm instance (tables exist, clients built) answers the bodies from `workers` threads at once; a copy
    that meets another copy still being processed is answered 503 and delivered again, as Azure retries it."""
    from shared.entrypoints import alerting_app

    alerting_app().ensure_tables()
    _post(b"[]")
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_deliver, bodies))


def _write_and_read(table, index: int) -> float:
    """The floor of any claim: one raw Table Storage write and one read of it, in ms."""
    started = time.perf_counter()
    table.create_entity({"PartitionKey": "reference", "RowKey": f"r{index:06d}", "Value": index})
    table.get_entity("reference", f"r{index:06d}")
    return (time.perf_counter() - started) * 1000


def burst(sandbox, connection: str, repeats: int = 5) -> dict:
    """`repeats` bursts of 200 POSTs (50 repeating an earlier alert) from 8 threads, each followed by its references
    on the same Azurite: 50 raw table writes + reads one after another (one ratio of p50s per pair), and 200 from
    8 threads (the floor any answer has under the same concurrency: its p99). A consumer process
    (sandbox/queue_host.py, function_app's send_notifications) sends meanwhile, as another instance would."""
    from azure.data.tables import TableServiceClient

    table = TableServiceClient.from_connection_string(connection).create_table_if_not_exists("benchwebhookref")
    times, ratios, answered, distinct_total, statuses, retried = [], [], {}, 0, set(), 0
    floor: list[float] = []
    for repeat in range(repeats):
        bodies, distinct = burst_bodies(sandbox.now.isoformat(), tag=f"bench{repeat}")
        deliveries = post_all(bodies)
        burst_ms = [ms for answers in deliveries for _, ms, _, _ in answers]
        reference = [_write_and_read(table, repeat * 1000 + i) for i in range(50)]
        with ThreadPoolExecutor(8) as pool:
            floor += pool.map(partial(_write_and_read, table), range(repeat * 1000 + 100, repeat * 1000 + 300))
        ratios.append(_percentile(burst_ms, 0.5) / statistics.median(reference))
        times += burst_ms
        distinct_total += distinct
        statuses |= {answers[-1][0] for answers in deliveries}
        retried += sum(len(answers) > 1 for answers in deliveries)
        for answers in deliveries:
            for status, _, wall, keys in answers:
                for key in keys if status == 200 else ():
                    answered.setdefault(key, wall)  # the first 2xx answer that named it
    return {
        "p50": _percentile(times, 0.50),
        "p99": _percentile(times, 0.99),
        "floor_p99": _percentile(floor, 0.99),
        "ratios": ratios,
        "statuses": sorted(statuses),
        "retried": retried,
        "expected_emails": distinct_total,
        "answered": answered,
    }


def emailed_once(sandbox, connection: str, answered: dict[str, float], timeout: float = 120) -> dict:
    """Wait until the queue has sent every answered incident (or `timeout`): emails per incident, and the time
    from the webhook's answer to ACS accepting its email."""
    from azure.data.tables import TableServiceClient

    from shared.app import TABLES
    from shared.azure.tables import Tables
    from shared.outbox.records import Status
    from shared.outbox.store import IncidentStore

    store = IncidentStore(Tables(TableServiceClient.from_connection_string(connection), TABLES))
    deadline = time.monotonic() + timeout
    while True:
        records = {record.key: record for record in store.records() if record.key in answered}
        done = {key: r for key, r in records.items() if r.status in (Status.ACCEPTED, Status.SENT)}
        if len(done) >= len(answered) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    by_operation: dict[str, list[dict]] = {}
    for email in sandbox.emails:
        by_operation.setdefault(email["operation_id"], []).append(email)
    emails_of = {key: by_operation.get(record.operation_id, []) for key, record in done.items()}
    latencies = [(emails[0]["accepted_wall"] - answered[key]) * 1000 for key, emails in emails_of.items() if emails]
    return {
        "incidents": len(answered),
        "sent": len(done),
        "emails": len(sandbox.emails),
        "once": sum(len(emails) == 1 for emails in emails_of.values()),
        "latency_p50": _percentile(latencies, 0.5) if latencies else float("nan"),
        "latency_p99": _percentile(latencies, 0.99) if latencies else float("nan"),
    }


def fuzz(examples: int) -> tuple[int, float, int]:
    """Hypothesis-generated deliveries through the function: (examples run, seconds, answers >= 500)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.integration.webhook.test_flow import _fresh_alert_id
    from tests.unit.webhook.test_payload import payloads

    counts = {"run": 0, "5xx": 0}

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(body=payloads(), suffix=st.uuids())
    def run(body, suffix):  # the payloads include huge integers, extreme datetimes and odd strings
        status, _ = _post(_fresh_alert_id(body, str(suffix)))
        counts["run"] += 1
        counts["5xx"] += status >= 500
        assert status < 500

    started = time.perf_counter()
    run()
    return counts["run"], time.perf_counter() - started, counts["5xx"]
