// Self-monitoring: log alert rules on the app's own failures, read from its Application Insights component, sent
// to an action group of plain email receivers. Azure Monitor sends those emails itself: nothing here goes through
// the app, its webhook or ACS, so an app that is down, or cannot send, still gets its own alarm out.
//
// The queries are in queries/app-insights/ (checked by tests/kql and run against the code's real log records by
// tests/integration/test_self_monitoring.py); their first `let` lines hold sample values replaced here.

param location string
param tags object = {}

param actionGroupName string

@description('Comma-separated addresses of the people told when the app itself fails.')
param emailAddresses string

@description('Resource id of the Application Insights component the Function App sends its telemetry to.')
param applicationInsightsId string

@description('Name of the Function App (its cloud_RoleName in Application Insights, which may hold other apps).')
param functionAppName string

@description('Alert when a scan could not read a Log Analytics workspace on this many of its ticks in a row.')
@minValue(1)
param failedScanTicks int = 3

@description('Severity of the self-monitoring alerts (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param severity int = 1

@description('How often the rules run (ISO 8601 duration).')
param evaluationFrequency string = 'PT5M'

@description('Look-back of the rules on failures and dead notices: wider than the frequency, since telemetry arrives minutes late.')
param windowSize string = 'PT15M'

@description('Look-back of the failed-scans rule: must hold the last failedScanTicks ticks of each scan (12 at the default 5-minute schedules).')
param scanWindowSize string = 'PT1H'

var appLine = 'let functionApp = "func-example";'
var appValue = 'let functionApp = "${functionAppName}";'
var ticksLine = 'let consecutiveTicks = 3;'

var rules = [
  {
    name: 'function-failures'
    displayName: 'AML alerting app: function invocations failed'
    description: 'A function of the alerting app failed (an exception or a timeout); the alerts it handles may be late. Application Insights, Failures; or requests | where success == "False".'
    query: replace(loadTextContent('queries/app-insights/function-failures.kql'), appLine, appValue)
    windowSize: windowSize
    dimensions: [
      'FunctionName'
    ]
  }
  {
    name: 'dead-notices'
    displayName: 'AML alerting app: notices went dead'
    description: 'The alerting app gave up sending an incident email after its last attempt: nobody got it. traces | where message startswith "AML_ALERTS_NOTICE_DEAD" lists them; python -m shared outbox shows them too.'
    query: replace(loadTextContent('queries/app-insights/dead-notices.kql'), appLine, appValue)
    windowSize: windowSize
    dimensions: []
  }
  {
    name: 'failed-scans'
    displayName: 'AML alerting app: a scan keeps failing'
    description: 'A scan of the alerting app could not read a Log Analytics workspace on ${failedScanTicks} ticks in a row (no access, a wrong workspace id, or the service failing); its failures are not being alerted on. traces | where message startswith "AML_ALERTS_SCAN_FAILED" says why.'
    query: replace(replace(loadTextContent('queries/app-insights/failed-scans.kql'), appLine, appValue), ticksLine, 'let consecutiveTicks = ${failedScanTicks};')
    windowSize: scanWindowSize
    dimensions: [
      'Scan'
      'WorkspaceId'
    ]
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'amlselfmon'
    enabled: true
    emailReceivers: [
      for (address, i) in split(emailAddresses, ','): {
        name: 'email-${i}'
        emailAddress: trim(address)
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for rule in rules: {
    name: 'aml-alerts-self-${rule.name}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: rule.displayName
      description: rule.description
      severity: severity
      enabled: true
      scopes: [
        applicationInsightsId
      ]
      evaluationFrequency: evaluationFrequency
      windowSize: rule.windowSize
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: rule.query
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
            dimensions: [
              for dimension in rule.dimensions: {
                name: dimension
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
]

output actionGroupId string = actionGroup.id
