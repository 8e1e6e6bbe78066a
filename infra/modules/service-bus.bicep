// Service Bus namespace and the replication queue. Local (shared key) authentication is disabled and no
// authorization rule is declared: senders and receivers authenticate with Microsoft Entra ID only.
// The identity may send and receive on the replication queue and on nothing else.

@description('Name of the Service Bus namespace (6-50 letters, digits and hyphens, globally unique).')
@minLength(6)
@maxLength(50)
param namespaceName string

@description('Azure region of the namespace.')
param location string

@description('Service Bus tier. Standard suffices (scheduled messages, dead-lettering); Premium isolates capacity.')
@allowed([
  'Standard'
  'Premium'
])
param sku string = 'Standard'

@description('Name of the replication queue (REPLICATION_QUEUE_NAME).')
param queueName string

@description('How long a received message stays locked before another receiver may take it (ISO 8601, at most PT5M).')
param lockDuration string = 'PT1M'

@description('Deliveries before a failing message is dead-lettered.')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 10

@description('How long an undelivered message lives before it expires into the dead-letter queue (ISO 8601).')
param defaultMessageTimeToLive string = 'P14D'

@description('How long the queue remembers message ids to drop a resent duplicate (ISO 8601, PT20S to P7D). The app sends deterministic ids (scheduled runs, continuations, healing, deferrals).')
param duplicateDetectionWindow string = 'PT10M'

@description('Principal id of the managed identity that sends and receives replication work.')
param principalId string

@description('Tags applied to the namespace.')
param tags object = {}

var dataSenderRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39')
var dataReceiverRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0')

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: namespaceName
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
    capacity: sku == 'Premium' ? 1 : null
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: queueName
  properties: {
    lockDuration: lockDuration
    maxDeliveryCount: maxDeliveryCount
    defaultMessageTimeToLive: defaultMessageTimeToLive
    // An expired message is kept for inspection rather than silently dropped.
    deadLetteringOnMessageExpiration: true
    // Handlers are idempotent anyway; duplicate detection drops the messages sent twice under one
    // deterministic id (a scheduled run, a continuation, a healer's revival) before they cost a run.
    // It can only be set when the queue is created: an existing queue must be re-created to get it.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    requiresSession: false
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, dataSenderRoleId)
  scope: queue
  properties: {
    roleDefinitionId: dataSenderRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource dataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(queue.id, principalId, dataReceiverRoleId)
  scope: queue
  properties: {
    roleDefinitionId: dataReceiverRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the namespace.')
output namespaceName string = namespace.name

@description('Resource id of the namespace (alerts read its dead-letter count).')
output namespaceId string = namespace.id

// serviceBusEndpoint is `https://<name>.servicebus.windows.net:443/` (the suffix differs in
// sovereign clouds, so it is read rather than assumed).
@description('Fully qualified namespace host name (ServiceBusConnection__fullyQualifiedNamespace).')
output fullyQualifiedNamespace string = split(split(namespace.properties.serviceBusEndpoint, '//')[1], ':')[0]

@description('Name of the replication queue.')
output queueName string = queue.name
