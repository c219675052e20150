"""Rules that are valid but cannot fire (or mute nothing): `rules check` prints them as warnings with the fix.
Pure: the model, the clock, the incident kinds the detectors make and, when known, the Azure ML workspaces there are.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.core.resource_ids import resource_name
from shared.rules import Match, Rules
from shared.rules.messages import did_you_mean
from shared.rules.parts import pattern_matches

_PLACEHOLDER = re.compile(r"<[^<>/]*>|\{[^{}/]*\}")


@dataclass(frozen=True)
class Finding:
    loc: tuple[Any, ...]  # where in the file, as pydantic names fields
    message: str


def cannot_fire(
    rules: Rules, now: datetime, kinds: Sequence[str], workspaces: Sequence[str] | None = None
) -> list[Finding]:
    """`workspaces`: the Azure ML workspaces whose runs are in the logs (None: not known, not checked)."""
    found: list[Finding] = []
    for index, rule in enumerate(rules.metric_rules):
        ids: list[tuple[tuple[Any, ...], str]] = [(("resource_ids", i), rid) for i, rid in enumerate(rule.resource_ids)]
        ids += [(("resource_ids_by_region", region, i), rid) for region, rids in rule.resource_ids_by_region.items()
                for i, rid in enumerate(rids)]  # fmt: skip
        for where, resource_id in ids:
            placeholder = _PLACEHOLDER.search(resource_id)
            if placeholder:
                found.append(
                    Finding(
                        ("metric_rules", index, *where),
                        f"{placeholder[0]} is a placeholder: no resource has this id, so the rule never reads a "
                        "point; put the real resource id (az resource show -g <group> -n <name> --resource-type "
                        "<type> --query id)",
                    )
                )
    matches: list[tuple[tuple[Any, ...], Match]] = [
        (("routes", i, "match"), route.match) for i, route in enumerate(rules.routes)
    ]
    matches += [(("silences", i, "match"), silence.match) for i, silence in enumerate(rules.silences)]
    for where, match in matches:
        found += _label_warnings(where, match, kinds, workspaces)
    for index, silence in enumerate(rules.silences):
        if silence.ends <= now:
            found.append(
                Finding(
                    ("silences", index, "ends"),
                    f"this silence ended {silence.ends:%Y-%m-%d %H:%M} UTC and mutes nothing: remove it",
                )
            )
    if workspaces is not None:
        for section in ("run_failures", "compute_changes"):
            for index, pattern in enumerate(getattr(rules, section).workspaces):
                if not _any_matches(pattern, workspaces):
                    found.append(Finding((section, "workspaces", index), _no_workspace(pattern, workspaces)))
    return found


def _label_warnings(
    where: tuple[Any, ...], match: Match, kinds: Sequence[str], workspaces: Sequence[str] | None
) -> list[Finding]:
    found = []
    if match.kind is not None and not _any_matches(match.kind, kinds):
        found.append(
            Finding(
                (*where, "kind"),
                f"no detector makes kind {match.kind!r}, so this never matches: "
                f"{did_you_mean(match.kind, list(kinds))}",
            )
        )
    if match.workspace is not None and workspaces is not None and not _any_matches(match.workspace, workspaces):
        found.append(Finding((*where, "workspace"), _no_workspace(match.workspace, workspaces)))
    return found


def _any_matches(pattern: str, values: Sequence[str]) -> bool:
    return any(pattern_matches(pattern, value) for value in values)


def _no_workspace(pattern: str, workspaces: Sequence[str]) -> str:
    known = ", ".join(sorted(workspaces)) or "none"
    hint = did_you_mean(pattern, list(workspaces))
    return f"{pattern!r} matches none of the Azure ML workspaces in the logs ({known}), so it never matches: {hint}"


# resource id, namespace -> the metric names there, or why they could not be read
MetricLookup = Callable[[str, str], "list[str] | str"]


def missing_metrics(rules: Rules, lookup: MetricLookup) -> list[Finding]:
    """`rules check --online`: each rule's metric asked of each of its resources. A misspelt metric or namespace
    reads as no series at all from the Metrics batch API, so only the definitions tell it from a quiet metric."""
    found: list[Finding] = []
    for index, rule in enumerate(rules.metric_rules):
        for region_ids in rule.resources_by_region(None).values():
            for resource_id in region_ids:
                if _PLACEHOLDER.search(resource_id):
                    continue  # already a warning
                names = lookup(resource_id, rule.namespace)
                where = resource_name(resource_id)
                if isinstance(names, str):
                    found.append(Finding(("metric_rules", index, "metric"), f"not checked on {where}: {names}"))
                elif not names:
                    found.append(
                        Finding(
                            ("metric_rules", index, "namespace"),
                            f"{where} has no metric in namespace {rule.namespace!r}: check the namespace (a custom "
                            "metric's namespace appears once a value was published)",
                        )
                    )
                elif rule.metric.lower() not in {name.lower() for name in names}:
                    found.append(
                        Finding(
                            ("metric_rules", index, "metric"),
                            f"{where} has no metric {rule.metric!r} in {rule.namespace}, so the rule never reads a "
                            f"point: {did_you_mean(rule.metric, names)}",
                        )
                    )
    return found
