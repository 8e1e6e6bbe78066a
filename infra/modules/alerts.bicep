// Alerts and a workbook over the telemetry the app sends (issue 18; README "Operations"): the core's
// OpenTelemetry metrics arrive in Application Insights as customMetrics named as in
// shared/telemetry/telemetry.ts (METRIC), their attributes in customDimensions; the Functions host's
// invocations are its requests. Dead letters are read from Service Bus itself, which counts every one.

@description('Azure region of the log alert rules.')
param location string

@description('Resource id of the Application Insights component the app sends telemetry to.')
param appInsightsId string

@description('Resource id of the Service Bus namespace holding the replication queue.')
param serviceBusNamespaceId string

@description('Name of the replication queue, whose dead-lettered messages raise an alert.')
param replicationQueueName string

@description('Share of requests answered 5xx, in percent over 15 minutes, above which an alert fires.')
@minValue(1)
@maxValue(100)
param serverErrorRatePercent int = 5

@description('Replication lag of a tenant\'s entity, in seconds (the longest over 15 minutes), above which an alert fires.')
@minValue(30)
param replicationLagThresholdSeconds int = 900

@description('E-mail address that receives the alerts; empty: the alerts fire without notifying anyone (add an action group later).')
param alertEmail string = ''

@description('Tags applied to the alert rules, the action group and the workbook.')
param tags object = {}

var notify = !empty(alertEmail)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (notify) {
  name: 'ag-offline-sync-${uniqueString(appInsightsId)}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'offsync'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = notify ? [{ actionGroupId: actionGroup.id }] : []

// Log alerts: one KQL query each over Application Insights, evaluated every 5 minutes.
var logAlerts = [
  {
    name: 'server-errors'
    severity: 1
    description: 'More than ${serverErrorRatePercent}% of HTTP requests answered 5xx in 15 minutes.'
    query: 'requests | summarize total = count(), errors = countif(toint(resultCode) >= 500) | where total > 0 | extend ratePercent = 100.0 * errors / total | where ratePercent > ${serverErrorRatePercent}'
  }
  {
    name: 'replication-lag'
    severity: 2
    description: 'A tenant\'s entity waited more than ${replicationLagThresholdSeconds} s between a replication message\'s enqueueing and its work done (offline_sync.replication.lag).'
    query: 'customMetrics | where name == "offline_sync.replication.lag" | extend org = tostring(customDimensions["offline_sync.org"]), entity = tostring(customDimensions["offline_sync.entity"]) | summarize lagSeconds = max(valueMax) by org, entity | where lagSeconds > ${replicationLagThresholdSeconds}'
  }
  {
    name: 'provisioning-failed'
    severity: 2
    description: 'A tenant\'s provisioning or deprovisioning run ended failed (offline_sync.provisioning.runs, outcome failed): see its status route.'
    query: 'customMetrics | where name == "offline_sync.provisioning.runs" and tostring(customDimensions["offline_sync.outcome"]) == "failed" | extend org = tostring(customDimensions["offline_sync.org"]), action = tostring(customDimensions["offline_sync.provisioning.action"]) | summarize failures = sum(valueSum) by org, action | where failures > 0'
  }
]

resource logAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for alert in logAlerts: {
  name: 'alert-offline-sync-${alert.name}-${uniqueString(appInsightsId)}'
  location: location
  tags: tags
  properties: {
    displayName: 'Offline sync: ${alert.name}'
    description: alert.description
    severity: alert.severity
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: alert.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: map(actions, a => a.actionGroupId)
    }
  }
}]

// Every dead-lettered replication message needs an operator: the dead-letter queue keeps its reason.
resource deadLetterAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-offline-sync-dead-letters-${uniqueString(appInsightsId)}'
  location: 'global'
  tags: tags
  properties: {
    description: 'The replication queue holds dead-lettered messages (DeadletteredMessages above 0).'
    severity: 1
    enabled: true
    scopes: [serviceBusNamespaceId]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'deadLetters'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [replicationQueueName]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    autoMitigate: true
    actions: actions
  }
}

