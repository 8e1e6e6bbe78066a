// The Function App on the Flex Consumption plan (FC1), running as the user-assigned identity. The
// platform pulls the app package from a blob container with that identity, and the app settings
// (built in main.bicep from the names shared/config.ts reads) carry no secret.

@description('Name of the Function App (globally unique host name).')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Azure region of the plan and the app.')
param location string

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Blob endpoint of the storage account that holds the deployment package.')
param storageBlobEndpoint string

@description('Blob container the platform deploys the app package from.')
param deploymentContainerName string

@description('Node.js major version of the Functions runtime: 22 (Node.js 20 reached its end of life in April 2026; still allowed).')
@allowed([
  '20'
  '22'
])
param nodeVersion string = '22'

@description('Most instances the app may scale out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('App settings as name/value pairs (no secrets; see main.bicep).')
param appSettings object

@description('Tags applied to the plan and the app.')
param tags object = {}

@description('Name of the azure.yaml service deployed to this app: `azd deploy` finds the app by its azd-service-name tag.')
param azdServiceName string = 'api'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
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

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // Only the app carries the azd tag: azd deploys to the one resource that has it.
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
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
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption sets FUNCTIONS_WORKER_RUNTIME and the extension version itself.
      appSettings: [for setting in items(appSettings): {
        name: setting.key
        value: setting.value
      }]
    }
  }
}

// Deployments authenticate with Microsoft Entra ID (`azd deploy`, `az functionapp deploy`); publishing profiles
// with basic credentials are turned off.
resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

@description('Name of the Function App.')
output name string = site.name

@description('Default host name of the Function App.')
output defaultHostname string = site.properties.defaultHostName
