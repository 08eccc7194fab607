// The IP Group writer custom role for the reconciler on one target IP Group.

@description('Name of the IP Group (in this module\'s resource group).')
param ipGroupName string

@description('Principal (object) ID of the reconciler identity.')
param principalId string

@description('GUID of the custom role definition to assign.')
param roleGuid string

resource ipGroup 'Microsoft.Network/ipGroups@2026-03-01' existing = {
  name: ipGroupName
}

resource writer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ipGroup.id, principalId, roleGuid)
  scope: ipGroup
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
    description: 'apim-ip-reconciler: keep the APIM addresses of this IP Group up to date.'
  }
}
