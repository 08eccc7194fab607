// The reconciler's user-assigned managed identity: the only principal that receives roles.

import { tagsType } from 'types.bicep'

@description('Location of the resources.')
param location string

@description('Tags applied to every resource.')
param tags tagsType

@description('Name of the user-assigned identity.')
param identityName string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = {
  name: identityName
  location: location
  tags: tags
}

output identityId string = identity.id
output identityName string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
