// Deployed into the resource group of one Azure ML workspace (which may be in another resource group or
// subscription): sends its run and compute events to Log Analytics and lets the app read its metrics.

@description('Name of the Azure ML workspace (in this module\'s resource group).')
param workspaceName string

@description('Resource id of the Log Analytics workspace that receives the events.')
param logAnalyticsWorkspaceId string

@description('Create the diagnostic setting (false when the workspace already sends these categories to the same Log Analytics workspace: Azure refuses a duplicate).')
param configureDiagnostics bool = true

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

var monitoringReaderRoleId = '43d0d8ad-25c7-4714-9337-8ba259a9fe05'

// Resource-specific tables the scans and the webhook query (see shared/reference/azure-facts.md).
var amlLogCategories = [
  'AmlRunStatusChangedEvent'
  'AmlComputeJobEvent'
  'AmlComputeClusterEvent'
]

resource workspace 'Microsoft.MachineLearningServices/workspaces@2024-04-01' existing = {
  name: workspaceName
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (configureDiagnostics) {
  name: 'aml-alerts-to-log-analytics'
  scope: workspace
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    // Azure ML writes resource-specific tables only; this keeps the setting explicit about it.
    logAnalyticsDestinationType: 'Dedicated'
    logs: [
      for category in amlLogCategories: {
        category: category
        enabled: true
      }
    ]
  }
}

// Monitoring Reader on this workspace only (not its resource group or subscription): scan_metrics reads the
// workspace's platform metrics (Failed Runs, ...) through the Metrics API. Monitoring Reader is the
// read-only built-in role that includes Microsoft.Insights/metrics/read.
resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, monitoringReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Run history (step names, errors, log links) at delivery, and the schedules scan_schedules checks: a custom role
// with the read actions they need on this workspace only (../shared/reference/aml-run-history §4,
// ../shared/reference/aml-schedules RBAC; docs/run-history.md, docs/azure-ml-schedules.md). Not the built-in Reader:
// Reader can also read datastore credentials. One role per workspace, assignable only on that workspace.
var runHistoryReadActions = [
  'Microsoft.MachineLearningServices/workspaces/read'
  'Microsoft.MachineLearningServices/workspaces/jobs/read'
  'Microsoft.MachineLearningServices/workspaces/experiments/read'
  'Microsoft.MachineLearningServices/workspaces/experiments/runs/read'
  'Microsoft.MachineLearningServices/workspaces/metadata/artifacts/read'
  'Microsoft.MachineLearningServices/workspaces/schedules/read'
]

resource runHistoryReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(workspace.id, 'aml-failure-alert-reader')
  properties: {
    roleName: 'AML Failure Alert Reader (${workspaceName}, ${uniqueString(workspace.id)})'
    description: 'Read an Azure ML workspace\'s jobs, runs, their details and log links, and its schedules; nothing else.'
    type: 'CustomRole'
    permissions: [
      {
        actions: runHistoryReadActions
        notActions: []
      }
    ]
    assignableScopes: [
      workspace.id
    ]
  }
}

// The custom role above on this workspace only: the delivery reads run history's children, details and log links.
resource runHistoryReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, runHistoryReaderRole.id)
  scope: workspace
  properties: {
    roleDefinitionId: runHistoryReaderRole.id
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