// The workbook: the main metrics, one KQL query per tile.
var workbookTiles = [
  {
    title: 'Requests by route and status'
    query: 'customMetrics | where name == "http.server.request.duration" | extend route = tostring(customDimensions["http.route"]), status = tostring(customDimensions["http.response.status_code"]) | summarize requests = sum(valueCount) by route, status | order by requests desc'
    visualization: 'table'
  }
  {
    title: 'Server time by route (average ms)'
    query: 'customMetrics | where name == "http.server.request.duration" | extend route = tostring(customDimensions["http.route"]) | summarize averageMs = 1000 * sum(valueSum) / sum(valueCount) by route, bin(timestamp, 5m) | render timechart'
    visualization: 'timechart'
  }
  {
    title: 'Bytes sent by route'
    query: 'customMetrics | where name == "http.server.response.body.size" | extend route = tostring(customDimensions["http.route"]) | summarize bytes = sum(valueSum) by route, bin(timestamp, 1h) | render timechart'
    visualization: 'timechart'
  }
  {
    title: 'Rows sent per tenant'
    query: 'customMetrics | where name == "offline_sync.sync.rows_sent" | extend org = tostring(customDimensions["offline_sync.org"]) | summarize rows = sum(valueSum) by org, bin(timestamp, 1h) | render timechart'
    visualization: 'timechart'
  }
  {
    title: 'Upload results by status'
    query: 'customMetrics | where name == "offline_sync.sync.upload.results" | extend org = tostring(customDimensions["offline_sync.org"]), status = tostring(customDimensions["offline_sync.status"]) | summarize operations = sum(valueSum) by org, status'
    visualization: 'table'
  }
  {
    title: 'Replication lag per tenant and entity (longest, s)'
    query: 'customMetrics | where name == "offline_sync.replication.lag" | extend org = tostring(customDimensions["offline_sync.org"]), entity = tostring(customDimensions["offline_sync.entity"]) | summarize lagSeconds = max(valueMax) by org, entity, bin(timestamp, 15m) | render timechart'
    visualization: 'timechart'
  }
  {
    title: 'Replication messages by tenant, type and outcome'
    query: 'customMetrics | where name == "offline_sync.replication.messages" | extend org = tostring(customDimensions["offline_sync.org"]), type = tostring(customDimensions["offline_sync.message.type"]), outcome = tostring(customDimensions["offline_sync.outcome"]) | summarize messages = sum(valueSum) by org, type, outcome'
    visualization: 'table'
  }
  {
    title: 'Replication: dead letters and re-sends for throttling'
    query: 'customMetrics | where name in ("offline_sync.replication.dead_lettered", "offline_sync.replication.throttled_resends") | extend org = tostring(customDimensions["offline_sync.org"]) | summarize messages = sum(valueSum) by name, org'
    visualization: 'table'
  }
  {
    title: 'Provisioning step durations (s)'
    query: 'customMetrics | where name == "offline_sync.provisioning.step.duration" | extend action = tostring(customDimensions["offline_sync.provisioning.action"]), step = tostring(customDimensions["offline_sync.provisioning.step"]), outcome = tostring(customDimensions["offline_sync.outcome"]) | summarize runs = sum(valueCount), averageSeconds = sum(valueSum) / sum(valueCount), longestSeconds = max(valueMax) by action, step, outcome'
    visualization: 'table'
  }
  {
    title: 'Provisioning runs by tenant and outcome'
    query: 'customMetrics | where name == "offline_sync.provisioning.runs" | extend org = tostring(customDimensions["offline_sync.org"]), action = tostring(customDimensions["offline_sync.provisioning.action"]), outcome = tostring(customDimensions["offline_sync.outcome"]) | summarize runs = sum(valueSum) by org, action, outcome'
    visualization: 'table'
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: [for (tile, i) in workbookTiles: {
    type: 3
    name: 'tile-${i}'
    content: {
      version: 'KqlItem/1.0'
      title: tile.title
      query: tile.query
      size: 0
      timeContext: {
        durationMs: 86400000
      }
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: tile.visualization
    }
  }]
  isLocked: false
  fallbackResourceIds: [appInsightsId]
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'offline-sync-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Offline sync operations'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
  }
}

@description('Resource id of the operations workbook.')
output workbookId string = workbook.id
