// Deployed into the resource group of the Log Analytics workspace (new or existing, possibly in another
// resource group or subscription): grants the app read access to the logs and returns the workspace GUID.

@description('Name of the Log Analytics workspace (in this module\'s resource group).')
param workspaceName string

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

var logAnalyticsReaderRoleId = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// Log Analytics Reader on this workspace only: the scans and the webhook enrichment run KQL over
// AmlRunStatusChangedEvent, AmlComputeJobEvent, AmlComputeClusterEvent and AzureActivity here. The role is
// read-only and scoped to the one workspace the AML diagnostic settings write to.
resource logAnalyticsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, logAnalyticsReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('The workspace id (a GUID) that LOG_ANALYTICS_WORKSPACE_IDS expects, not the resource id.')
output customerId string = workspace.properties.customerId
