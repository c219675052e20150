// Subscription-scope module: exports the subscription's activity log (Administrative category: ARM writes
// and deletes such as Microsoft.MachineLearningServices/workspaces/computes/delete) to Log Analytics, where
// scan_compute_changes reads it from the AzureActivity table.
targetScope = 'subscription'

@description('Resource id of the Log Analytics workspace that receives the activity log.')
param logAnalyticsWorkspaceId string

@description('Name of the diagnostic setting (a subscription has at most five).')
param settingName string = 'aml-alerts-activity-log'

resource activityLog 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      {
        category: 'Administrative'
        enabled: true
      }
    ]
  }
}
