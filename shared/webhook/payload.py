"""Azure Monitor common alert schema: parse and validate a webhook body.

Pure: bytes in, a validated `Alert` (or `Rejected` with the HTTP status and a message that says exactly what is
wrong) out. `essentials` is validated strictly, because de-duplication, routing and the message depend on it.
`alertContext` is validated against the model of its `monitoringService` (contexts.py); a context that does not
match (or an unknown service) still produces a readable generic message (summary.py), because losing an alert over
an unexpected context field is worse than a plainer message.

Shapes follow Microsoft's "Sample alert payloads" (alerts-payload-samples): metric (static, dynamic, availability
test), Log Alerts V2, log alerts V1 (`Log Analytics`, `Application Insights`), activity log (Administrative, Policy,
Autoscale, Security), `Resource Health`, `ServiceHealth`, `SmartDetector`, `Prometheus`, `CostAlerts` (budgets).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.core.text import shorten
from shared.webhook.answers import Rejected
from shared.webhook.contexts import CONTEXT_MODELS, aware, service_key

MAX_BODY_BYTES = 256 * 1024  # Azure Monitor's own limit for a common-schema payload
COMMON_SCHEMA = "azureMonitorCommonAlertSchema"

ENABLE_COMMON_SCHEMA = (
    "Enable the common alert schema on the action group receiver that calls this endpoint: Azure portal > "
    "Monitor > Alerts > Action groups > <group> > Actions > edit the webhook / Azure Function action > "
    "'Enable the common alert schema' = Yes (ARM/Bicep: useCommonAlertSchema: true; "
    "CLI: az monitor action-group update ... --add-action azurefunction ... usecommonalertschema)."
)
_LEGACY_SCHEMAS = {
    "azuremonitormetricalert": "a classic metric alert payload",
    "microsoft.insights/activitylogs": "a classic activity log alert payload",
    "microsoft.insights/logalert": "a classic log alert payload",
}


# --- the envelope and essentials (strict) ------------------------------------------------------------------------


class Essentials(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, str_max_length=4096)

    alert_id: str = Field(alias="alertId", min_length=1)
    alert_rule: str | None = Field(None, alias="alertRule")  # null for budget alerts
    severity: str | None = Field(None, pattern=r"^Sev[0-4]$")
    signal_type: str | None = Field(None, alias="signalType")
    monitor_condition: Literal["Fired", "Resolved"] = Field(alias="monitorCondition")
    monitoring_service: str = Field(alias="monitoringService", min_length=1, max_length=200)
    alert_target_ids: list[str] | None = Field(None, alias="alertTargetIDs", max_length=100)
    configuration_items: list[str] | None = Field(None, alias="configurationItems", max_length=100)
    origin_alert_id: str | None = Field(None, alias="originAlertId")
    fired_at: datetime = Field(alias="firedDateTime")
    resolved_at: datetime | None = Field(None, alias="resolvedDateTime")
    description: str | None = None
    investigation_link: str | None = Field(None, alias="investigationLink")

    _aware_fired = field_validator("fired_at", "resolved_at")(aware)


class AlertData(BaseModel):
    model_config = ConfigDict(extra="allow")

    essentials: Essentials
    alertContext: dict[str, Any] | None = None
    customProperties: dict[str, Any] | None = None


class CommonAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    schemaId: Literal["azureMonitorCommonAlertSchema"]
    data: AlertData


class Alert(BaseModel):
    """A validated common-schema alert: the essentials, the typed context (None if unknown or not matching)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    essentials: Essentials
    raw_context: dict[str, Any]
    custom_properties: dict[str, Any]
    context: Any = None  # one of the _Context models above
    context_problem: str = ""  # why the typed context is missing, for the email and the log

    @property
    def service(self) -> str:
        return self.essentials.monitoring_service

    @property
    def condition(self) -> str:
        return self.essentials.monitor_condition


# --- parsing ------------------------------------------------------------------------------------------------------


