// AML alerting: everything `azd up` deploys. Subscription scope because it creates the resource group and
// the subscription activity-log export; the Azure ML workspaces and an existing Log Analytics workspace may
// live in other resource groups or subscriptions (modules are scoped to them).
// Parameters are explained in infra/README.md; values come from infra/main.parameters.json (azd env).
targetScope = 'subscription'

// ---------- Parameters ----------

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the unique resource names.')
param environmentName string

@minLength(1)
@description('Region of the Function App and the other regional resources.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('Resource ids of the Azure ML workspaces to watch (/subscriptions/.../providers/Microsoft.MachineLearningServices/workspaces/<name>).')
param amlWorkspaceIds array

@description('Resource id of an existing Log Analytics workspace to send the AML events and activity log to; empty creates a new one.')
param existingLogAnalyticsWorkspaceId string = ''

@minLength(3)
@description('Comma-separated email addresses of the on-call recipients (EMAIL_RECIPIENTS).')
param emailRecipients string

@description('Custom sender domain such as alerts.contoso.com; empty sends from an Azure-managed *.azurecomm.net domain.')
param customEmailDomain string = ''

@description('True once the custom domain\'s DNS records are verified in ACS; until then mail goes out from the Azure-managed domain.')
param customEmailDomainVerified bool = false

@description('Local part of the sender address on a verified custom domain (EMAIL_SENDER = <senderUsername>@<domain>); the Azure-managed domain always sends as DoNotReply.')
param senderUsername string = 'DoNotReply'

@description('Display name of the sender.')
param senderDisplayName string = 'Azure ML alerts'

@description('Resource id of an existing Communication Services resource to send from, instead of creating one (then existingEmailSender is required, and the custom-domain parameters do not apply).')
param existingCommunicationServiceId string = ''

@description('Sender address (MailFrom) of a domain linked to existingCommunicationServiceId, for example DoNotReply@<id>.azurecomm.net.')
param existingEmailSender string = ''

@description('ACS data location (a geography, not a region).')
@allowed([
  'Africa'
  'Asia Pacific'
  'Australia'
  'Brazil'
  'Canada'
  'Europe'
  'France'
  'Germany'
  'India'
  'Japan'
  'Korea'
  'Norway'
  'Switzerland'
  'UAE'
  'UK'
  'United States'
])
param acsDataLocation string = 'Europe'

@description('Export the activity log (Administrative) of every subscription that holds a watched Azure ML workspace to Log Analytics, for compute deletions.')
param exportSubscriptionActivityLog bool = true

@description('Ids of subscriptions whose activity log already reaches this Log Analytics workspace: no export is created there (Azure refuses a second one).')
param activityLogAlreadyExported array = []

@description('Create a diagnostic setting on each Azure ML workspace. False if they already send the three Aml* categories to this Log Analytics workspace.')
param configureAmlDiagnostics bool = true

@description('Create the action group, the metric alerts and the log alert that call alert_webhook.')
param deployAlertRules bool = true

// The action group's Azure Function receiver needs the alert_webhook function to exist, and azd provisions
// before it deploys the code. A postdeploy hook in azure.yaml sets FUNCTION_CODE_DEPLOYED=true, and `azd up`
// (workflows.up in azure.yaml) provisions once more after the deploy, which then creates the alerting.
@description('True once the app\'s code has been deployed (set by the postdeploy hook in azure.yaml); the action group and alert rules are created only then.')
param functionCodeDeployed bool = false

@description('Metric alert: fire when "Failed Runs" (RunType PipelineRun, Total over 5 minutes) exceeds this.')
@minValue(0)
param failedRunsThreshold int = 0

@description('Metric alert severity (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param failedRunsAlertSeverity int = 1

@description('Log alert severity (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param failedRunsLogAlertSeverity int = 1

@description('Entra tenant id put into the Azure ML studio links (STUDIO_TENANT_ID).')
param studioTenantId string = tenant().tenantId

@description('Default region of the resources in metric rules (METRICS_REGION: the Metrics batch API is regional; a rule can name its own regions); empty means the deployment location.')
param metricsRegion string = ''

// Timer schedules: NCRONTAB with seconds ({second} {minute} {hour} {day} {month} {day-of-week}), as in
// local.settings.sample.json.
@description('Schedule of scan_run_failures (RUN_FAILURES_SCHEDULE).')
param runFailuresSchedule string = '0 */5 * * * *'

@description('Schedule of scan_compute_changes (COMPUTE_CHANGES_SCHEDULE).')
param computeChangesSchedule string = '30 */5 * * * *'

@description('Schedule of scan_metrics (METRICS_SCHEDULE).')
param metricsSchedule string = '15 */5 * * * *'

@description('Schedule of scan_stuck_runs (STUCK_RUNS_SCHEDULE).')
param stuckRunsSchedule string = '20 */10 * * * *'

@description('Schedule of scan_schedules (SCHEDULES_SCHEDULE).')
param schedulesSchedule string = '50 */15 * * * *'

@description('Schedule of deliver_outbox (OUTBOX_SCHEDULE).')
param outboxSchedule string = '45 */2 * * * *'

@description('Teams destinations: the name after TEAMS_WEBHOOK_ -> the Key Vault secret URI holding that channel\'s Workflows webhook URL, e.g. {"ML_ONCALL": "https://kv-alerts.vault.azure.net/secrets/teams-ml-oncall"}. Each becomes the app setting TEAMS_WEBHOOK_<NAME> as a Key Vault reference: the URL carries its signature and is never a plain setting. The app\'s identity needs Key Vault Secrets User on that vault (infra/README.md).')
param teamsWebhookSecrets object = {}

@description('Extra or overriding app settings, for example {"SEND_MAX_ATTEMPTS": "5"}; applied last.')
param appSettingOverrides object = {}

@description('Resource id of an existing Application Insights component for the app\'s telemetry; empty creates one on the Log Analytics workspace.')
param existingApplicationInsightsId string = ''

@description('Object id of an Entra group whose members add silences from the CLI: it gets Storage Table Data Contributor on the silences table only. Empty grants nobody.')
param onCallGroupObjectId string = ''

@description('Create the self-monitoring: alert rules on the app\'s own failures, emailed by Azure Monitor (not by the app).')
param deploySelfMonitoring bool = true

@description('Comma-separated addresses the self-monitoring alerts go to; empty means emailRecipients.')
param selfMonitoringEmails string = ''

@description('Self-monitoring: alert when a scan could not read a Log Analytics workspace on this many ticks in a row.')
@minValue(1)
@maxValue(12)
param selfMonitoringFailedScanTicks int = 3

@description('Severity of the self-monitoring alerts (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param selfMonitoringAlertSeverity int = 1

// ---------- Names ----------

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var resourceGroupName = 'rg-${environmentName}'
var functionAppName = 'func-${resourceToken}'
var logAnalyticsName = 'log-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'

// State tables of the app (one storage account with the host storage; shared/app.py: TABLES). On-call people
// write the silences table from the CLI (onCallGroupObjectId).
var silencesTable = 'silences'
var stateTables = [
  'watermarks'
  'incidents'
  'history'
  silencesTable
  'webhookdeliveries'
  'metricstates'
]

// The app's queues (shared/azure/queues.py, docs/queues.md): the webhook and the scans put "send these incidents" on
// notifications, the scan timers one message per workspace on scan-workspaces. Each has its host-made -poison twin.
var appQueues = [
  'notifications'
  'scan-workspaces'
]

// Resource id of the Log Analytics workspace, known before deployment so modules can be scoped to it.
var newLogAnalyticsWorkspaceId = '${subscription().id}/resourceGroups/${resourceGroupName}/providers/Microsoft.OperationalInsights/workspaces/${logAnalyticsName}'
var logAnalyticsWorkspaceId = empty(existingLogAnalyticsWorkspaceId) ? newLogAnalyticsWorkspaceId : existingLogAnalyticsWorkspaceId
var logAnalyticsIdParts = split(logAnalyticsWorkspaceId, '/')

// The same for Application Insights and for Communication Services: new in this resource group, or existing
// anywhere; the modules that grant the app's identity access are scoped to wherever the resource is.
var applicationInsightsName = 'appi-${resourceToken}'
var applicationInsightsId = empty(existingApplicationInsightsId) ? '${subscription().id}/resourceGroups/${resourceGroupName}/providers/Microsoft.Insights/components/${applicationInsightsName}' : existingApplicationInsightsId
var applicationInsightsIdParts = split(applicationInsightsId, '/')
var useExistingCommunicationService = !empty(existingCommunicationServiceId)
var communicationServiceName = 'acs-${resourceToken}'
var communicationServiceId = useExistingCommunicationService ? existingCommunicationServiceId : '${subscription().id}/resourceGroups/${resourceGroupName}/providers/Microsoft.Communication/communicationServices/${communicationServiceName}'
var communicationServiceIdParts = split(communicationServiceId, '/')

// Every subscription that holds a watched Azure ML workspace, once (union() drops duplicates): compute
// deletions are logged in the workspace's subscription. (For-expressions, not lambdas: checkov's Bicep parser
// reads neither lambdas nor a for-expression inside a call.)
var workspaceSubscriptionIds = [for id in amlWorkspaceIds: toLower(split(id, '/')[2])]
var watchedSubscriptionIds = union(workspaceSubscriptionIds, [])
var alreadyExportedSubscriptionIds = [for id in activityLogAlreadyExported: toLower(id)]

// ---------- Resources ----------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    tableNames: stateTables
    queueNames: appQueues
    principalId: identity.outputs.principalId
    onCallTableName: silencesTable
    onCallGroupObjectId: onCallGroupObjectId
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: logAnalyticsName
    existingLogAnalyticsWorkspaceId: existingLogAnalyticsWorkspaceId
    applicationInsightsName: applicationInsightsName
    existingApplicationInsightsId: existingApplicationInsightsId
  }
}

module applicationInsightsAccess 'app/application-insights-access.bicep' = {
  name: 'application-insights-access'
  scope: resourceGroup(applicationInsightsIdParts[2], applicationInsightsIdParts[4])
  params: {
    componentName: last(applicationInsightsIdParts)
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    monitoring
  ]
}

module logAnalyticsAccess 'app/log-analytics-access.bicep' = {
  name: 'log-analytics-access'
  scope: resourceGroup(logAnalyticsIdParts[2], logAnalyticsIdParts[4])
  params: {
    workspaceName: last(logAnalyticsIdParts)
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    monitoring
  ]
}

module amlWorkspaces 'app/aml-workspace.bicep' = [
  for (workspaceId, i) in amlWorkspaceIds: {
    name: 'aml-workspace-${i}'
    scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
    params: {
      workspaceName: last(split(workspaceId, '/'))
      logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
      configureDiagnostics: configureAmlDiagnostics
      principalId: identity.outputs.principalId
    }
  }
]

module activityLogs 'app/activity-log.bicep' = [
  for subscriptionId in watchedSubscriptionIds: if (exportSubscriptionActivityLog && !contains(alreadyExportedSubscriptionIds, subscriptionId)) {
    name: 'activity-log-export-${subscriptionId}'
    scope: subscription(subscriptionId)
    params: {
      logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    }
  }
]

module communication 'app/communication.bicep' = if (!useExistingCommunicationService) {
  name: 'communication'
  scope: rg
  params: {
    communicationServiceName: communicationServiceName
    emailServiceName: 'acs-email-${resourceToken}'
    tags: tags
    dataLocation: acsDataLocation
    customEmailDomain: customEmailDomain
    customEmailDomainVerified: customEmailDomainVerified
    senderUsername: senderUsername
    senderDisplayName: senderDisplayName
  }
}

module emailSenderAccess 'app/email-sender-access.bicep' = {
  name: 'email-sender-access'
  scope: resourceGroup(communicationServiceIdParts[2], communicationServiceIdParts[4])
  params: {
    communicationServiceName: last(communicationServiceIdParts)
    principalId: identity.outputs.principalId
  }
  dependsOn: [
    communication
  ]
}

var emailSender = useExistingCommunicationService ? existingEmailSender : communication.outputs.senderAddress

// Every setting the app code and its timer triggers read (shared/app.py: ALL_SETTINGS, with the detectors' schedules),
// one per line; tests/infra/test_infra_settings_contract.py checks this object against that list and
// local.settings.sample.json. AzureWebJobsStorage and FUNCTIONS_WORKER_RUNTIME are not here: on Flex
// Consumption they become AzureWebJobsStorage__* and functionAppConfig.runtime (app/function-app.bicep).
var appSettings = {
  RUN_FAILURES_SCHEDULE: runFailuresSchedule
  COMPUTE_CHANGES_SCHEDULE: computeChangesSchedule
  METRICS_SCHEDULE: metricsSchedule
  STUCK_RUNS_SCHEDULE: stuckRunsSchedule
  SCHEDULES_SCHEDULE: schedulesSchedule
  OUTBOX_SCHEDULE: outboxSchedule
  AZURE_CLIENT_ID: identity.outputs.clientId
  // Only the user-assigned identity, by its client id: no developer-credential fallback in Azure.
  AZURE_CREDENTIAL: 'managed-identity'
  LOG_ANALYTICS_WORKSPACE_IDS: logAnalyticsAccess.outputs.customerId
  LOG_ANALYTICS_ENDPOINT: 'https://api.loganalytics.io'
  METRICS_ENDPOINT: 'https://{region}.metrics.monitor.azure.com'
  METRICS_REGION: empty(metricsRegion) ? location : metricsRegion
  ACS_ENDPOINT: emailSenderAccess.outputs.endpoint
  EMAIL_SENDER: emailSender
  EMAIL_RECIPIENTS: emailRecipients
  STUDIO_TENANT_ID: studioTenantId
  SCAN_OVERLAP_MINUTES: '15'
  SCAN_LOOKBACK_HOURS: '48'
  FIRST_SCAN_LOOKBACK_MINUTES: '60'
  GROUP_WAIT_SECONDS: '120'
  SEND_MAX_ATTEMPTS: '8'
  SEND_RETRY_BASE_SECONDS: '60'
  RETENTION_DAYS: '30'
  RULES_FILE: 'rules.yaml'
  WEBHOOK_AUTH: 'function-key'
  WEBHOOK_AUDIENCE: ''
  WEBHOOK_TENANT_ID: ''
  WEBHOOK_ALLOWED_SCOPES: ''
  ENRICHMENT_MARGIN_MINUTES: '15'
  RUN_HISTORY_ENABLED: 'true'
  ARM_ENDPOINT: 'https://management.azure.com'
  RUN_HISTORY_EXTRA_HOSTS: ''
  RUN_HISTORY_INCIDENT_SECONDS: '30'
  RUN_HISTORY_TICK_SECONDS: '120'
  RUN_HISTORY_MAX_STEPS: '3'
  RUN_HISTORY_RECENT_RUNS: '10'
  // The watched workspaces are also those whose schedules scan_schedules checks.
  AML_WORKSPACE_IDS: join(amlWorkspaceIds, ',')
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    location: location
    // azd finds the app to deploy the `api` service (azure.yaml) to by this tag.
    tags: union(tags, { 'azd-service-name': 'api' })
    planName: 'plan-${resourceToken}'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: applicationInsightsAccess.outputs.connectionString
    appSettings: union(appSettings, appSettingOverrides)
    teamsWebhookSecrets: teamsWebhookSecrets
  }
}

module alerts 'app/alerts.bicep' = if (deployAlertRules && functionCodeDeployed) {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    functionAppId: functionApp.outputs.id
    functionAppHostName: functionApp.outputs.defaultHostName
    amlWorkspaceIds: amlWorkspaceIds
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
    actionGroupName: 'ag-${resourceToken}'
    failedRunsThreshold: failedRunsThreshold
    failedRunsSeverity: failedRunsAlertSeverity
    failedRunsLogAlertSeverity: failedRunsLogAlertSeverity
  }
}

