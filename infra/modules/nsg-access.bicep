// The NSG rule writer custom role for the reconciler on one target network security group.

@description('Name of the network security group (in this module\'s resource group).')
param nsgName string

@description('Principal (object) ID of the reconciler identity.')
param principalId string

@description('GUID of the custom role definition to assign.')
param roleGuid string

resource nsg 'Microsoft.Network/networkSecurityGroups@2026-03-01' existing = {
  name: nsgName
}

resource writer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(nsg.id, principalId, roleGuid)
  scope: nsg
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
    description: 'apim-ip-reconciler: keep the APIM addresses of a security rule of this NSG up to date.'
  }
}
