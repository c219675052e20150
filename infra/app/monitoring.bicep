// Log Analytics workspace (created here unless an existing one is given) and workspace-based Application
// Insights for the Function App's own telemetry. Local (instrumentation-key) auth is disabled on
// Application Insights: the host sends telemetry with the managed identity.

param location string
param tags object = {}

@description('Name of the Log Analytics workspace to create; ignored when existingLogAnalyticsWorkspaceId is set.')
param logAnalyticsName string

@description('Resource id of an existing Log Analytics workspace, or empty to create one.')
param existingLogAnalyticsWorkspaceId string = ''

@description('Retention of the new Log Analytics workspace, in days.')
param retentionInDays int = 30

param applicationInsightsName string

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

var createLogAnalytics = empty(existingLogAnalyticsWorkspaceId)
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (createLogAnalytics) {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

var logAnalyticsId = createLogAnalytics ? logAnalytics.id : existingLogAnalyticsWorkspaceId

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalyticsId
    DisableLocalAuth: true
  }
}

// Monitoring Metrics Publisher on this Application Insights component only: with local auth disabled, the
// Functions host (not the app code) needs it to send its logs and metrics with the managed identity
// (APPLICATIONINSIGHTS_AUTHENTICATION_STRING). It grants nothing on any other resource.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, monitoringMetricsPublisherRoleId)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output logAnalyticsWorkspaceId string = logAnalyticsId
output applicationInsightsName string = applicationInsights.name
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
