"""`azd up` in one pass on an empty subscription: the azd version that reads the array parameters, and the
alerting provisioned only after the code it points at is deployed (azure.yaml + infra/main.bicep)."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from .bicep_model import INFRA, REPO, load_all, module_file

# The first azd release that substitutes a JSON string from `azd env set` into an array/object parameter
# (Azure/azure-dev#6694, in the 1.23.4 changelog).
AZD_ARRAY_PARAMETERS = (1, 23, 4)
MARK_CODE_DEPLOYED = "azd env set FUNCTION_CODE_DEPLOYED true"


@pytest.fixture(scope="module")
def azure_yaml() -> dict:
    return yaml.safe_load((REPO / "azure.yaml").read_text())


@pytest.fixture(scope="module")
def parameter_values() -> dict[str, str]:
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    return {name: entry["value"] for name, entry in parameters.items()}


def test_azd_is_new_enough_for_array_parameters(azure_yaml: dict) -> None:
    constraint = azure_yaml["requiredVersions"]["azd"]
    match = re.fullmatch(r">=\s*(\d+)\.(\d+)\.(\d+)", constraint.strip())
    assert match, f"expected a '>= x.y.z' lower bound, got {constraint!r}"
    assert tuple(map(int, match.groups())) >= AZD_ARRAY_PARAMETERS
    assert "1.23.4" in (INFRA / "README.md").read_text(), "infra/README.md states the minimum azd version"


def test_array_parameters_come_from_azd_env_as_json(parameter_values: dict[str, str]) -> None:
    main = load_all()["main.bicep"]
    arrays = [name for name, param in main.params.items() if param.type == "array"]
    assert "amlWorkspaceIds" in arrays
    for name in arrays:
        value = parameter_values.get(name)
        if value is None:
            assert main.params[name].has_default, f"{name} is required but not in main.parameters.json"
            continue
        match = re.fullmatch(r"\$\{([A-Z_]+)(?:=(.*))?\}", value)
        assert match, f"{name}: {value!r} is not an azd environment variable"
        if match.group(2) is not None:
            assert isinstance(json.loads(match.group(2)), list), f"{name}: its default must be a JSON array"


def test_alerting_is_provisioned_after_the_code_is_deployed(azure_yaml: dict, parameter_values) -> None:
    # `azd up`: provision, deploy, then provision again (creates the action group once the function exists).
    steps = [step["azd"] for step in azure_yaml["workflows"]["up"]["steps"]]
    assert steps == ["provision", "deploy --all", "provision"]
    postdeploy = azure_yaml["hooks"]["postdeploy"]
    for shell in ("posix", "windows"):
        assert MARK_CODE_DEPLOYED in (REPO / postdeploy[shell]["run"]).read_text()
    assert parameter_values["functionCodeDeployed"] == "${FUNCTION_CODE_DEPLOYED=false}"
    main = load_all()["main.bicep"]
    assert main.params["functionCodeDeployed"].default is False
    # Every module with an Azure Function receiver waits for the code.
    for module in main.modules.values():
        target = load_all()[module_file(module, "main.bicep")]
        receivers = [
            resource
            for resource in target.resources_of_type("Microsoft.Insights/actionGroups")
            if resource.body.get("properties", {}).get("azureFunctionReceivers")
        ]
        if receivers:
            assert module.condition and "functionCodeDeployed" in module.condition, module.symbol
    assert "functionCodeDeployed" in main.outputs["ACTION_GROUP_ID"].text
