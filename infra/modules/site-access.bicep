// The App Service access restriction writer custom role for the reconciler on one target web app.

@description('Name of the web app (in this module\'s resource group).')
param siteName string

@description('Principal (object) ID of the reconciler identity.')
param principalId string

@description('GUID of the custom role definition to assign.')
param roleGuid string

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: siteName
}

resource writer 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(site.id, principalId, roleGuid)
  scope: site
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleGuid)
    description: 'apim-ip-reconciler: keep the apim-* access restrictions of this app up to date.'
  }
}
