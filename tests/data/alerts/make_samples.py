"""Writes one common-alert-schema payload per documented monitoringService (tests/data/alerts/*.json).

Shapes follow Microsoft's "Sample alert payloads" (learn.microsoft.com/azure/azure-monitor/alerts/
alerts-payload-samples); ids and names are placeholders, and the Azure ML ones match sandbox.scenarios so the
integration tests can enrich them. Run `python tests/data/alerts/make_samples.py` after changing it.
"""

from __future__ import annotations

import json
from pathlib import Path

SUB = "00000000-0000-0000-0000-0000000000aa"
ALERT_ID = f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{{}}"
AML = f"/subscriptions/{SUB}/resourceGroups/rg-ml-prod/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"
LAW = f"/subscriptions/{SUB}/resourcegroups/rg-ml-prod/providers/microsoft.operationalinsights/workspaces/law-ml"
VM = f"/subscriptions/{SUB}/resourcegroups/rg-ml-prod/providers/microsoft.compute/virtualmachines/vm-1"
APPI = f"/subscriptions/{SUB}/resourcegroups/rg-ml-prod/providers/microsoft.insights/components/appi-ml"
LA_GUID = "11111111-1111-1111-1111-111111111111"
FIRED = "2026-03-01T12:00:00.000Z"


def essentials(n, rule, service, signal, targets, **extra):
    return {
        "alertId": ALERT_ID.format(f"{n:08d}-0000-0000-0000-000000000000"),
        "alertRule": rule,
        "severity": "Sev2",
        "signalType": signal,
        "monitorCondition": "Fired",
        "monitoringService": service,
        "alertTargetIDs": targets,
        "configurationItems": [t.rsplit("/", 1)[-1] for t in targets or []],
        "originAlertId": f"origin-{n}",
        "firedDateTime": FIRED,
        "description": f"{rule} description",
        "essentialsVersion": "1.0",
        "alertContextVersion": "1.0",
        **extra,
    }


def payload(ess, context, custom=None):
    return {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {"essentials": ess, "alertContext": context, "customProperties": custom},
    }


def metric_condition(criteria, start="2026-03-01T11:45:00.000Z", end="2026-03-01T11:50:00.000Z"):
    return {"windowSize": "PT5M", "allOf": criteria, "windowStartTime": start, "windowEndTime": end}


