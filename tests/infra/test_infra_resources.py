"""What the issue asks of the deployed resources, checked on the Bicep model (offline)."""

from __future__ import annotations

import re

import pytest

from .bicep_model import INFRA, Expr, bicep_files, load_all

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@pytest.fixture(scope="module")
def bicep():
    return load_all()


def _one(bicep_file, type_name):
    (resource,) = bicep_file.resources_of_type(type_name)
    return resource


def test_function_app_is_flex_consumption_https_only_with_user_identity(bicep) -> None:
    function_app = bicep["app/function-app.bicep"]
    plan = _one(function_app, "Microsoft.Web/serverfarms")
    assert plan.body["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    site = _one(function_app, "Microsoft.Web/sites")
    assert site.body["identity"]["type"] == "UserAssigned"
    assert site.body["properties"]["httpsOnly"] is True
    assert site.body["properties"]["siteConfig"]["ftpsState"] == "Disabled"
    insights = _one(bicep["app/monitoring.bicep"], "Microsoft.Insights/components")
    assert insights.body["properties"]["DisableLocalAuth"] is True


def test_action_group_calls_alert_webhook_with_the_common_schema(bicep) -> None:
    alerts = bicep["app/alerts.bicep"]
    (receiver,) = _one(alerts, "Microsoft.Insights/actionGroups").body["properties"]["azureFunctionReceivers"]
    assert receiver["functionName"] == "alert_webhook"
    assert receiver["useCommonAlertSchema"] is True
    assert receiver["httpTriggerUrl"].text == "'https://${functionAppHostName}/api/alerts'"
    assert receiver["functionAppResourceId"].text == "functionAppId"


def test_metric_alert_on_failed_pipeline_runs(bicep) -> None:
    alert = _one(bicep["app/alerts.bicep"], "Microsoft.Insights/metricAlerts")
    (criterion,) = alert.body["properties"]["criteria"]["allOf"]
    assert criterion["metricName"] == "Failed Runs"
    assert criterion["metricNamespace"] == "Microsoft.MachineLearningServices/workspaces"
    assert criterion["dimensions"] == [{"name": "RunType", "operator": "Include", "values": ["PipelineRun"]}]
    assert alert.body["properties"]["actions"] == [{"actionGroupId": Expr("actionGroup.id")}]
    assert alert.loop and "amlWorkspaceIds" in alert.loop


def test_log_alert_v2_with_run_dimensions(bicep) -> None:
    rule = _one(bicep["app/alerts.bicep"], "Microsoft.Insights/scheduledQueryRules")
    assert rule.body["kind"] == "LogAlert"
    (criterion,) = rule.body["properties"]["criteria"]["allOf"]
    assert [d["name"] for d in criterion["dimensions"]] == ["RunId", "RootRunId", "WorkspaceName"]
    query = (INFRA / "app" / "queries" / "failed-runs-alert.kql").read_text()
    assert "AmlRunStatusChangedEvent" in query
    for column in ("RunId", "RootRunId", "WorkspaceName"):
        assert column in query
    assert rule.body["properties"]["actions"] == {"actionGroups": [Expr("actionGroup.id")]}


def test_aml_diagnostic_categories(bicep) -> None:
    aml = bicep["app/aml-workspace.bicep"]
    assert set(aml.variables["amlLogCategories"]) == {
        "AmlRunStatusChangedEvent",
        "AmlComputeJobEvent",
        "AmlComputeClusterEvent",
    }


def test_activity_log_is_exported_from_every_watched_subscription(bicep) -> None:
    activity = bicep["app/activity-log.bicep"]
    assert activity.target_scope == "subscription"
    logs = _one(activity, "Microsoft.Insights/diagnosticSettings").body["properties"]["logs"]
    assert {"category": "Administrative", "enabled": True} in logs
    main = bicep["main.bicep"]
    (export,) = [m for m in main.modules.values() if m.path == "app/activity-log.bicep"]
    # One export per subscription of the watched workspaces (a compute deletion is logged in the
    # workspace's subscription), not just the deployment's subscription.
    assert export.loop and export.loop.split() == ["[", "for", "subscriptionId", "in", "watchedSubscriptionIds:"]
    assert export.condition == (
        "(exportSubscriptionActivityLog && !contains(alreadyExportedSubscriptionIds, subscriptionId))"
    )
    assert export.body["scope"] == Expr("subscription(subscriptionId)")
    variables = {name: value.text for name, value in main.variables.items() if isinstance(value, Expr)}
    assert variables["workspaceSubscriptionIds"] == "[for id in amlWorkspaceIds: toLower(split(id, '/')[2])]"
    assert variables["watchedSubscriptionIds"] == "union(workspaceSubscriptionIds, [])"
    assert variables["alreadyExportedSubscriptionIds"] == "[for id in activityLogAlreadyExported: toLower(id)]"


def test_the_azure_managed_domain_sends_as_do_not_reply(bicep) -> None:
    communication = bicep["app/communication.bicep"]
    domains = communication.resources_of_type("Microsoft.Communication/emailServices/domains")
    managed = {d.body["properties"]["domainManagement"]: d for d in domains}
    assert managed["AzureManaged"].condition is None
    assert managed["CustomerManaged"].condition == "(!empty(customEmailDomain))"
    assert bicep["main.bicep"].params["customEmailDomain"].default == ""
    assert bicep["main.bicep"].params["senderUsername"].default == "DoNotReply"
    # Sender usernames cannot be enabled on an Azure-managed domain: the only one is on the custom domain,
    # and only for a username other than the DoNotReply every domain already has.
    (sender,) = communication.resources_of_type("Microsoft.Communication/emailServices/domains/senderUsernames")
    assert sender.body["parent"] == Expr(managed["CustomerManaged"].symbol)
    assert sender.condition == "(customSenderUsername)"
    variables = communication.variables
    assert variables["defaultSenderUsername"] == "DoNotReply"
    assert variables["useCustomDomain"].text == "!empty(customEmailDomain) && customEmailDomainVerified"
    assert variables["customSenderUsername"].text == (
        "useCustomDomain && toLower(senderUsername) != toLower(defaultSenderUsername)"
    )
    assert variables["senderUsernameInUse"].text == "customSenderUsername ? senderUsername : defaultSenderUsername"
    assert variables["senderDomain"].text == (
        "useCustomDomain ? customEmailDomain : azureManagedDomain.properties.mailFromSenderDomain"
    )
    assert communication.outputs["senderAddress"].text == "'${senderUsernameInUse}@${senderDomain}'"


def test_the_log_alert_is_created_before_its_table_exists(bicep) -> None:
    # AmlRunStatusChangedEvent appears only with the first event; creating the rule validates its query unless
    # told not to (skipQueryValidation exists in scheduledQueryRules@2023-12-01: see the type check).
    rule = _one(bicep["app/alerts.bicep"], "Microsoft.Insights/scheduledQueryRules")
    assert rule.api_version == "2023-12-01"
    assert rule.body["properties"]["skipQueryValidation"] is True


def test_parameters_file_covers_the_required_parameters(bicep) -> None:
    import json

    values = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    main = bicep["main.bicep"]
    required = {name for name, param in main.params.items() if not param.has_default}
    assert required <= set(values), required - set(values)
    assert set(values) <= set(main.params)


@pytest.mark.parametrize("path", bicep_files(), ids=lambda path: path.relative_to(INFRA).as_posix())
def test_no_secrets_or_hard_coded_tenants(path) -> None:
    source = path.read_text()
    assert "listKeys(" not in source and "AccountKey=" not in source, "use the managed identity, not keys"
    # The only GUIDs allowed are built-in role definition ids, named in a `var ...RoleId`.
    for line in source.splitlines():
        if GUID.search(line):
            assert re.match(r"\s*var \w+RoleId = '", line) or "//" in line, f"unexpected GUID: {line.strip()}"
