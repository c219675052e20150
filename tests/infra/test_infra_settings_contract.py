"""Contract between the code and the infrastructure.

- Every setting the code reads (shared.settings.SETTINGS + HOST_SETTINGS) is set by the Bicep app settings
  and present in local.settings.sample.json; the Bicep sets no setting the code does not read.
- Every role the code needs is assigned to the Function App's managed identity, on the narrowest scope.
"""

from __future__ import annotations

import json
import re

import pytest

from shared.app import ALL_SETTINGS

from .bicep_model import REPO, BicepFile, Expr, Resource, load_all, module_file

CODE_SETTINGS = ALL_SETTINGS

# Settings that Flex Consumption with managed identity provides another way (asserted separately below).
REPLACED_IN_AZURE = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}

# Settings the Bicep sets for the Functions host or the platform, not read by the app code.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__queueServiceUri",  # the queue triggers' connection (the app derives it from the name)
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

# Built-in role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
LOG_ANALYTICS_READER = "73c42c96-874c-492b-b04d-ab87d138a893"
MONITORING_READER = "43d0d8ad-25c7-4714-9337-8ba259a9fe05"
STORAGE_TABLE_DATA_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
STORAGE_BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
# What the ACS email docs list for sending mail with an Entra ID identity through a custom role.
EMAIL_SEND_ACTIONS = {
    "Microsoft.Communication/CommunicationServices/Read",
    "Microsoft.Communication/CommunicationServices/Write",
    "Microsoft.Communication/EmailServices/write",
}
# Run history's and the schedules check's reads on one Azure ML workspace: no write, no datastore secrets.
RUN_HISTORY_READ_ACTIONS = {
    "Microsoft.MachineLearningServices/workspaces/read",
    "Microsoft.MachineLearningServices/workspaces/jobs/read",
    "Microsoft.MachineLearningServices/workspaces/experiments/read",
    "Microsoft.MachineLearningServices/workspaces/experiments/runs/read",
    "Microsoft.MachineLearningServices/workspaces/metadata/artifacts/read",
    "Microsoft.MachineLearningServices/workspaces/schedules/read",
}

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)

# Settings whose Azure value deliberately differs from the local sample: (Bicep value, sample value).
AZURE_ONLY_VALUES = {
    # In Azure only the user-assigned managed identity; locally DefaultAzureCredential (`az login`).
    "AZURE_CREDENTIAL": ("managed-identity", "default"),
}


@pytest.fixture(scope="module")
def bicep() -> dict[str, BicepFile]:
    return load_all()


@pytest.fixture(scope="module")
def sample_values() -> dict[str, str]:
    return json.loads((REPO / "local.settings.sample.json").read_text())["Values"]


@pytest.fixture(scope="module")
def app_setting_names(bicep) -> set[str]:
    """Names of all app settings the Bicep gives the Function App."""
    main, function_app = bicep["main.bicep"], bicep["app/function-app.bicep"]
    # main.bicep passes its appSettings object (plus optional overrides) to the function-app module...
    module = _module_for(main, "main.bicep", "app/function-app.bicep")
    assert _text(module.params["appSettings"]) == "union(appSettings, appSettingOverrides)"
    # ...which merges it with the host settings and writes them all into siteConfig.appSettings.
    assert _text(function_app.variables["allAppSettings"]) == "union(hostSettings, appSettings)"
    site = _only(function_app.resources_of_type("Microsoft.Web/sites"))
    assert _text(site.body["properties"]["siteConfig"]["appSettings"]) == "concat(appSettingsList, teamsAppSettings)"
    written = _text(function_app.variables["appSettingsList"])
    assert re.search(r"for \w+ in items\(allAppSettings\)", written), written
    return set(main.variables["appSettings"]) | set(function_app.variables["hostSettings"])


@pytest.mark.parametrize("name", sorted(set(CODE_SETTINGS) - REPLACED_IN_AZURE))
def test_setting_read_by_the_code_is_set_by_bicep(name: str, app_setting_names: set[str]) -> None:
    assert name in app_setting_names, f"{name} is read by the code but not set in infra/main.bicep appSettings"


@pytest.mark.parametrize("name", CODE_SETTINGS)
def test_setting_read_by_the_code_is_in_the_sample(name: str, sample_values: dict[str, str]) -> None:
    assert name in sample_values, f"{name} is read by the code but missing from local.settings.sample.json"


def test_bicep_sets_no_setting_the_code_does_not_read(app_setting_names: set[str]) -> None:
    assert app_setting_names - set(CODE_SETTINGS) - PLATFORM_SETTINGS == set()


