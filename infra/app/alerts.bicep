// Azure Monitor alerting wired to the app: an action group whose only receiver is the alert_webhook
// function (common alert schema), a metric alert on each Azure ML workspace's "Failed Runs" for pipeline
// runs, and a Log Alerts V2 rule on failed top-level runs with the dimensions the webhook uses to enrich.

param tags object = {}

@description('Location for the log alert rule (the metric alerts and the action group are global).')
param location string

@description('Resource id of the Function App.')
param functionAppId string

@description('Default host name of the Function App (the webhook URL is https://<host>/api/alerts).')
param functionAppHostName string

@description('Resource ids of the Azure ML workspaces.')
param amlWorkspaceIds array

@description('Resource id of the Log Analytics workspace the AML events go to.')
param logAnalyticsWorkspaceId string

param actionGroupName string

@description('The metric alert fires when "Failed Runs" (RunType PipelineRun, Total over the window) is greater than this.')
@minValue(0)
param failedRunsThreshold int = 0

@description('Severity of the metric alert (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param failedRunsSeverity int = 1

@description('Severity of the log alert (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param failedRunsLogAlertSeverity int = 1

@description('How often the alert rules are evaluated (ISO 8601 duration).')
param evaluationFrequency string = 'PT5M'

@description('Look-back window of the log alert; wider than the evaluation frequency because AML logs arrive minutes late.')
param logAlertWindowSize string = 'PT15M'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'amlalerts'
    enabled: true
    azureFunctionReceivers: [
      {
        name: 'alert-webhook'
        functionAppResourceId: functionAppId
        functionName: 'alert_webhook'
        httpTriggerUrl: 'https://${functionAppHostName}/api/alerts'
        useCommonAlertSchema: true
      }
    ]
  }
}

resource failedRunsMetricAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for workspaceId in amlWorkspaceIds: {
    name: 'aml-failed-pipeline-runs-${last(split(workspaceId, '/'))}-${uniqueString(workspaceId)}'
    location: 'global'
    tags: tags
    properties: {
      description: 'Azure ML pipeline runs failed in workspace ${last(split(workspaceId, '/'))}.'
      severity: failedRunsSeverity
      enabled: true
      scopes: [
        workspaceId
      ]
      evaluationFrequency: evaluationFrequency
      windowSize: evaluationFrequency
      autoMitigate: true
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: 'FailedPipelineRuns'
            metricNamespace: 'Microsoft.MachineLearningServices/workspaces'
            metricName: 'Failed Runs'
            dimensions: [
              {
                name: 'RunType'
                operator: 'Include'
                values: [
                  'PipelineRun'
                ]
              }
            ]
            operator: 'GreaterThan'
            threshold: failedRunsThreshold
            timeAggregation: 'Total'
          }
        ]
      }
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

resource failedRunsLogAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'aml-failed-runs-log-alert'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Azure ML failed runs'
    description: 'A top-level Azure ML run (pipeline or job) reported Status Failed. One alert per RunId.'
    severity: failedRunsLogAlertSeverity
    enabled: true
    scopes: [
      logAnalyticsWorkspaceId
    ]
    evaluationFrequency: evaluationFrequency
    windowSize: logAlertWindowSize
    // The AmlRunStatusChangedEvent table appears with the first event after the diagnostic settings exist,
    // which can be after this deployment.
    skipQueryValidation: true
    autoMitigate: true
    criteria: {
      allOf: [
        {
          // Kept in its own file so the KQL checks can parse it like the app's queries.
          query: loadTextContent('queries/failed-runs-alert.kql')
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          // Log Alerts V2 payloads carry no rows, only these dimensions: the webhook queries the run's steps
          // from them.
          dimensions: [
            {
              name: 'RunId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'RootRunId'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'WorkspaceName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output webhookUrl string = 'https://${functionAppHostName}/api/alerts'
