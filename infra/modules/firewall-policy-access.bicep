// The firewall policy rule collection group writer custom role for the reconciler on one firewall policy.

@description('Name of the firewall policy (in this module\'s resource group).')
param firewallPolicyName string

@description('Principal (object) ID of the reconciler identity.')
param principalId string

@description('GUID of the custom role definition to assign.')
param roleGuid string

resource policy 'Microsoft.Network/firewallPolicies@2026-03-01' existing = {
  name: firewallPolicyName
}

resource writer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(policy.id, principalId, roleGuid)
  scope: policy
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
    description: 'apim-ip-reconciler: keep the APIM addresses of a network rule of this policy up to date.'
  }
}
