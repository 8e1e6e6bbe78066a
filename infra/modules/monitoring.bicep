// Log Analytics workspace and workspace-based Application Insights with local (instrumentation key)
// authentication disabled: telemetry is accepted only with a Microsoft Entra token, so the
// identity gets "Monitoring Metrics Publisher" on the component and nothing else.

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Azure region of the monitoring resources.')
param location string

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Principal id of the managed identity that publishes telemetry.')
param principalId string

@description('Tags applied to the monitoring resources.')
param tags object = {}

// Monitoring Metrics Publisher: the role Entra-authenticated ingestion requires.
var metricsPublisherRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // Entra-only ingestion: the instrumentation key alone cannot send telemetry.
    DisableLocalAuth: true
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, metricsPublisherRoleId)
  scope: appInsights
  properties: {
    roleDefinitionId: metricsPublisherRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// With DisableLocalAuth the component's endpoint address and instrumentation key grant nothing on
// their own (ingestion also needs an Entra token with the role above), so it is safe as an app
// setting and as a deployment output.
@description('Endpoint address of Application Insights (holds no secret: local auth is disabled).')
output appInsightsConnectionString string = appInsights.properties.ConnectionString

@description('Resource id of the Application Insights component.')
output appInsightsId string = appInsights.id
