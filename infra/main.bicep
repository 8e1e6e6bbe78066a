// Offline-sync backend on Azure: Function App (Flex Consumption) running as one user-assigned
// managed identity, Cosmos DB for NoSQL, Service Bus, storage for the Functions host and Durable
// Functions, Log Analytics + Application Insights, and Key Vault for Dataverse client secrets.
//
// No key and no secret reaches the app settings: every connection is identity-based and every
// permission is a role assignment at the narrowest scope that works.
//
//   azd up     (azure.yaml: provisions this template into one resource group, then deploys the app)
//   az deployment group create -g <group> -f infra/main.bicep -p infra/main.parameters.json -p authAudience=…
targetScope = 'resourceGroup'

@description('Days the change sequence keeps each change (Cosmos marker TTL); a device idle longer starts over from its rows.')
@minValue(1)
@maxValue(365)
param changeRetentionDays int = 14

@description('Azure region of every resource. Defaults to the resource group\'s region (it must offer the Flex Consumption plan).')
param location string = resourceGroup().location

@description('Short name (2-12 lower-case letters and digits) that prefixes every resource name; a hash of the resource group keeps names unique.')
@minLength(2)
@maxLength(12)
param baseName string = 'offsync'

@description('Tags applied to every resource.')
param tags object = {}

@description('Audiences Microsoft Entra tokens may carry, comma-separated (AUTH_AUDIENCE): this API\'s app registration client id (v2.0 tokens) and api://<client id> (v1.0 tokens). No default: each deployment has its own registration, and a placeholder could never match.')
@minLength(1)
param authAudience string

@description('Client id the admin page (/api/console) signs in with through MSAL.js (ADMIN_CONSOLE_CLIENT_ID): this API\'s app registration, or a single-page app\'s registered with the redirect URI https://<app>/api/console. Empty: the page offers only pasting a token. A parameter, not a setting made by hand: every provision replaces the app settings with these.')
param adminConsoleClientId string = ''

@description('Microsoft Entra tenant of the operators who register tenants (OPERATOR_TENANT_ID). Defaults to the subscription\'s tenant.')
param operatorTenantId string = subscription().tenantId

@description('Cosmos DB capacity: serverless (pay per request) or provisioned autoscale throughput.')
@allowed([
  'serverless'
  'autoscale'
])
param cosmosCapacityMode string = 'serverless'

@description('Name of the Cosmos DB control database (COSMOS_CONTROL_DATABASE).')
param cosmosControlDatabaseName string = 'offline-control'

@description('Prefix of tenant database names; a tenant\'s database is `<prefix><org>` (COSMOS_DATABASE_PREFIX).')
param cosmosDatabasePrefix string = 'tenant-'

@description('Autoscale maximum RU/s of the control database (autoscale mode only).')
@minValue(1000)
param cosmosControlDatabaseMaxThroughput int = 1000

@description('Autoscale maximum RU/s that provisioning gives each tenant database (autoscale mode only; COSMOS_TENANT_DATABASE_MAX_THROUGHPUT).')
@minValue(1000)
param cosmosTenantDatabaseMaxThroughput int = 1000

@description('Service Bus tier.')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Name of the replication queue (REPLICATION_QUEUE_NAME).')
param replicationQueueName string = 'replication'

@description('Lock duration of replication messages (ISO 8601, at most PT5M; the host renews the lock while a message is processed).')
param replicationQueueLockDuration string = 'PT1M'

@description('Deliveries of a replication message before it is dead-lettered.')
@minValue(1)
@maxValue(100)
param replicationQueueMaxDeliveryCount int = 10

@description('Node.js major version of the Functions runtime: 22 (Node.js 20 reached its end of life in April 2026; still allowed).')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '22'

@description('Most instances the Function App may scale out to (Flex Consumption: 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each Function App instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Days Log Analytics keeps logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Turn on Key Vault purge protection (recommended for production; it cannot be turned off later).')
param keyVaultPurgeProtection bool = true

@description('Replication lag (seconds) of a tenant\'s entity above which the replication-lag alert fires.')
@minValue(30)
param replicationLagAlertSeconds int = 900

@description('E-mail address the alerts notify (5xx rate, dead letters, replication lag, provisioning failed); empty: alerts fire without notifying.')
param alertEmail string = ''

@description('Optional object id of the operator (user or group) who stores Dataverse client secrets in Key Vault; gets "Key Vault Secrets Officer" on the vault. Empty grants no one.')
param keyVaultSecretsOfficerPrincipalId string = ''

@description('Principal type of keyVaultSecretsOfficerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param keyVaultSecretsOfficerPrincipalType string = 'User'

var suffix = uniqueString(subscription().id, resourceGroup().id, baseName)
// Names: lower case (Cosmos DB and storage demand it), hyphen-free where the resource type forbids hyphens.
var prefix = toLower(baseName)
var compactName = replace(prefix, '-', '')

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${prefix}-${suffix}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${prefix}-${suffix}'
    appInsightsName: 'appi-${prefix}-${suffix}'
    location: location
    retentionInDays: logRetentionInDays
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${compactName}${suffix}', 24)
    location: location
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  params: {
    accountName: 'cosmos-${prefix}-${suffix}'
    location: location
    capacityMode: cosmosCapacityMode
    controlDatabaseMaxThroughput: cosmosControlDatabaseMaxThroughput
    controlDatabaseName: cosmosControlDatabaseName
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  name: 'serviceBus'
  params: {
    namespaceName: 'sb-${prefix}-${suffix}'
    location: location
    sku: serviceBusSku
    queueName: replicationQueueName
    lockDuration: replicationQueueLockDuration
    maxDeliveryCount: replicationQueueMaxDeliveryCount
    principalId: identity.outputs.principalId
    tags: tags
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'keyVault'
  params: {
    name: take('kv-${compactName}-${suffix}', 24)
    location: location
    enablePurgeProtection: keyVaultPurgeProtection
    principalId: identity.outputs.principalId
    secretsOfficerPrincipalId: keyVaultSecretsOfficerPrincipalId
    secretsOfficerPrincipalType: keyVaultSecretsOfficerPrincipalType
    tags: tags
  }
}

// The app settings, one object so a test (test/infra) can compare its names with shared/config.ts.
// Product settings use exactly the names `settingsSchema` reads; the rest are Functions host
// settings (identity-based storage, the Service Bus trigger connection, telemetry).
var appSettings = {
  // Functions host and Durable Functions storage, through the identity.
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  // Telemetry; ingestion is authenticated with the identity (local auth is disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identity.outputs.clientId}'
  // The Service Bus trigger's connection `ServiceBusConnection`; the sender reads the namespace too.
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identity.outputs.clientId
  // Product settings (shared/config.ts).
  STORE_KIND: 'cosmos'
  COSMOS_ENDPOINT: cosmos.outputs.endpoint
  COSMOS_CONTROL_DATABASE: cosmos.outputs.controlDatabaseName
  COSMOS_DATABASE_PREFIX: cosmosDatabasePrefix
  COSMOS_TENANT_DATABASE_MAX_THROUGHPUT: cosmosCapacityMode == 'autoscale' ? string(cosmosTenantDatabaseMaxThroughput) : ''
  AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
  COSMOS_RESOURCE_GROUP: resourceGroup().name
  COSMOS_ACCOUNT_NAME: cosmos.outputs.accountName
  AZURE_CLIENT_ID: identity.outputs.clientId
  AUTH_ENTRA_ENABLED: 'true'
  AUTH_AUDIENCE: authAudience
  AUTH_LOCAL_ENABLED: 'false'
  ADMIN_CONSOLE_CLIENT_ID: adminConsoleClientId
  OPERATOR_TENANT_ID: operatorTenantId
  QUEUE_KIND: 'servicebus'
  REPLICATION_QUEUE_NAME: serviceBus.outputs.queueName
  REPLICATION_QUEUE_MAX_DELIVERY_COUNT: string(replicationQueueMaxDeliveryCount)
  KEY_VAULT_URI: keyVault.outputs.uri
  CHANGE_RETENTION_DAYS: string(changeRetentionDays)
  DEMO_TENANT: 'false'
}

module functionApp 'modules/function-app.bicep' = {
  name: 'functionApp'
  params: {
    name: 'func-${prefix}-${suffix}'
    planName: 'plan-${prefix}-${suffix}'
    location: location
    identityId: identity.outputs.id
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
    azdServiceName: 'api'
    tags: tags
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    appInsightsId: monitoring.outputs.appInsightsId
    serviceBusNamespaceId: serviceBus.outputs.namespaceId
    replicationQueueName: serviceBus.outputs.queueName
    replicationLagThresholdSeconds: replicationLagAlertSeconds
    alertEmail: alertEmail
    tags: tags
  }
}

@description('Name of the Function App (for `az functionapp deploy`).')
output functionAppName string = functionApp.outputs.name

@description('Default host name of the Function App; the API is at https://<host>/api/.')
output functionAppDefaultHostname string = functionApp.outputs.defaultHostname

@description('Cosmos DB account endpoint.')
output cosmosEndpoint string = cosmos.outputs.endpoint

@description('Service Bus namespace name.')
output serviceBusNamespace string = serviceBus.outputs.namespaceName

@description('Fully qualified Service Bus namespace host name.')
output serviceBusFullyQualifiedNamespace string = serviceBus.outputs.fullyQualifiedNamespace

@description('Name of the replication queue.')
output replicationQueueName string = serviceBus.outputs.queueName

@description('Key Vault URI (Dataverse client secrets).')
output keyVaultUri string = keyVault.outputs.uri

@description('Key Vault name (for `az keyvault secret set --vault-name`).')
output keyVaultName string = keyVault.outputs.name

@description('Client id of the managed identity (for a Dataverse application user when a tenant uses the managed identity).')
output managedIdentityClientId string = identity.outputs.clientId

@description('Resource id of the operations workbook (Application Insights > Workbooks).')
output operationsWorkbookId string = alerts.outputs.workbookId