def parse_alert(body: bytes) -> Alert:
    """Bytes of a webhook request -> Alert, or Rejected(400/413) saying exactly what is wrong."""
    if len(body) > MAX_BODY_BYTES:
        raise Rejected(
            413,
            f"The body is {len(body)} bytes; a common alert schema payload is at most {MAX_BODY_BYTES} bytes (256 KB).",
        )
    if not body.strip():
        raise Rejected(400, "The body is empty; expected a JSON object in the Azure Monitor common alert schema.")
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Rejected(400, f"The body is not valid JSON ({_json_error(err)}).") from None
    except ValueError:  # json.loads refuses integers longer than Python's int parsing limit
        raise Rejected(
            400,
            f"The body has an integer of more than {sys.get_int_max_str_digits()} digits; no alert field needs one.",
        ) from None
    except RecursionError:
        raise Rejected(400, "The body is not valid JSON (nested too deeply).") from None
    if not isinstance(document, dict):
        raise Rejected(
            400,
            f"The body is a JSON {_json_type(document)}; expected a JSON object in the Azure "
            "Monitor common alert schema.",
        )
    _reject_legacy(document)
    try:
        envelope = CommonAlert.model_validate(document)
    except ValidationError as err:
        raise Rejected(400, "The alert does not match the common alert schema: " + _describe(err)) from None
    except RecursionError:
        raise Rejected(400, "The alert is nested too deeply.") from None
    raw_context = envelope.data.alertContext or {}
    alert = Alert(
        essentials=envelope.data.essentials,
        raw_context=raw_context,
        custom_properties=envelope.data.customProperties or {},
    )
    model = CONTEXT_MODELS.get(service_key(alert.service))
    if model is None:
        alert.context_problem = f"monitoringService {alert.service!r} is not one this app knows in detail"
    else:
        try:
            alert.context = model.model_validate(raw_context)
        except (ValidationError, RecursionError) as err:
            detail = _describe(err, prefix="data.alertContext") if isinstance(err, ValidationError) else "too deep"
            alert.context_problem = f"alertContext does not have the documented {alert.service} shape: {detail}"
    return alert


def _reject_legacy(document: dict[str, Any]) -> None:
    schema = document.get("schemaId")
    if schema == COMMON_SCHEMA:
        return
    if isinstance(schema, str) and schema:
        what = _LEGACY_SCHEMAS.get(schema.lower(), f"a payload with schemaId {schema[:100]!r}")
        raise Rejected(
            400,
            f"This is {what}, not the Azure Monitor common alert schema "
            f"(schemaId must be {COMMON_SCHEMA!r}). {ENABLE_COMMON_SCHEMA}",
        )
    data = document.get("data")
    legacy_log_v1 = "SearchQuery" in document or (isinstance(data, dict) and "SearchQuery" in data)
    if legacy_log_v1 or "schemaId" not in document:
        what = "a classic log alert (V1) payload" if legacy_log_v1 else "a payload without schemaId"
        raise Rejected(
            400,
            f"This is {what}, not the Azure Monitor common alert schema "
            f"(schemaId must be {COMMON_SCHEMA!r}). {ENABLE_COMMON_SCHEMA}",
        )
    raise Rejected(
        400, f"schemaId must be the string {COMMON_SCHEMA!r}, got a JSON {_json_type(schema)}. {ENABLE_COMMON_SCHEMA}"
    )


def _json_error(err: Exception) -> str:
    if isinstance(err, json.JSONDecodeError):
        return f"{err.msg} at line {err.lineno} column {err.colno}"
    return "it is not UTF-8 text"


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _describe(err: ValidationError, prefix: str = "", limit: int = 8) -> str:
    problems = []
    for error in err.errors(include_url=False)[:limit]:
        path = ".".join(str(part) for part in ((prefix,) if prefix else ()) + tuple(error["loc"]))
        given = error.get("input")
        shown = "" if error["type"] == "missing" else f" (got {shorten(repr(given), 80)})"
        problems.append(f"{path}: {error['msg']}{shown}")
    more = err.error_count() - limit
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
