// API Management Service Reader Role for the reconciler on one source APIM service (any subscription).

import { builtInRoles } from 'roles.bicep'

@description('Name of the API Management service (in this module\'s resource group).')
param apimName string

@description('Principal (object) ID of the reconciler identity.')
param principalId string

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimName
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(apim.id, principalId, builtInRoles.apiManagementServiceReader)
  scope: apim
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId(
      'Microsoft.Authorization/roleDefinitions',
      builtInRoles.apiManagementServiceReader
    )
    description: 'apim-ip-reconciler: observe the gateway IPs and provisioning state of this service.'
  }
}
