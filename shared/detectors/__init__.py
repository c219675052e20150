"""THE REGISTRY: every detector, one line each (after ElastAlert2's rules_mapping). It drives the composition root
(which scans exist and how they are built), the CLI's `scan` choices, the renderers (a kind's view and templates),
the digests' titles and the settings contract (each timer's schedule setting).

A new detector: one module here (pure: query, detect, view, SPEC), one line below, its function in
function_app.py, its email templates (shared/channels/email/templates/). docs/architecture.md says more.
"""

from __future__ import annotations

from shared.detectors import (
    azure_monitor_alert,
    compute_changes,
    metric_rules,
    run_failures,
    schedule_check,
    stuck_run_check,
)
from shared.detectors.base import DetectorSpec

DETECTORS: list[DetectorSpec] = [
    run_failures.SPEC,
    compute_changes.SPEC,
    metric_rules.SPEC,
    azure_monitor_alert.SPEC,
    stuck_run_check.SPEC,
    schedule_check.SPEC,
]


def by_kind(kind: str) -> DetectorSpec:
    """The detector of an incident kind; KeyError for a kind no detector makes."""
    for spec in DETECTORS:
        if spec.kind == kind:
            return spec
    raise KeyError(kind)


def by_scan(name: str) -> DetectorSpec:
    """The detector a scan name (CLI, history rows) stands for; KeyError for an unknown name."""
    for spec in DETECTORS:
        if spec.scan == name:
            return spec
    raise KeyError(name)


def scan_names() -> list[str]:
    return [spec.scan for spec in DETECTORS if spec.scan]


def schedule_settings() -> tuple[str, ...]:
    """The timers' schedule settings: read by the Functions host (%NAME% in function_app.py), so part of the
    settings contract (local.settings.sample.json, the README, the Bicep app settings)."""
    return tuple(spec.schedule_setting for spec in DETECTORS if spec.schedule_setting)
