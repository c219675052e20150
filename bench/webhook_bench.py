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
    import azure.functions as func

    import function_app

    handler = function_app.alert_webhook.build().get_user_function()
    started = time.perf_counter()
    response = handler(func.HttpRequest("POST", "/api/alerts", body=body,
                                        headers={"Content-Type": "application/json"}))
    return response.status_code, (time.perf_counter() - started) * 1000


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


def _deliver(body: bytes) -> list[tuple[int, float]]:
    """One delivery as Azure makes it (a 503 is retried after 5 s, ...): every answer's status and time."""
    from sandbox.action_group import deliver

    answers: list[tuple[int, float]] = []

    def post(data: bytes) -> int:
        answers.append(_post(data))
        return answers[-1][0]

    deliver(post, body)
    return answers


def post_all(bodies: list[bytes], workers: int = 8) -> list[list[tuple[int, float]]]:
    """A warm instance (tables exist, clients built) answers the bodies from `workers` threads at once; a copy
    that meets another copy still being processed is answered 503 and delivered again, as Azure retries it."""
    from shared.entrypoints import alerting_app

    alerting_app().state.ensure_tables()
    _post(b"[]")
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(_deliver, bodies))


def burst(sandbox, connection: str) -> dict:
    """200 POSTs, of which 50 repeat an earlier alert, from 8 threads at once."""
    from azure.data.tables import TableServiceClient

    bodies, distinct = burst_bodies(sandbox.now.isoformat())
    deliveries = post_all(bodies)
    times = [ms for answers in deliveries for _, ms in answers]
    # Reference: one Table Storage point read against the same Azurite, the floor of any claim.
    table = TableServiceClient.from_connection_string(connection).get_table_client("webhookdeliveries")
    reads = []
    for _ in range(50):
        started = time.perf_counter()
        list(table.query_entities("PartitionKey eq 'none'"))
        reads.append((time.perf_counter() - started) * 1000)
    return {
        "p50": _percentile(times, 0.50), "p99": _percentile(times, 0.99), "read_p50": statistics.median(reads),
        "statuses": sorted({answers[-1][0] for answers in deliveries}), "emails": len(sandbox.emails),
        "retried": sum(len(answers) > 1 for answers in deliveries),
        "expected_emails": distinct,
    }


def fuzz(examples: int) -> tuple[int, float, int]:
    """Hypothesis-generated deliveries through the function: (examples run, seconds, answers >= 500)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.integration.test_alert_webhook_flow import _fresh_alert_id
    from tests.unit.test_alert_payload import payloads

    counts = {"run": 0, "5xx": 0}

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(body=payloads(), suffix=st.uuids())
    def run(body, suffix):  # the payloads include huge integers, extreme datetimes and odd strings
        status, _ = _post(_fresh_alert_id(body, str(suffix)))
        counts["run"] += 1
        counts["5xx"] += status >= 500
        assert status < 500

    started = time.perf_counter()
    run()
    return counts["run"], time.perf_counter() - started, counts["5xx"]
