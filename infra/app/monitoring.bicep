// Log Analytics workspace and workspace-based Application Insights for the Function App's own telemetry, each
// created here unless an existing one is given. Local (instrumentation-key) auth is disabled on the Application
// Insights created here: the host sends telemetry with the managed identity (app/application-insights-access.bicep
// grants it the role, on a new or an existing component).

param location string
param tags object = {}

@description('Name of the Log Analytics workspace to create; ignored when existingLogAnalyticsWorkspaceId is set.')
param logAnalyticsName string

@description('Resource id of an existing Log Analytics workspace, or empty to create one.')
param existingLogAnalyticsWorkspaceId string = ''

@description('Retention of the new Log Analytics workspace, in days.')
param retentionInDays int = 30

@description('Name of the Application Insights component to create; ignored when existingApplicationInsightsId is set.')
param applicationInsightsName string

@description('Resource id of an existing Application Insights component, or empty to create one.')
param existingApplicationInsightsId string = ''

var createLogAnalytics = empty(existingLogAnalyticsWorkspaceId)

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

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = if (empty(existingApplicationInsightsId)) {
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

output logAnalyticsWorkspaceId string = logAnalyticsId