def test_teams_webhooks_are_key_vault_references_resolved_by_the_app_identity(bicep) -> None:
    # TEAMS_WEBHOOK_<NAME> (shared/channels/teams/destinations.py) hold a signed URL: only ever a Key Vault
    # reference, resolved with the user-assigned identity, never a plain value in the template or its parameters.
    main, function_app = bicep["main.bicep"], bicep["app/function-app.bicep"]
    module = _module_for(main, "main.bicep", "app/function-app.bicep")
    assert _text(module.params["teamsWebhookSecrets"]) == "teamsWebhookSecrets"
    assert main.params["teamsWebhookSecrets"].default == {}
    teams = " ".join(_text(function_app.variables["teamsAppSettings"]).split())
    assert "for secret in items(teamsWebhookSecrets)" in teams
    assert "name: 'TEAMS_WEBHOOK_${secret.key}'" in teams
    assert "value: '@Microsoft.KeyVault(SecretUri=${secret.value})'" in teams
    site = _only(function_app.resources_of_type("Microsoft.Web/sites"))
    assert _text(site.body["properties"]["keyVaultReferenceIdentity"]) == "identityId"


def test_host_storage_is_identity_based(bicep, app_setting_names: set[str]) -> None:
    # AzureWebJobsStorage would be a connection string with an account key: replaced by the identity triple,
    # whose account name is also where the app finds its state tables (shared/settings.py).
    assert "AzureWebJobsStorage" not in app_setting_names
    host = bicep["app/function-app.bicep"].variables["hostSettings"]
    assert _text(host["AzureWebJobsStorage__accountName"]) == "storageAccountName"
    assert host["AzureWebJobsStorage__credential"] == "managedidentity"
    assert _text(host["AzureWebJobsStorage__clientId"]) == "identityClientId"
    main = bicep["main.bicep"]
    params = _module_for(main, "main.bicep", "app/function-app.bicep").params
    assert _text(params["identityClientId"]) == "identity.outputs.clientId"
    assert _text(params["storageAccountName"]) == "storage.outputs.name"
    assert _text(main.variables["appSettings"]["AZURE_CLIENT_ID"]) == "identity.outputs.clientId"
    storage = _only(bicep["app/storage.bicep"].resources_of_type("Microsoft.Storage/storageAccounts"))
    assert storage.body["properties"]["allowSharedKeyAccess"] is False


def test_worker_runtime_comes_from_function_app_config(bicep, app_setting_names: set[str]) -> None:
    # Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME as an app setting; the runtime is set here instead.
    assert "FUNCTIONS_WORKER_RUNTIME" not in app_setting_names
    function_app = bicep["app/function-app.bicep"]
    config = _only(function_app.resources_of_type("Microsoft.Web/sites")).body["properties"]["functionAppConfig"]
    assert config["runtime"]["name"] == "python"
    assert _text(config["runtime"]["version"]) == "pythonVersion"
    assert function_app.params["pythonVersion"].default == "3.11"
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"


