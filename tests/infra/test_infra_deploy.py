"""The deploy page is complete: every parameter of infra/main.bicep can be set with `azd env set` and is listed,
with its variable, in docs/deploy.md (the one deploy page, linked from infra/README.md)."""

from __future__ import annotations

import json
import re

import pytest

from .bicep_model import INFRA, REPO, load_all

DEPLOY_PAGE = REPO / "docs" / "deploy.md"
VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?:=([^}]*))?\}")


@pytest.fixture(scope="module")
def variables() -> dict[str, tuple[str, str | None]]:
    """parameter -> (azd environment variable, its default in main.parameters.json or None)."""
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    found = {}
    for name, entry in parameters.items():
        match = VARIABLE.fullmatch(entry["value"]) if isinstance(entry.get("value"), str) else None
        assert match, f"{name}: {entry!r} is not one azd environment variable"
        found[name] = (match.group(1), match.group(2))
    return found


def test_every_parameter_has_an_azd_variable(variables) -> None:
    main = load_all()["main.bicep"]
    assert set(main.params) - set(variables) == set(), "parameters `azd env set` cannot reach"
    assert set(variables) <= set(main.params)
    names = [variable for variable, _ in variables.values()]
    assert len(names) == len(set(names)), "two parameters share a variable"


def test_object_parameters_have_no_default_in_the_mapping(variables) -> None:
    # azd's substitution (drone/envsubst) ends `${VAR=default}` at the first `}`, so `${X={}}` would append a stray
    # `}` to any value set; without a default an unset variable leaves the parameter out and the Bicep default applies.
    main = load_all()["main.bicep"]
    for name, param in main.params.items():
        if param.type == "object":
            assert variables[name][1] is None, name


def test_the_deploy_page_lists_every_parameter_with_its_variable(variables) -> None:
    page = DEPLOY_PAGE.read_text()
    rows = {line for line in page.splitlines() if line.startswith("| `")}
    for name, (variable, _) in variables.items():
        assert any(f"`{variable}` (`{name}`)" in row for row in rows), f"{name} ({variable}) is not in docs/deploy.md"
    assert "1.23.4" in page  # the minimum azd version
    for heading in (
        "## What you need",
        "## Parameters",
        "## What it creates",
        "## What it costs",
        "## Bring your own Communication Services or Application Insights",
        "## Self-monitoring: hearing when the app itself fails",
    ):
        assert heading in page
    assert "docs/deploy.md" in (INFRA / "README.md").read_text()
