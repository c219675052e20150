"""The rules file (config as code): what is watched and who hears about it. This is its model (pydantic);
rules_yaml.py reads the YAML and names the file and line of each mistake.

Validated as a whole when the app first needs it (and in CI by tests/unit/test_rules.py over the repo's
rules.yaml); a mistake is reported with the file, the line and the field, for example

    rules.yaml:14: metric_rules[0].operator: Input should be 'GreaterThan', 'GreaterThanOrEqual', ...
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from shared.core.links import configured_link
from shared.core.resource_ids import parse_resource_id
from shared.rules.parts import Strict, any_case, pattern_matches
from shared.rules.schedules import ScheduleRules
from shared.rules.stuck_runs import StuckRunRules

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
LABELS = ("kind", "workspace", "experiment", "compute", "rule", "operation")
DEFAULT_CHANNEL = "email"


class RulesError(ValueError):
    """The rules file is invalid; the message names file, line and field for each problem."""


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"{value!r} is not an email address")
    return value


Email = Annotated[str, AfterValidator(_email)]
Link = Annotated[str, AfterValidator(configured_link)]


class Match(Strict):
    """Label matchers with shell-style wildcards (`ws-churn-*`), case-insensitive; all given must match."""

    kind: str | None = None
    workspace: str | None = None
    experiment: str | None = None
    compute: str | None = None
    rule: str | None = None
    operation: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Match:
        if not self.matchers():
            raise ValueError(f"give at least one of {', '.join(LABELS)}")
        return self

    def matchers(self) -> dict[str, str]:
        return {label: value for label in LABELS if (value := getattr(self, label)) is not None}

    def matches(self, labels: dict[str, str]) -> bool:
        return all(pattern_matches(pattern, labels.get(label) or "") for label, pattern in self.matchers().items())


class Route(Strict):
    """`channel: email`, or `channels: [email, teams:ml-oncall]` (TEAMS_WEBHOOK_ML_ONCALL): each target gets its
    own outbox record (docs/channels.md)."""

    match: Match
    recipients: list[Email] = []  # required when email is a target
    also_default: bool = False  # also send to the default recipients
    channel: str | None = None  # one target: a name in the channel table (shared/channels/__init__.py)
    channels: list[str] = []  # several targets: `email`, `teams:<destination>`
    runbook: Link | None = None  # shown in the message: what to do (any https host: shared/core/links.py)
    owner: Link | None = None  # who owns what it matches: an https page or mailto:address

    _known_channel = field_validator("channel")(lambda value, info: value and _known_target(value, info))

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, values: list[str], info: ValidationInfo) -> list[str]:
        if len(set(values)) != len(values):
            raise ValueError("a target is listed twice")
        return [_known_target(value, info) for value in values]

    @model_validator(mode="after")
    def _targets_and_recipients(self) -> Route:
        if self.channel is not None and self.channels:
            raise ValueError("give channel or channels, not both")
        if DEFAULT_CHANNEL in self.targets and not self.recipients:
            raise ValueError("email needs recipients (at least one address)")
        return self

    @property
    def targets(self) -> tuple[str, ...]:
        """`email` and/or `teams:<destination>`, in the order given."""
        return tuple(self.channels) or (self.channel or DEFAULT_CHANNEL,)


def _known_target(value: str, info: ValidationInfo) -> str:
    # The channel table sits above this module; whoever loads the file passes its targets (rules_yaml.py):
    # channel names, and `teams:<destination>` for each configured Teams destination.
    known = (info.context or {}).get("channels", (DEFAULT_CHANNEL,))
    if value not in known:
        raise ValueError(f"{value!r} is not a channel: use one of {', '.join(known)}")
    return value


class Silence(Strict):
    match: Match
    starts: datetime | None = None
    ends: datetime
    reason: str = Field(min_length=3)
    author: str = ""  # who added it (the CLI's --author, or who was signed in); as they said, not a proof
    id: str = ""  # set for silences stored in Table Storage (added from the CLI)

    @model_validator(mode="after")
    def _aware_and_ordered(self) -> Silence:
        for moment in (self.starts, self.ends):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("times need a timezone, e.g. 2026-12-01T00:00:00Z")
        if self.starts is not None and self.starts >= self.ends:
            raise ValueError("starts must be before ends")
        return self

    def active(self, now: datetime) -> bool:
        return (self.starts is None or self.starts <= now) and now < self.ends

    def describe(self) -> str:
        matchers = ", ".join(f"{k}={v}" for k, v in self.match.matchers().items())
        name = f"silence {self.id}" if self.id else "silence"
        by = f" (by {self.author})" if self.author else ""
        return f"{name} [{matchers}] until {self.ends:%Y-%m-%d %H:%M} UTC: {self.reason}{by}"


class RunFailureRules(Strict):
    workspaces: list[str] = []  # Azure ML workspace names (wildcards); empty: every workspace
    statuses: list[str] = Field(default=["Failed"], min_length=1)  # run statuses that make an incident


COMPUTE_DELETE = "Microsoft.MachineLearningServices/workspaces/computes/delete"


class ComputeChangeRules(Strict):
    operations: list[str] = Field(default=[COMPUTE_DELETE], min_length=1)
    workspaces: list[str] = []


_OPERATORS = ("GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual")
_AGGREGATIONS = ("Total", "Average", "Minimum", "Maximum", "Count")
# Written in any case (`average`), stored as the Metrics API spells them.
Operator = Annotated[
    Literal["GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual"], BeforeValidator(any_case(*_OPERATORS))
]
Aggregation = Annotated[
    Literal["Total", "Average", "Minimum", "Maximum", "Count"], BeforeValidator(any_case(*_AGGREGATIONS))
]

# The Metrics batch API (getBatch) reads at most 50 resources per call, all of one subscription, region and
# resource type, at one of these time grains (Microsoft Learn: "Migrate from the metrics API to the getBatch
# API", batching restrictions; the grains are the service's answer to any other interval).
BATCH_LIMIT = 50
TIME_GRAINS = {
    "PT1M": timedelta(minutes=1),
    "PT5M": timedelta(minutes=5),
    "PT15M": timedelta(minutes=15),
    "PT30M": timedelta(minutes=30),
    "PT1H": timedelta(hours=1),
    "PT6H": timedelta(hours=6),
    "PT12H": timedelta(hours=12),
    "P1D": timedelta(days=1),
}
_REGION = re.compile(r"^[a-z][a-z0-9]*$")


def resource_scope(resource_id: str) -> tuple[str, str]:
    """(subscription, resource type) of a resource id, lower-cased: what one batch call must share besides the
    region. `.../providers/Microsoft.Sql/servers/s/databases/d` is of type `microsoft.sql/servers/databases`."""
    parsed = parse_resource_id(resource_id)
    if parsed is None or parsed.resource_group is None:
        raise ValueError(
            f"{resource_id!r} is not a resource id "
            "(/subscriptions/<id>/resourceGroups/<group>/providers/<namespace>/<type>/<name>)"
        )
    return parsed.subscription.lower(), parsed.type


def _resource_id(value: str) -> str:
    resource_scope(value)
    return value


def _fits_batch_calls(resource_ids: list[str]) -> list[str]:
    """Resources of one region: each (subscription, type) becomes one batch call, so at most BATCH_LIMIT each."""
    seen: set[str] = set()
    per_call: dict[tuple[str, str], int] = {}
    for resource_id in resource_ids:
        if resource_id.lower() in seen:
            raise ValueError(f"{resource_id!r} is listed twice")
        seen.add(resource_id.lower())
        scope = resource_scope(resource_id)
        per_call[scope] = per_call.get(scope, 0) + 1
    for (subscription, resource_type), count in per_call.items():
        if count > BATCH_LIMIT:
            raise ValueError(
                f"{count} resource ids of type {resource_type} in subscription {subscription}: the Metrics batch "
                f"API reads at most {BATCH_LIMIT} per call (one subscription, region and resource type); split "
                "them over two rules"
            )
    return resource_ids


def _region(value: str) -> str:
    # Lower case only, as Azure writes them: `WestEurope` and `westeurope` as two keys would be one region.
    if not _REGION.match(value):
        raise ValueError(
            f"{value!r} is not an Azure region name (westeurope, eastus2, ...: the names that "
            "`az account list-locations --query [].name` prints)"
        )
    return value


def _time_grain(value: timedelta) -> timedelta:
    if value not in TIME_GRAINS.values():
        minutes, seconds = divmod(int(value.total_seconds()), 60)
        given = f"PT{minutes}M{seconds}S".replace("M0S", "M").replace("PT0M", "PT")
        raise ValueError(f"{given} is not a time grain of the Metrics API: use one of {', '.join(TIME_GRAINS)}")
    return value


ResourceIds = Annotated[list[Annotated[str, AfterValidator(_resource_id)]], AfterValidator(_fits_batch_calls)]
Region = Annotated[str, AfterValidator(_region)]


class MetricRule(Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
    # Where the resources are: `resource_ids` in `region` (default: the METRICS_REGION setting), or
    # `resource_ids_by_region` for resources in several regions. Each region is read from its own endpoint.
    region: Region | None = None
    resource_ids: ResourceIds = []
    resource_ids_by_region: dict[Region, Annotated[ResourceIds, Field(min_length=1)]] = {}
    namespace: str = Field(min_length=3)
    metric: str = Field(min_length=1)
    aggregation: Aggregation
    operator: Operator
    threshold: float
    filter: str | None = None  # Metrics API $filter on dimensions, e.g. "RunType eq 'PipelineRun'"
    interval: Annotated[timedelta, AfterValidator(_time_grain)] = timedelta(minutes=5)
    consecutive: int = Field(default=3, ge=1, le=60)  # breaching points in a row before firing (and OK to resolve)
    repeat_every: timedelta | None = timedelta(hours=4)  # remind while it keeps firing; null: never
    description: str = ""

    @model_validator(mode="after")
    def _resources_in_one_place(self) -> MetricRule:
        if bool(self.resource_ids) == bool(self.resource_ids_by_region):
            raise ValueError(
                "give resource_ids (in region, default METRICS_REGION) or resource_ids_by_region "
                "(region: [ids]), one of them"
            )
        if self.region is not None and self.resource_ids_by_region:
            raise ValueError("region applies to resource_ids; resource_ids_by_region names its own regions")
        regions_of = Counter(rid.lower() for ids in self.resource_ids_by_region.values() for rid in ids)
        twice = sorted(rid for rid, count in regions_of.items() if count > 1)
        if twice:
            raise ValueError(f"a resource is in one region only: {', '.join(twice)} is listed under two")
        return self

    def resources_by_region(self, default_region: str | None) -> dict[str | None, list[str]]:
        """Region -> resource ids; None when the rule names no region and there is no default."""
        by_region: dict[str | None, list[str]] = {region: ids for region, ids in self.resource_ids_by_region.items()}
        return by_region or {self.region or default_region: list(self.resource_ids)}

    def breaches(self, value: float) -> bool:
        return {
            "GreaterThan": value > self.threshold,
            "GreaterThanOrEqual": value >= self.threshold,
            "LessThan": value < self.threshold,
            "LessThanOrEqual": value <= self.threshold,
        }[self.operator]


class Rules(Strict):
    storm_limit: int = Field(default=20, ge=1)  # emails per tick; above it, one digest replaces them
    run_failures: RunFailureRules = RunFailureRules()
    compute_changes: ComputeChangeRules = ComputeChangeRules()
    metric_rules: list[MetricRule] = []
    stuck_runs: StuckRunRules = StuckRunRules()
    schedules: ScheduleRules = ScheduleRules()
    routes: list[Route] = []  # first match wins; no match: the default recipients (EMAIL_RECIPIENTS)
    silences: list[Silence] = []

    @model_validator(mode="after")
    def _unique_rule_names(self) -> Rules:
        names = [rule.name for rule in self.metric_rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"metric rule names must be unique: {', '.join(duplicates)}")
        return self