def test_sample_values_agree_with_bicep_defaults(bicep, sample_values: dict[str, str]) -> None:
    main = bicep["main.bicep"]
    for name, value in main.variables["appSettings"].items():
        if name in AZURE_ONLY_VALUES:
            assert (value, sample_values[name]) == AZURE_ONLY_VALUES[name], name
        elif isinstance(value, str):
            assert sample_values[name] == value, name
        elif re.fullmatch(r"\w+", value.text) and main.params.get(value.text, None) is not None:
            default = main.params[value.text].default
            if isinstance(default, str):
                assert sample_values[name] == default, name
    assert sample_values["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_regional_and_identity_values(bicep) -> None:
    settings = bicep["main.bicep"].variables["appSettings"]
    # The user-assigned identity by its client id, never a developer-credential chain (shared/credentials.py).
    assert settings["AZURE_CREDENTIAL"] == "managed-identity"
    assert _text(settings["AZURE_CLIENT_ID"]) == "identity.outputs.clientId"
    assert settings["METRICS_ENDPOINT"] == "https://{region}.metrics.monitor.azure.com"
    assert _text(settings["METRICS_REGION"]) == "empty(metricsRegion) ? location : metricsRegion"
    # The workspace GUID (customerId), not the resource id.
    assert _text(settings["LOG_ANALYTICS_WORKSPACE_IDS"]) == "logAnalyticsAccess.outputs.customerId"
    access = bicep["app/log-analytics-access.bicep"]
    assert _text(access.outputs["customerId"]) == "workspace.properties.customerId"
    # The endpoint of the Communication Services resource the app may send through (new or existing).
    assert _text(settings["ACS_ENDPOINT"]) == "emailSenderAccess.outputs.endpoint"
    sender_access = bicep["app/email-sender-access.bicep"]
    assert _text(sender_access.outputs["endpoint"]) == "'https://${communicationService.properties.hostName}'"


# ---------- Roles ----------


def _role_assignments(bicep: dict[str, BicepFile]) -> list[tuple[str, Resource, str]]:
    """(file, role assignment, resolved role id or role-definition resource symbol) for every assignment."""
    found = []
    for name, bicep_file in bicep.items():
        for assignment in bicep_file.resources_of_type("Microsoft.Authorization/roleAssignments"):
            role = _text(assignment.body["properties"]["roleDefinitionId"])
            match = re.fullmatch(r"subscriptionResourceId\('Microsoft\.Authorization/roleDefinitions', (\w+)\)", role)
            if match:
                variable = bicep_file.variables.get(match.group(1))
                assert isinstance(variable, str) and GUID.fullmatch(variable), f"{name}: {role}"
                found.append((name, assignment, variable.lower()))
            else:
                match = re.fullmatch(r"(\w+)\.id", role)
                assert match and match.group(1) in bicep_file.resources, f"{name}: unexpected roleDefinitionId {role}"
                found.append((name, assignment, match.group(1)))
    return found


def _assert_granted_to_app_identity(bicep, name: str, assignment: Resource) -> None:
    properties = assignment.body["properties"]
    assert _text(properties["principalId"]) == "principalId", f"{name}: {assignment.symbol}"
    assert properties["principalType"] == "ServicePrincipal"
    assert "principalId" in bicep[name].params
    main = bicep["main.bicep"]
    module = _module_for(main, "main.bicep", name)
    assert _text(module.params["principalId"]) == "identity.outputs.principalId", f"{name} gets another principal"
    identity = bicep["app/identity.bicep"]
    assert _text(identity.outputs["principalId"]) == "identity.properties.principalId"
    assert _only(identity.resources_of_type("Microsoft.ManagedIdentity/userAssignedIdentities"))
    # The same identity runs the Function App.
    function_app = _module_for(main, "main.bicep", "app/function-app.bicep")
    assert _text(function_app.params["identityId"]) == "identity.outputs.id"


def _scope_type(bicep, name: str, assignment: Resource) -> str:
    scope = _text(assignment.body["scope"])
    return bicep[name].resources[scope].type_name


@pytest.mark.parametrize(
    ("role", "scope_type", "why"),
    [
        (LOG_ANALYTICS_READER, "Microsoft.OperationalInsights/workspaces", "query the AML logs"),
        (MONITORING_READER, "Microsoft.MachineLearningServices/workspaces", "read the workspace metrics"),
        (STORAGE_TABLE_DATA_CONTRIBUTOR, "Microsoft.Storage/storageAccounts", "read/write the state tables"),
        (STORAGE_BLOB_DATA_OWNER, "Microsoft.Storage/storageAccounts", "identity-based host storage"),
    ],
)
def test_builtin_role_is_assigned_to_the_app_identity(bicep, role: str, scope_type: str, why: str) -> None:
    matches = [
        (name, assignment)
        for name, assignment, role_id in _role_assignments(bicep)
        if role_id == role and not _to_on_call_group(assignment)
    ]
    assert matches, f"no role assignment of {role} ({why})"
    for name, assignment in matches:
        _assert_granted_to_app_identity(bicep, name, assignment)
        assert _scope_type(bicep, name, assignment) == scope_type, f"{role} must be scoped to a {scope_type}"


@pytest.mark.parametrize(
    ("scope_type", "expected_actions"),
    [
        ("Microsoft.Communication/communicationServices", EMAIL_SEND_ACTIONS),
        ("Microsoft.MachineLearningServices/workspaces", RUN_HISTORY_READ_ACTIONS),
    ],
    ids=["email-send", "run-history-read"],
)
def test_custom_role_is_assigned_to_the_app_identity(bicep, scope_type: str, expected_actions: set[str]) -> None:
    matches = []
    for name, assignment, role in _role_assignments(bicep):
        definition = bicep[name].resources.get(role)
        is_custom = definition is not None and definition.type_name == "Microsoft.Authorization/roleDefinitions"
        if is_custom and _scope_type(bicep, name, assignment) == scope_type:
            matches.append((name, assignment, definition))
    assert len(matches) == 1, f"one custom role assignment on a {scope_type} expected"
    name, assignment, definition = matches[0]
    _assert_granted_to_app_identity(bicep, name, assignment)
    (permission,) = definition.body["properties"]["permissions"]
    actions = permission["actions"]
    if isinstance(actions, Expr):
        actions = bicep[name].variables[actions.text]
    assert set(actions) == expected_actions, "least privilege: exactly the documented actions"
    assert not permission.get("dataActions")


def _to_on_call_group(assignment: Resource) -> bool:
    return _text(assignment.body["properties"]["principalId"]) == "onCallGroupObjectId"


def test_every_role_assignment_goes_to_the_app_identity_or_the_on_call_group(bicep) -> None:
    for name, assignment, _ in _role_assignments(bicep):
        if not _to_on_call_group(assignment):
            _assert_granted_to_app_identity(bicep, name, assignment)


def test_the_on_call_group_may_write_the_silences_table_and_nothing_else(bicep) -> None:
    from shared.silences import TABLES as SILENCE_TABLES

    granted = [
        (name, assignment, role) for name, assignment, role in _role_assignments(bicep) if _to_on_call_group(assignment)
    ]
    [(name, assignment, role)] = granted
    assert role == STORAGE_TABLE_DATA_CONTRIBUTOR  # read, add and delete entities; no account or blob access
    properties = assignment.body["properties"]
    assert properties["principalType"] == "Group"
    assert assignment.condition == "(!empty(onCallGroupObjectId))"  # nobody unless a group is named
    # Scoped to one table, the narrowest scope a Storage data role takes, and that table is the silences.
    table = bicep[name].resources[_text(assignment.body["scope"])]
    assert table.type_name == "Microsoft.Storage/storageAccounts/tableServices/tables" and table.existing
    assert _text(table.body["name"]) == "onCallTableName"
    main = bicep["main.bicep"]
    params = _module_for(main, "main.bicep", name).params
    assert _text(params["onCallTableName"]) == "silencesTable" and [main.variables["silencesTable"]] == list(
        SILENCE_TABLES
    )
    assert _text(params["onCallGroupObjectId"]) == "onCallGroupObjectId"
    assert main.params["onCallGroupObjectId"].default == ""


def test_every_role_assignment_is_commented_with_why(bicep) -> None:
    for name, assignment, _ in _role_assignments(bicep):
        source = bicep[name].path.read_text()
        before = source[: source.index(f"resource {assignment.symbol} ")].rstrip().splitlines()
        assert before and before[-1].lstrip().startswith("//"), f"{name}: {assignment.symbol} has no comment"


def test_no_broad_or_unneeded_roles(bicep) -> None:
    owner, contributor, reader = (
        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        "b24988ac-6180-42a0-ab88-20f7382dd24c",
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    )
    acs_owner = "09976791-48a7-449e-bb21-39d1a415f350"  # broader than sending email
    roles = {role for _, _, role in _role_assignments(bicep)}
    assert roles.isdisjoint({owner, contributor, reader, acs_owner})
    for bicep_file in bicep.values():
        for assignment in bicep_file.resources_of_type("Microsoft.Authorization/roleAssignments"):
            assert "scope" in assignment.body, f"{assignment.symbol} would apply to the whole resource group"


# ---------- helpers ----------


def _text(value) -> str:
    assert isinstance(value, Expr), f"expected an expression, got {value!r}"
    return value.text


def _only(items: list):
    assert len(items) == 1, items
    return items[0]


def _module_for(bicep_file: BicepFile, declared_in: str, target: str):
    modules = [m for m in bicep_file.modules.values() if module_file(m, declared_in) == target]
    assert len(modules) == 1, f"{declared_in} must declare exactly one module for {target}"
    return modules[0]


def test_the_app_queues_and_their_poison_twins_are_created_by_bicep_with_the_queue_role(bicep) -> None:
    import json

    import function_app
    from shared.azure.queues import MAX_DEQUEUE_COUNT, QUEUES

    main = bicep["main.bicep"]
    assert tuple(main.variables["appQueues"]) == QUEUES
    assert _text(_module_for(main, "main.bicep", "app/storage.bicep").params["queueNames"]) == "appQueues"
    triggers = {
        f.get_trigger().get_dict_repr()["queueName"]
        for f in (b.build() for b in vars(function_app).values() if hasattr(b, "build"))
        if f.get_trigger().get_binding_name() == "queueTrigger"
    }
    assert triggers == set(QUEUES)
    storage = bicep["app/storage.bicep"]
    names = [
        q.body["name"] for q in storage.resources_of_type("Microsoft.Storage/storageAccounts/queueServices/queues")
    ]
    assert sorted(map(_text, names)) == ["'${queueName}-poison'", "queueName"]
    queue_contributor = "974c5e8b-45b9-4653-ba55-5f855dd0fb88"  # the trigger updates messages: Processor lacks it
    assert queue_contributor in {role for _, _, role in _role_assignments(bicep)}
    host = json.loads((REPO / "host.json").read_text())["extensions"]["queues"]
    assert (host["maxDequeueCount"], host["messageEncoding"]) == (MAX_DEQUEUE_COUNT, "base64")


def test_state_tables_are_created_by_bicep(bicep) -> None:
    from shared.app import TABLES

    variables = bicep["main.bicep"].variables
    created = [variables[name.text] if isinstance(name, Expr) else name for name in variables["stateTables"]]
    assert _text(_module_for(bicep["main.bicep"], "main.bicep", "app/storage.bicep").params["tableNames"]) == (
        "stateTables"
    )
    assert set(TABLES) <= set(created), "a table the code uses is not created by infra/main.bicep"
