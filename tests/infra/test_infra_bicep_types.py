"""Every resource body in infra/ against Azure's own type definitions (vendored in tests/infra/bicep-types/):
what the Bicep compiler would report, checked offline. The second half mutates the real templates to show
that the check fails on each kind of mistake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .bicep_model import INFRA, REPO, load, load_all
from .bicep_types import TYPES_DIR, check_resource, resource_types, trim
from .refresh_bicep_types import used_types

TEAM_REFERENCE = REPO.parent / "shared" / "reference" / "bicep-types"


def _problems(bicep_file, name: str) -> list[str]:
    symbols = set(bicep_file.resources)
    return [
        problem
        for resource in bicep_file.resources.values()
        for problem in check_resource(resource, bicep_file.target_scope, name, symbols)
    ]


@pytest.mark.parametrize("name", sorted(load_all()))
def test_every_resource_body_matches_azure_types(name: str) -> None:
    assert _problems(load_all()[name], name) == []


def test_the_vendored_types_cover_exactly_what_infra_uses() -> None:
    assert used_types() <= set(resource_types()), "refresh tests/infra/bicep-types (see its README)"
    assert set(resource_types()) <= used_types(), "stale vendored types: refresh tests/infra/bicep-types"


@pytest.mark.skipif(not TEAM_REFERENCE.is_dir(), reason="the team's reference copy is not beside this clone")
def test_the_vendored_types_are_the_reference_trimmed() -> None:
    for vendored in TYPES_DIR.rglob("types.json"):
        source = json.loads((TEAM_REFERENCE / vendored.relative_to(TYPES_DIR)).read_text())
        names = {node["name"].lower() for node in json.loads(vendored.read_text()) if node["$type"] == "ResourceType"}
        assert json.loads(vendored.read_text()) == trim(source, names), vendored


# ---------- the check fails on each kind of mistake ----------


def _problems_after(tmp_path: Path, relative: str, old: str, new: str) -> list[str]:
    source = (INFRA / relative).read_text()
    assert source.count(old) == 1, f"{relative}: {old!r} must occur once"
    mutated = tmp_path / Path(relative).name
    mutated.write_text(source.replace(old, new))
    return _problems(load(mutated), relative)


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        # a misspelled property key, with the real name suggested
        (
            "app/function-app.bicep",
            "    httpsOnly: true",
            "    httpsOnyl: true",
            "properties.httpsOnyl: no such property in SiteProperties (did you mean 'httpsOnly'?)",
        ),
        # a misspelled key nested in an array item
        (
            "app/alerts.bicep",
            "            minFailingPeriodsToAlert:",
            "            minFailingPeriodToAlert:",
            "properties.criteria.allOf[0].failingPeriods.minFailingPeriodToAlert: no such property",
        ),
        # a key in the wrong case
        (
            "app/storage.bicep",
            "    allowBlobPublicAccess: false",
            "    AllowBlobPublicAccess: false",
            "properties.AllowBlobPublicAccess: write it as 'allowBlobPublicAccess'",
        ),
        # a required property left out
        ("app/alerts.bicep", "  location: location\n", "", "failedRunsLogAlert: location: required, but not set"),
        # a read-only property written
        (
            "app/function-app.bicep",
            "    httpsOnly: true",
            "    httpsOnly: true\n    defaultHostName: 'x'",
            "properties.defaultHostName: read-only",
        ),
        # a literal value the type does not allow
        (
            "app/storage.bicep",
            "defaultAction: 'Allow'",
            "defaultAction: 'Permit'",
            "properties.networkAcls.defaultAction: 'Permit' is not allowed; expected one of 'Allow', 'Deny'",
        ),
        # a wrong literal inside a for-expression's item
        (
            "app/aml-workspace.bicep",
            "        enabled: true\n",
            "        enabled: 'yes'\n",
            "properties.logs[*].enabled: expected true or false",
        ),
        # a discriminator value that does not exist
        (
            "app/alerts.bicep",
            "'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'",
            "'Microsoft.Azure.Monitor.SingleResourceMetricCriteria'",
            "properties.criteria.odata.type: 'Microsoft.Azure.Monitor.SingleResourceMetricCriteria'; expected one of",
        ),
        # an API version that does not exist
        (
            "app/identity.bicep",
            "userAssignedIdentities@2023-01-31",
            "userAssignedIdentities@2023-01-32",
            "unknown resource type or API version Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-32",
        ),
        # a resource type deployed at a scope it does not support
        (
            "app/activity-log.bicep",
            "resource activityLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview'",
            "resource activityLog 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01'",
            "cannot be deployed at subscription scope",
        ),
    ],
    ids=[
        "misspelled-key",
        "misspelled-nested-key",
        "key-case",
        "required",
        "read-only",
        "literal",
        "loop-item-literal",
        "discriminator",
        "api-version",
        "scope",
    ],
)
def test_the_check_reports_a_mistake(tmp_path: Path, relative: str, old: str, new: str, expected: str) -> None:
    problems = _problems_after(tmp_path, relative, old, new)
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith(f"{relative}:") for problem in problems), "each problem names file:line"
