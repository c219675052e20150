"""The webhook's answers where Azure's retry behaviour matters: 503 only when the state store is unreachable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ServiceRequestError

from shared.settings import Settings
from shared.webhook.handler import AlertWebhook, delivery_key, in_allowed_scopes
from tests.unit.test_settings import VALID

SAMPLE = (Path(__file__).resolve().parents[2] / "data" / "common-metric-alert.json").read_bytes()
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class _BrokenDeliveries:
    """The webhook's delivery claims as they behave when the table service cannot be reached (no stand-in fails a
    table call in exactly these ways on demand; the integration tests also use a stopped Azurite)."""

    def __init__(self, error):
        self.error = error

    def begin(self, *args):
        raise self.error


def _webhook(deliveries):
    return AlertWebhook(settings=Settings.from_environ(VALID), deliveries=deliveries, intake=None, delivery=None)


def test_an_unreachable_state_store_is_503_with_retry_after():
    for error in (ServiceRequestError("connection refused"), _http_error(503), _http_error(500)):
        answer = _webhook(_BrokenDeliveries(error)).receive(SAMPLE, {"Content-Type": "application/json"}, NOW)
        assert answer.status == 503 and answer.headers["Retry-After"] == "5"
        assert "state store is unreachable" in answer.body["error"]


def test_every_answer_reports_its_time():
    answer = _webhook(_BrokenDeliveries(ServiceRequestError("x"))).receive(b"[]", {}, NOW)
    assert answer.status == 400 and isinstance(answer.body["ms"], float)


def test_delivery_keys_are_valid_and_separate_fired_from_resolved():
    alert_id = json.loads(SAMPLE)["data"]["essentials"]["alertId"]
    fired, resolved = delivery_key(alert_id, "Fired"), delivery_key(alert_id, "Resolved")
    assert fired.startswith("alert:") and fired.endswith(":Fired") and resolved.endswith(":Resolved")
    assert fired.split(":")[1] == resolved.split(":")[1] and "/" not in fired


def test_allow_list_matches_whole_path_segments_only():
    scopes = ("/subscriptions/00000000-0000-0000-0000-0000000000aa/resourcegroups/rg-ml",)
    inside = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/RG-ML/providers/x/y"
    sibling = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-ml-other/providers/x/y"
    assert in_allowed_scopes([inside], scopes)
    assert not in_allowed_scopes([sibling], scopes)
    assert not in_allowed_scopes([inside, sibling], scopes)
    assert not in_allowed_scopes([], scopes)
    assert in_allowed_scopes([], ())


def _http_error(status):
    error = HttpResponseError(message=f"HTTP {status}")
    error.status_code = status
    return error
