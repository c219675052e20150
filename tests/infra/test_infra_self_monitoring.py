"""The self-monitoring in the Bicep (offline): alert rules on the app's own failures, read from its Application
Insights, to an action group that does not depend on the app. What the queries find is tested against the code's
real log records in tests/integration/test_self_monitoring.py."""

from __future__ import annotations

import json
import re

import pytest

from .bicep_model import INFRA, REPO, Expr, load_all, module_file

QUERIES = INFRA / "app" / "queries" / "app-insights"


@pytest.fixture(scope="module")
def bicep():
    return load_all()


@pytest.fixture(scope="module")
def self_monitoring(bicep):
    return bicep["app/self-monitoring.bicep"]


def _module(bicep, target: str):
    main = bicep["main.bicep"]
    [module] = [m for m in main.modules.values() if module_file(m, "main.bicep") == target]
    return module


def test_it_is_created_with_the_first_provision_not_after_the_code(bicep) -> None:
    module = _module(bicep, "app/self-monitoring.bicep")
    assert module.condition == "(deploySelfMonitoring)"  # no functionCodeDeployed: no receiver needs the code
    params = module.params
    assert params["applicationInsightsId"] == Expr("applicationInsightsAccess.outputs.id")
    assert params["functionAppName"] == Expr("functionApp.outputs.name")
    assert params["emailAddresses"] == Expr("empty(selfMonitoringEmails) ? emailRecipients : selfMonitoringEmails")
    assert params["failedScanTicks"] == Expr("selfMonitoringFailedScanTicks")
    assert bicep["main.bicep"].params["deploySelfMonitoring"].default is True


def test_the_action_group_only_emails_people(self_monitoring) -> None:
    [group] = self_monitoring.resources_of_type("Microsoft.Insights/actionGroups")
    properties = group.body["properties"]
    # No Azure Function, webhook, Logic App or ACS in the path: Azure Monitor sends these emails itself.
    assert set(properties) == {"groupShortName", "enabled", "emailReceivers"}
    receiver = properties["emailReceivers"].item
    assert receiver["emailAddress"] == Expr("trim(address)") and receiver["useCommonAlertSchema"] is True
    assert "split(emailAddresses, ',')" in properties["emailReceivers"].text
    assert len(properties["groupShortName"]) <= 12  # Azure's limit for the short name


def test_three_rules_on_the_application_insights_component_call_that_group(self_monitoring) -> None:
    [rules] = self_monitoring.resources_of_type("Microsoft.Insights/scheduledQueryRules")
    assert rules.loop.split() == ["[", "for", "rule", "in", "rules:"]
    properties = rules.body["properties"]
    assert properties["scopes"] == [Expr("applicationInsightsId")]
    assert properties["actions"] == {"actionGroups": [Expr("actionGroup.id")]}
    assert rules.body["kind"] == "LogAlert"
    [condition] = properties["criteria"]["allOf"]
    assert (condition["timeAggregation"], condition["operator"], condition["threshold"]) == ("Count", "GreaterThan", 0)
    # traces and requests exist on every component, so Azure may validate the queries when it creates the rules.
    assert "skipQueryValidation" not in properties
    defined = {rule["name"]: rule for rule in self_monitoring.variables["rules"]}
    assert set(defined) == {"function-failures", "dead-notices", "failed-scans"}
    assert defined["failed-scans"]["dimensions"] == ["Scan", "WorkspaceId"]
    assert defined["function-failures"]["dimensions"] == ["FunctionName"]
    assert defined["dead-notices"]["dimensions"] == []  # one alert for a burst of dead notices, not one each


def test_each_rule_runs_its_query_file_with_the_deployed_values(self_monitoring) -> None:
    variables = self_monitoring.variables
    # Each replaced line is in its query file exactly once (a line that is not there would be replaced silently).
    app_line, ticks_line = variables["appLine"], variables["ticksLine"]
    assert (app_line, ticks_line) == ('let functionApp = "func-example";', "let consecutiveTicks = 3;")
    assert variables["appValue"] == Expr("'let functionApp = \"${functionAppName}\";'")
    rules = {rule["name"]: rule["query"].text for rule in variables["rules"]}
    for name, query in rules.items():
        assert f"loadTextContent('queries/app-insights/{name}.kql')" in query
        assert "appLine, appValue" in query
        assert (QUERIES / f"{name}.kql").read_text().count(app_line) == 1
    assert "ticksLine, 'let consecutiveTicks = ${failedScanTicks};'" in rules["failed-scans"]
    assert (QUERIES / "failed-scans.kql").read_text().count(ticks_line) == 1


def test_the_host_writes_what_the_rules_read() -> None:
    host = json.loads((REPO / "host.json").read_text())
    levels = host["logging"]["logLevel"]
    # One `requests` record per invocation, successful ones included: the failed-scans rule counts ticks by them.
    assert levels["Host.Results"] == "Information"
    # The app's log records (traces) at Information, and never sampled away: a dropped marker is a missed alert.
    assert levels["Function"] in ("Information", "Debug", "Trace")
    excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")
    assert {"Request", "Trace"} <= set(excluded)


# ---------- An existing Communication Services resource or Application Insights ----------


def test_an_existing_communication_service_replaces_the_new_one_and_gets_the_send_role(bicep) -> None:
    main = bicep["main.bicep"]
    assert _module(bicep, "app/communication.bicep").condition == "(!useExistingCommunicationService)"
    assert main.variables["useExistingCommunicationService"] == Expr("!empty(existingCommunicationServiceId)")
    # The send role is granted wherever the resource is: the module runs in that resource's group.
    access = _module(bicep, "app/email-sender-access.bicep")
    assert access.condition is None
    assert access.body["scope"] == Expr("resourceGroup(communicationServiceIdParts[2], communicationServiceIdParts[4])")
    assert access.params["communicationServiceName"] == Expr("last(communicationServiceIdParts)")
    new_id = main.variables["communicationServiceId"].text
    assert new_id.startswith("useExistingCommunicationService ? existingCommunicationServiceId : ")
    assert new_id.endswith("/providers/Microsoft.Communication/communicationServices/${communicationServiceName}'")
    assert _module(bicep, "app/communication.bicep").params["communicationServiceName"] == Expr(
        "communicationServiceName"
    )
    assert main.variables["emailSender"] == Expr(
        "useExistingCommunicationService ? existingEmailSender : communication.outputs.senderAddress"
    )
    assert main.variables["appSettings"]["EMAIL_SENDER"] == Expr("emailSender")


def test_an_existing_application_insights_replaces_the_new_one(bicep) -> None:
    main = bicep["main.bicep"]
    [component] = bicep["app/monitoring.bicep"].resources_of_type("Microsoft.Insights/components")
    assert component.condition == "(empty(existingApplicationInsightsId))"
    access = _module(bicep, "app/application-insights-access.bicep")
    assert access.body["scope"] == Expr("resourceGroup(applicationInsightsIdParts[2], applicationInsightsIdParts[4])")
    assert re.fullmatch(
        r"empty\(existingApplicationInsightsId\) \? '.*/providers/Microsoft\.Insights/components/"
        r"\$\{applicationInsightsName\}' : existingApplicationInsightsId",
        main.variables["applicationInsightsId"].text,
    )
    assert _module(bicep, "app/function-app.bicep").params["applicationInsightsConnectionString"] == Expr(
        "applicationInsightsAccess.outputs.connectionString"
    )
