// The one user-assigned managed identity the Function App runs as. Every data-plane permission in
// this deployment is granted to it, so the app holds no keys and no connection secrets.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region of the identity.')
param location string

@description('Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource id of the identity (assigned to the Function App).')
output id string = identity.id

@description('Client id of the identity (AZURE_CLIENT_ID and the `__clientId` connection settings).')
output clientId string = identity.properties.clientId

@description('Object (principal) id of the identity, the subject of every role assignment.')
output principalId string = identity.properties.principalId
