// Cosmos DB for NoSQL: the control database (tenant registry, provisioning status) and, created at
// run time by provisioning, one database per tenant. Keys are disabled: the identity reaches the
// data plane through a Cosmos SQL role assignment and the management plane (create and delete
// tenant databases and containers, which the data plane refuses to Entra callers) through
// "Cosmos DB Operator".

@description('Name of the Cosmos DB account (3-44 lower-case letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(44)
param accountName string

@description('Azure region of the account.')
param location string

@description('Serverless (pay per request) or provisioned autoscale throughput.')
@allowed([
  'serverless'
  'autoscale'
])
param capacityMode string = 'serverless'

@description('Autoscale maximum RU/s of the control database (autoscale mode only).')
@minValue(1000)
param controlDatabaseMaxThroughput int = 1000

@description('Name of the control database.')
param controlDatabaseName string

@description('Principal id of the managed identity that reads and writes data and manages tenant databases.')
param principalId string

@description('Tags applied to the account.')
param tags object = {}

// Built-in "Cosmos DB Built-in Data Contributor" (data plane). It is granted at the account scope
// because tenant databases are created after deployment and a role scope cannot be a name prefix.
var dataContributorRoleId = '${account.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'

// "Cosmos DB Operator" (management plane, no data and no keys): lets provisioning create and delete
// tenant databases and their containers on this one account.
var cosmosOperatorRoleId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '230815da-be43-4aae-9cb4-875f7bd000aa')

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: capacityMode == 'serverless' ? [
      {
        name: 'EnableServerless'
      }
    ] : []
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource controlDatabase 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: controlDatabaseName
  properties: {
    resource: {
      id: controlDatabaseName
    }
    // Serverless accounts take no throughput settings; autoscale shares one budget across containers.
    options: capacityMode == 'autoscale' ? {
      autoscaleSettings: {
        maxThroughput: controlDatabaseMaxThroughput
      }
    } : {}
  }
}

// The control database's containers exactly as shared/store/cosmos/layout.ts (CONTROL_CONTAINERS)
// declares them: the app finds the control database in place and does not create them itself.
var controlContainers = [
  {
    id: 'docs'
    partitionKeyPath: '/pk'
  }
]

resource controlContainer 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = [for container in controlContainers: {
  parent: controlDatabase
  name: container.id
  properties: {
    resource: {
      id: container.id
      partitionKey: {
        paths: [
          container.partitionKeyPath
        ]
        kind: 'Hash'
        version: 2
      }
    }
  }
}]

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(account.id, principalId, dataContributorRoleId)
  properties: {
    roleDefinitionId: dataContributorRoleId
    principalId: principalId
    scope: account.id
  }
}

resource cosmosOperator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, principalId, cosmosOperatorRoleId)
  scope: account
  properties: {
    roleDefinitionId: cosmosOperatorRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

@description('Name of the Cosmos DB account (COSMOS_ACCOUNT_NAME).')
output accountName string = account.name

@description('Document endpoint of the account (COSMOS_ENDPOINT).')
output endpoint string = account.properties.documentEndpoint

@description('Name of the control database (COSMOS_CONTROL_DATABASE).')
output controlDatabaseName string = controlDatabase.name
