// Deployed into the resource group of the Application Insights component (the one monitoring.bicep creates, or an
// existing one in any resource group or subscription): lets the Functions host send telemetry to it with the
// managed identity and returns what the Function App and the self-monitoring rules need.

@description('Name of the Application Insights component (in this module\'s resource group).')
param componentName string

@description('Principal id of the Function App\'s user-assigned managed identity.')
param principalId string

var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: componentName
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

output id string = applicationInsights.id
output connectionString string = applicationInsights.properties.ConnectionString