// Alerts on the app itself, to people, by Azure Monitor's own email: created in the first provision (no receiver
// here needs the code), and working when the app or ACS does not.
module selfMonitoring 'app/self-monitoring.bicep' = if (deploySelfMonitoring) {
  name: 'self-monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: 'ag-self-${resourceToken}'
    emailAddresses: empty(selfMonitoringEmails) ? emailRecipients : selfMonitoringEmails
    applicationInsightsId: applicationInsightsAccess.outputs.id
    functionAppName: functionApp.outputs.name
    failedScanTicks: selfMonitoringFailedScanTicks
    severity: selfMonitoringAlertSeverity
  }
}

// ---------- Outputs (azd stores them in .azure/<env>/.env) ----------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output ALERT_WEBHOOK_URL string = 'https://${functionApp.outputs.defaultHostName}/api/alerts'
output ACTION_GROUP_ID string = deployAlertRules && functionCodeDeployed ? alerts.outputs.actionGroupId : ''
output ACS_ENDPOINT string = emailSenderAccess.outputs.endpoint
output EMAIL_SENDER string = emailSender
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SELF_MONITORING_ACTION_GROUP_ID string = deploySelfMonitoring ? selfMonitoring.outputs.actionGroupId : ''
output LOG_ANALYTICS_WORKSPACE_RESOURCE_ID string = monitoring.outputs.logAnalyticsWorkspaceId
output CUSTOM_EMAIL_DOMAIN_VERIFICATION_RECORDS object = useExistingCommunicationService ? {} : communication.outputs.customDomainVerificationRecords
