// Function App on the Flex Consumption plan (Linux, Python 3.11), running as the user-assigned identity.
// Host storage is identity-based (AzureWebJobsStorage__*), the deployment package is read with the same
// identity, and Application Insights is reached with Entra ID auth: no account key or secret is stored.

param name string
param location string
param tags object = {}

@description('Name of the Flex Consumption plan.')
param planName string

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Storage account used for host storage, the deployment package and the state tables.')
param storageAccountName string

@description('Blob endpoint of that storage account (https://<account>.blob.core.windows.net/).')
param storageBlobEndpoint string

@description('Container that holds the deployment package.')
param deploymentContainerName string

param applicationInsightsConnectionString string

@description('Settings read by the app code and the timer triggers (see infra/main.bicep: appSettings).')
param appSettings object

@description('Teams destinations: the name after TEAMS_WEBHOOK_ -> the Key Vault secret URI of its Workflows webhook URL.')
param teamsWebhookSecrets object = {}

@description('Python version of the Flex Consumption runtime.')
@allowed(['3.11'])
param pythonVersion string = '3.11'

// Flex scales each queue-triggered function on its own instances, to about the queue length divided by
// (batchSize + newBatchThreshold) = 24 (host.json: 16 + 8; on Flex the default newBatchThreshold follows the CPU
// count, so host.json pins it). scan_workspace: 24 workspaces in flight per instance, each one Log Analytics query
// (the API runs 5 concurrent queries per user and queues the rest); send_notifications: 24 sends per instance
// against the ACS send rate. scaleAndConcurrency has no queue entry (only http.perInstanceConcurrency), so
// per-instance queue concurrency lives in host.json, and this app-wide maximum caps the total.
@description('Upper bound on instances the plan scales out to, for the whole app (the timers are singletons; the webhook is light; scan_workspace and send_notifications scale with their queues, 24 messages per instance).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Memory per instance, in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Zone redundancy on Flex Consumption is available only in some regions and needs zone-redundant storage; a zone outage delays alerts (the watermark and outbox catch up) rather than losing them.
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// Settings the Functions host itself needs. AzureWebJobsStorage (a connection string locally) becomes the
// identity-based AzureWebJobsStorage__* triple; the app reads AzureWebJobsStorage__accountName for the
// state tables too (shared/settings.py).
var hostSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  // The queue triggers' connection (connection="AzureWebJobsStorage"), named explicitly for the queue service.
  AzureWebJobsStorage__queueServiceUri: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// All app settings: the host's and the app's (the app's win on a clash, so an override parameter can replace any).
var allAppSettings = union(hostSettings, appSettings)
var appSettingsList = [
  for setting in items(allAppSettings): {
    name: setting.key
    value: setting.value
  }
]
// One TEAMS_WEBHOOK_<NAME> per Teams destination, resolved by App Service from Key Vault with the app's identity
// (keyVaultReferenceIdentity below): the URL carries its signature, so it is never a plain value here.
var teamsAppSettings = [
  for secret in items(teamsWebhookSecrets): {
    name: 'TEAMS_WEBHOOK_${secret.key}'
    value: '@Microsoft.KeyVault(SecretUri=${secret.value})'
  }
]

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; always-ready instances would cost money around the clock for timers that run every few minutes, and a missed tick is caught up by the watermark.
  // checkov:skip=CKV_AZURE_213: Health check is not a Flex Consumption feature; the timers and the webhook are watched through Application Insights instead.
  // checkov:skip=CKV_AZURE_17: Client certificates cannot be used: Azure Monitor action groups do not present one when calling the webhook.
  // checkov:skip=CKV_AZURE_222: The webhook must be reachable by Azure Monitor action groups, which call public endpoints only.
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    // Key Vault references (the Teams webhook URLs) are resolved with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(appSettingsList, teamsAppSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // Flex Consumption takes the language from here; FUNCTIONS_WORKER_RUNTIME must not be an app setting.
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

output id string = functionApp.id
output name string = functionApp.name
output defaultHostName string = functionApp.properties.defaultHostName