SAMPLES = {
    "platform-static-aml-failed-runs": payload(
        essentials(1, "aml-failed-pipeline-runs", "Platform", "Metric", [AML]),
        {
            "properties": None,
            "conditionType": "SingleResourceMultipleMetricCriteria",
            "condition": metric_condition(
                [
                    {
                        "metricName": "Failed Runs",
                        "metricNamespace": "Microsoft.MachineLearningServices/workspaces",
                        "operator": "GreaterThan",
                        "threshold": "0",
                        "timeAggregation": "Total",
                        "dimensions": [{"name": "RunType", "value": "PipelineRun"}],
                        "metricValue": 1,
                        "webTestName": None,
                    }
                ]
            ),
        },
        {"team": "ml-platform"},
    ),
    "platform-dynamic": payload(
        essentials(2, "egress-anomaly", "Platform", "Metric", [VM]),
        {
            "properties": None,
            "conditionType": "DynamicThresholdCriteria",
            "condition": metric_condition(
                [
                    {
                        "alertSensitivity": "High",
                        "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                        "ignoreDataBefore": None,
                        "metricName": "Network Out Total",
                        "metricNamespace": "Microsoft.Compute/virtualMachines",
                        "operator": "GreaterThan",
                        "threshold": "47658",
                        "timeAggregation": "Total",
                        "dimensions": [],
                        "metricValue": 50101,
                    }
                ]
            ),
        },
    ),
    "platform-availability": payload(
        essentials(3, "scoring-endpoint-availability", "Platform", "Metric", [APPI]),
        {
            "properties": None,
            "conditionType": "WebtestLocationAvailabilityCriteria",
            "condition": metric_condition(
                [
                    {
                        "metricName": "Failed Location",
                        "metricNamespace": None,
                        "operator": "GreaterThan",
                        "threshold": "2",
                        "timeAggregation": "Sum",
                        "dimensions": [],
                        "metricValue": 5,
                        "webTestName": "scoring-endpoint-ping",
                    }
                ]
            ),
        },
    ),
    "log-alerts-v2-aml-runs": payload(
        essentials(4, "aml-failed-runs-log-alert", "Log Alerts V2", "Log", [LAW]),
        {
            "properties": {},
            "conditionType": "LogQueryCriteria",
            "condition": {
                "windowSize": "PT15M",
                "allOf": [
                    {
                        "searchQuery": 'AmlRunStatusChangedEvent | where Status =~ "Failed"',
                        "metricMeasureColumn": None,
                        "targetResourceTypes": "['Microsoft.OperationalInsights/workspaces']",
                        "operator": "GreaterThan",
                        "threshold": "0",
                        "timeAggregation": "Count",
                        "dimensions": [
                            {"name": "RunId", "value": "pipe1"},
                            {"name": "RootRunId", "value": ""},
                            {"name": "WorkspaceName", "value": "ws-prod"},
                        ],
                        "metricValue": 1.0,
                        "failingPeriods": {"numberOfEvaluationPeriods": 1, "minFailingPeriodsToAlert": 1},
                        "linkToSearchResultsUI": "https://portal.azure.com#@tenant/blade/Microsoft_Azure_Monitoring_Logs/"
                        "LogsBlade/q/abc",
                        "linkToSearchResultsAPI": f"https://api.loganalytics.io/v1/workspaces/{LA_GUID}/query?query=x",
                    }
                ],
                "windowStartTime": "2026-03-01T11:45:00Z",
                "windowEndTime": "2026-03-01T12:00:00Z",
            },
        },
    ),
    "log-analytics-v1": payload(
        essentials(5, "heartbeat-missing-v1", "Log Analytics", "Log", [LAW], alertContextVersion="1.1"),
        {
            "SearchQuery": "Heartbeat | summarize AggregatedValue=count() by bin(TimeGenerated, 5m)",
            "SearchIntervalStartTimeUtc": "2026-03-01T11:45:00Z",
            "SearchIntervalEndtimeUtc": "2026-03-01T12:00:00Z",
            "ResultCount": 2,
            "LinkToSearchResults": "https://portal.azure.com#@tenant/blade/logs/q/abc",
            "SeverityDescription": "Warning",
            "WorkspaceId": LA_GUID,
            "SearchIntervalDurationMin": "15",
            "AffectedConfigurationItems": [],
            "SearchIntervalInMinutes": "15",
            "Threshold": 10000,
            "Operator": "Less Than",
            "Dimensions": [{"name": "Computer", "value": "vm-1"}],
            "IncludedSearchResults": "True",
            "AlertType": "Metric measurement",
        },
    ),
    "application-insights-v1": payload(
        essentials(6, "scoring-5xx", "Application Insights", "Log", [APPI]),
        {
            "SearchQuery": 'requests | where resultCode == "500"',
            "SearchIntervalStartTimeUtc": "3/1/2026 11:45:00 AM",
            "SearchIntervalEndtimeUtc": "3/1/2026 12:00:00 PM",
            "ResultCount": 7,
            "Threshold": 5.0,
            "Operator": "Greater Than",
            "ApplicationId": "00001111-aaaa-2222-bbbb-3333cccc4444",
            "LinkToSearchResults": "https://portal.azure.com/AnalyticsBlade/q=requests",
            "AlertType": "Number of results",
        },
    ),
    "activity-log-administrative-compute-delete": payload(
        essentials(
            7, "aml-compute-deleted", "Activity Log - Administrative", "Activity Log", [AML + "/computes/gpu-cluster"]
        ),
        {
            "authorization": {
                "action": "Microsoft.MachineLearningServices/workspaces/computes/delete",
                "scope": AML + "/computes/gpu-cluster",
            },
            "channels": "Operation",
            "claims": "{}",
            "caller": "someone@contoso.com",
            "correlationId": "cccc2222-dd33-4444-55ee-666666ffffff",
            "eventSource": "Administrative",
            "eventTimestamp": "2026-03-01T11:58:00.000Z",
            "eventDataId": "dddd3333-ee44-5555-66ff-777777aaaaaa",
            "level": "Informational",
            "operationName": "Microsoft.MachineLearningServices/workspaces/computes/delete",
            "operationId": "bbbbbbbb-1111-2222-3333-cccccccccccc",
            "properties": {
                "eventCategory": "Administrative",
                "entity": AML + "/computes/gpu-cluster",
                "message": "Microsoft.MachineLearningServices/workspaces/computes/delete",
            },
            "status": "Succeeded",
            "subStatus": "",
            "submissionTimestamp": "2026-03-01T11:58:30.000Z",
            "Activity Log Event Description": "",
        },
    ),
    "activity-log-policy": payload(
        essentials(8, "policy-audit", "Activity Log - Policy", "Activity Log", [f"/subscriptions/{SUB}"]),
        {
            "authorization": {
                "action": "Microsoft.Resources/checkPolicyCompliance/read",
                "scope": f"/subscriptions/{SUB}",
            },
            "channels": "Operation",
            "caller": "policy-engine",
            "correlationId": "c1",
            "eventSource": "Policy",
            "eventTimestamp": "2026-03-01T11:11:34.2269098+00:00",
            "level": "Warning",
            "operationName": "Microsoft.Authorization/policies/audit/action",
            "properties": {
                "isComplianceCheck": "True",
                "resourceLocation": "westeurope",
                "policies": '[{"policyDefinitionEffect":"AuditIfNotExists"}]',
            },
            "status": "Succeeded",
            "subStatus": "",
            "submissionTimestamp": "2026-03-01T11:12:46.1557298+00:00",
        },
    ),
    "activity-log-autoscale": payload(
        essentials(9, "vmss-scaled", "Activity Log - Autoscale", "Activity Log", [VM]),
        {
            "channels": "Admin, Operation",
            "caller": "Microsoft.Insights/autoscaleSettings",
            "correlationId": "c2",
            "eventSource": "Autoscale",
            "eventTimestamp": "2026-03-01T11:17:47.1551167+00:00",
            "level": "Informational",
            "operationName": "Microsoft.Insights/AutoscaleSettings/Scaleup/Action",
            "properties": {
                "description": "The autoscale engine attempting to scale from 9 to 10 instances.",
                "resourceName": VM,
                "oldInstancesCount": "9",
                "newInstancesCount": "10",
            },
            "status": "Succeeded",
            "submissionTimestamp": "2026-03-01T11:17:47.2410185+00:00",
        },
    ),
    "activity-log-security": payload(
        essentials(10, "defender-alert", "Activity Log - Security", "Activity Log", [VM]),
        {
            "channels": "Operation",
            "correlationId": "c3",
            "eventSource": "Security",
            "eventTimestamp": "2026-03-01T08:34:14+00:00",
            "level": "Informational",
            "operationName": "Microsoft.Security/locations/alerts/activate/action",
            "properties": {
                "threatStatus": "Quarantined",
                "category": "Virus",
                "compromisedEntity": "vm-1",
                "actionTaken": "Blocked",
                "remediationSteps": '["No user action is necessary"]',
            },
            "status": "Active",
            "submissionTimestamp": "2026-03-01T09:28:58.3019107+00:00",
        },
    ),
    "resource-health": payload(
        essentials(11, "aml-workspace-health", "Resource Health", "Activity Log", [AML]),
        {
            "channels": "Admin, Operation",
            "correlationId": "c4",
            "eventSource": "ResourceHealth",
            "eventTimestamp": "2026-03-01T11:42:54.074+00:00",
            "level": "Informational",
            "operationName": "Microsoft.Resourcehealth/healthevent/Activated/action",
            "operationId": "o4",
            "properties": {
                "title": "The workspace is unavailable",
                "details": None,
                "currentHealthStatus": "Unavailable",
                "previousHealthStatus": "Available",
                "type": "Downtime",
                "cause": "PlatformInitiated",
            },
            "status": "Active",
            "submissionTimestamp": "2026-03-01T11:45:20.4488186+00:00",
            "Activity Log Event Description": None,
        },
    ),
    "service-health": payload(
        essentials(12, "azure-ml-service-health", "ServiceHealth", "ActivityLog", [f"/subscriptions/{SUB}"]),
        {
            "authorization": None,
            "channels": 1,
            "claims": None,
            "caller": None,
            "correlationId": "c5",
            "eventSource": 2,
            "eventTimestamp": "2026-03-01T11:31:19.0312699+00:00",
            "httpRequest": None,
            "level": 3,
            "operationName": "Microsoft.ServiceHealth/incident/action",
            "operationId": "o5",
            "properties": {
                "title": "Azure Machine Learning - West Europe - Degraded",
                "service": "Machine Learning",
                "region": "West Europe",
                "communication": "<p>Engineers are investigating.</p>",
                "incidentType": "Incident",
                "trackingId": "ABCD-123",
                "impactStartTime": "2026-03-01T11:00:00Z",
                "impactedServices": [
                    {"ImpactedRegions": [{"RegionName": "West Europe"}], "ServiceName": "Machine Learning"}
                ],
                "defaultLanguageTitle": "Azure Machine Learning - West Europe - Degraded",
                "defaultLanguageContent": "<p>Engineers are investigating.</p>",
                "stage": "Active",
                "version": "0.1.1",
            },
            "status": "Active",
            "subStatus": None,
            "submissionTimestamp": "2026-03-01T11:31:31.7147357+00:00",
            "ResourceType": None,
        },
    ),
    "smart-detector": payload(
        essentials(13, "dependency-latency", "SmartDetector", "Log", [APPI]),
        {
            "DetectionSummary": "A degradation in the dependency duration over the last 24 hours",
            "FormattedOccurrenceTime": "2026-03-01T11:23:16.577Z",
            "DetectedValue": "0.45 sec",
            "NormalValue": "0.27 sec (over the last 7 days)",
            "PresentationInsightEventRequest": APPI + "/query?q=x",
            "SmartDetectorId": "DependencyPerformanceDegradationDetector",
            "SmartDetectorName": "Dependency Performance Degradation Detector",
            "AnalysisTimestamp": "2026-03-01T11:23:16.577Z",
        },
    ),
    "prometheus": payload(
        essentials(
            14,
            "gpu-node-down",
            "Prometheus",
            "Metric",
            [f"/subscriptions/{SUB}/resourceGroups/rg-ml-prod/providers/microsoft.monitor/accounts/amw-ml"],
        ),
        {
            "interval": "PT1M",
            "expression": 'up{job="gpu-node"} == 0',
            "expressionValue": "0",
            "for": "PT2M",
            "labels": {"Environment": "Prod", "cluster": "aks-ml"},
            "annotations": {"summary": "GPU node is down"},
            "ruleGroup": f"/subscriptions/{SUB}/resourceGroups/rg-ml-prod/providers/Microsoft.AlertsManagement/"
            "prometheusRuleGroups/ml-rules",
        },
    ),
    "cost-budget": payload(
        {
            **essentials(15, None, "CostAlerts", None, None),
            "severity": None,
            "alertId": f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/alerts/ml-budget",
            "configurationItems": ["budgets"],
            "originAlertId": None,
            "description": "Your spend for budget ml-training is now $1,200.00, exceeding your threshold $1,000.00.",
        },
        {
            "AlertCategory": "budgets",
            "AlertData": {
                "Scope": f"/subscriptions/{SUB}/",
                "ThresholdType": "Actual",
                "BudgetType": "Cost",
                "BudgetThreshold": "$1,000.00",
                "NotificationThresholdAmount": "$1,000.00",
                "BudgetName": "ml-training",
                "BudgetId": f"/subscriptions/{SUB}/providers/Microsoft.Consumption/budgets/ml-training",
                "BudgetStartDate": "2026-01-01",
                "BudgetCreator": "finance@contoso.com",
                "Unit": "USD",
                "SpentAmount": "$1,200.00",
            },
        },
    ),
}

if __name__ == "__main__":
    here = Path(__file__).parent
    for name, document in SAMPLES.items():
        (here / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
