// apim-ip-reconciler: everything `azd up` (or `az deployment sub create`) deploys.
// One resource group holds the app; role assignments reach out to the source APIM services and the
// target resources, wherever they live, each on that single resource with the least role that works.
targetScope = 'subscription'

import { builtInRoles, customRoles, parseResourceId } from 'modules/roles.bicep'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; seeds every resource name.')
param environmentName string

@minLength(1)
@description('Azure region of the resource group and every resource in it (Flex Consumption must be offered there).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Name of the resource group to create. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('The configuration document of docs/design/product.md §3 (sources, targets, safety, ...). Its schema is the reconciler\'s own (apim-ip-reconciler schema); the app validates it at start-up. Stored as RECONCILER_CONFIG.')
#disable-next-line use-user-defined-types
param reconcilerConfig object

@description('NCRONTAB schedule of the timer trigger (RECONCILE_SCHEDULE).')
param reconcileSchedule string = '0 */5 * * * *'

@description('Minutes between two runs of reconcileSchedule: the dead-man alert fires after 3 intervals without a run. Keep it in step with reconcileSchedule.')
@minValue(1)
@maxValue(960)
param reconcileIntervalMinutes int = 5

@description('enforce applies changes; observe plans and records drift but writes nothing (RECONCILER_MODE).')
@allowed([
  'enforce'
  'observe'
])
param reconcilerMode string = 'enforce'

@secure()
@description('Cloudflare API token, stored in Key Vault. Empty: no secret is written (set it later in the vault; needed only for cloudflare.* targets).')
param cloudflareApiToken string = ''

@minLength(3)
@description('E-mail address that receives the alerts.')
param alertEmailAddress string

@description('Resource IDs of the source API Management services (any resource group or subscription): API Management Service Reader Role on each.')
param sourceApimIds string[] = []

@description('Resource IDs of the network security groups holding azure.nsgRule targets: NSG rule writer custom role on each.')
param targetNsgIds string[] = []

@description('Resource IDs of the IP Groups of azure.ipGroup targets: IP Group writer custom role on each.')
param targetIpGroupIds string[] = []

@description('Resource IDs of the firewall policies holding azure.firewallPolicyRule targets: rule collection group writer custom role on each.')
param targetFirewallPolicyIds string[] = []

@description('Resource IDs of the web apps of azure.appServiceAccessRestriction targets: access restriction writer custom role on each.')
param targetSiteIds string[] = []

@description('Blob container for the reconciler state and run lock (RECONCILER_STATE_CONTAINER).')
@minLength(3)
@maxLength(63)
param stateContainerName string = 'apim-ip-reconciler'

@description('Key Vault purge protection. On (the default) it can never be turned off; turn it off only for throw-away environments.')
param keyVaultPurgeProtection bool = true

@description('Days a deleted key vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 7

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
  application: 'apim-ip-reconciler'
}
var serviceName = 'reconciler'
var functionAppName = 'func-${resourceToken}'
var deploymentNamePrefix = 'apimipr-${resourceToken}'
var cloudflareTokenSecretName = 'cloudflare-api-token'
var resourceGroupNameResolved = !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
var identityName = 'id-${resourceToken}'
var storageAccountName = 'st${resourceToken}'
var applicationInsightsName = 'appi-${resourceToken}'
var keyVaultName = 'kv-${resourceToken}'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: resourceGroupNameResolved
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: '${deploymentNamePrefix}-identity'
  scope: rg
  params: {
    location: location
    tags: tags
    identityName: identityName
  }
}

module storage 'modules/storage.bicep' = {
  name: '${deploymentNamePrefix}-storage'
  scope: rg
  params: {
    location: location
    tags: tags
    storageAccountName: storageAccountName
    deploymentContainerName: 'app-package-${take(functionAppName, 32)}'
    stateContainerName: stateContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: '${deploymentNamePrefix}-monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: applicationInsightsName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: '${deploymentNamePrefix}-keyvault'
  scope: rg
  params: {
    location: location
    tags: tags
    keyVaultName: keyVaultName
    cloudflareTokenSecretName: cloudflareTokenSecretName
    cloudflareApiToken: cloudflareApiToken
    enablePurgeProtection: keyVaultPurgeProtection
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
  }
}

module appRoles 'modules/app-roles.bicep' = {
  name: '${deploymentNamePrefix}-app-roles'
  scope: rg
  params: {
    // Role assignment names are guid(scope, principal, role): a re-created identity never collides with
    // an assignment left behind by its predecessor, so the principal ID (known at run time) is in them.
    #disable-next-line what-if-short-circuiting
    principalId: identity.outputs.principalId
    storageAccountName: storageAccountName
    applicationInsightsName: applicationInsightsName
    keyVaultName: keyVaultName
  }
  dependsOn: [
    storage
    monitoring
    keyVault
  ]
}

module functionApp 'modules/function-app.bicep' = {
  name: '${deploymentNamePrefix}-function-app'
  scope: rg
  params: {
    location: location
    tags: tags
    planName: 'plan-${resourceToken}'
    functionAppName: functionAppName
    serviceName: serviceName
    identityId: identity.outputs.identityId
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    stateContainerName: storage.outputs.stateContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    cloudflareTokenSecretUri: keyVault.outputs.cloudflareTokenSecretUri
    reconcilerConfigJson: string(reconcilerConfig)
    reconcileSchedule: reconcileSchedule
    reconcilerMode: reconcilerMode
  }
  // The app resolves its Key Vault reference and reaches its storage with roles that must exist first.
  dependsOn: [
    appRoles
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: '${deploymentNamePrefix}-alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'apim-ip-reconciler-${resourceToken}'
    actionGroupName: 'ag-${resourceToken}'
    alertEmailAddress: alertEmailAddress
    applicationInsightsId: monitoring.outputs.applicationInsightsId
    reconcileIntervalMinutes: reconcileIntervalMinutes
  }
}

module workbook 'modules/workbook.bicep' = {
  name: '${deploymentNamePrefix}-workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    nameSeed: resourceToken
    applicationInsightsId: monitoring.outputs.applicationInsightsId
  }
}

// ---- Least privilege on the sources and targets ----------------------------------------------------

module apimReaders 'modules/apim-reader.bicep' = [
  for (id, i) in sourceApimIds: {
    name: '${deploymentNamePrefix}-apim-${i}'
    scope: resourceGroup(parseResourceId(id).subscriptionId, parseResourceId(id).resourceGroup)
    params: {
      apimName: parseResourceId(id).name
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
    }
  }
]

// One custom role per target type, defined only when a target of that type exists. Its assignable
// scopes are the resource groups of those targets; it is assigned on each target resource alone.
var roleGuids = {
  nsg: guid(subscription().id, environmentName, 'apim-ip-reconciler', 'nsgRuleWriter')
  ipGroup: guid(subscription().id, environmentName, 'apim-ip-reconciler', 'ipGroupWriter')
  firewallPolicy: guid(subscription().id, environmentName, 'apim-ip-reconciler', 'firewallPolicyRuleWriter')
  site: guid(subscription().id, environmentName, 'apim-ip-reconciler', 'siteAccessRestrictionWriter')
}

module nsgRole 'modules/custom-role.bicep' = if (!empty(targetNsgIds)) {
  name: '${deploymentNamePrefix}-role-nsg'
  scope: subscription(empty(targetNsgIds) ? subscription().subscriptionId : parseResourceId(targetNsgIds[0]).subscriptionId)
  params: {
    roleGuid: roleGuids.nsg
    roleName: 'apim-ip-reconciler ${customRoles.nsgRuleWriter.label} (${environmentName}-${resourceToken})'
    roleDescription: customRoles.nsgRuleWriter.description
    actions: customRoles.nsgRuleWriter.actions
    assignableScopes: union(map(targetNsgIds, id => parseResourceId(id).resourceGroupId), [])
  }
}

module nsgAccess 'modules/nsg-access.bicep' = [
  for (id, i) in targetNsgIds: {
    name: '${deploymentNamePrefix}-nsg-${i}'
    scope: resourceGroup(parseResourceId(id).subscriptionId, parseResourceId(id).resourceGroup)
    params: {
      nsgName: parseResourceId(id).name
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
      roleGuid: roleGuids.nsg
    }
    dependsOn: [
      nsgRole
    ]
  }
]

module ipGroupRole 'modules/custom-role.bicep' = if (!empty(targetIpGroupIds)) {
  name: '${deploymentNamePrefix}-role-ipgroup'
  scope: subscription(empty(targetIpGroupIds)
    ? subscription().subscriptionId
    : parseResourceId(targetIpGroupIds[0]).subscriptionId)
  params: {
    roleGuid: roleGuids.ipGroup
    roleName: 'apim-ip-reconciler ${customRoles.ipGroupWriter.label} (${environmentName}-${resourceToken})'
    roleDescription: customRoles.ipGroupWriter.description
    actions: customRoles.ipGroupWriter.actions
    assignableScopes: union(map(targetIpGroupIds, id => parseResourceId(id).resourceGroupId), [])
  }
}

module ipGroupAccess 'modules/ip-group-access.bicep' = [
  for (id, i) in targetIpGroupIds: {
    name: '${deploymentNamePrefix}-ipgroup-${i}'
    scope: resourceGroup(parseResourceId(id).subscriptionId, parseResourceId(id).resourceGroup)
    params: {
      ipGroupName: parseResourceId(id).name
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
      roleGuid: roleGuids.ipGroup
    }
    dependsOn: [
      ipGroupRole
    ]
  }
]

module firewallPolicyRole 'modules/custom-role.bicep' = if (!empty(targetFirewallPolicyIds)) {
  name: '${deploymentNamePrefix}-role-fwpolicy'
  scope: subscription(empty(targetFirewallPolicyIds)
    ? subscription().subscriptionId
    : parseResourceId(targetFirewallPolicyIds[0]).subscriptionId)
  params: {
    roleGuid: roleGuids.firewallPolicy
    roleName: 'apim-ip-reconciler ${customRoles.firewallPolicyRuleWriter.label} (${environmentName}-${resourceToken})'
    roleDescription: customRoles.firewallPolicyRuleWriter.description
    actions: customRoles.firewallPolicyRuleWriter.actions
    assignableScopes: union(map(targetFirewallPolicyIds, id => parseResourceId(id).resourceGroupId), [])
  }
}

module firewallPolicyAccess 'modules/firewall-policy-access.bicep' = [
  for (id, i) in targetFirewallPolicyIds: {
    name: '${deploymentNamePrefix}-fwpolicy-${i}'
    scope: resourceGroup(parseResourceId(id).subscriptionId, parseResourceId(id).resourceGroup)
    params: {
      firewallPolicyName: parseResourceId(id).name
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
      roleGuid: roleGuids.firewallPolicy
    }
    dependsOn: [
      firewallPolicyRole
    ]
  }
]

module siteRole 'modules/custom-role.bicep' = if (!empty(targetSiteIds)) {
  name: '${deploymentNamePrefix}-role-site'
  scope: subscription(empty(targetSiteIds) ? subscription().subscriptionId : parseResourceId(targetSiteIds[0]).subscriptionId)
  params: {
    roleGuid: roleGuids.site
    roleName: 'apim-ip-reconciler ${customRoles.siteAccessRestrictionWriter.label} (${environmentName}-${resourceToken})'
    roleDescription: customRoles.siteAccessRestrictionWriter.description
    actions: customRoles.siteAccessRestrictionWriter.actions
    assignableScopes: union(map(targetSiteIds, id => parseResourceId(id).resourceGroupId), [])
  }
}

module siteAccess 'modules/site-access.bicep' = [
  for (id, i) in targetSiteIds: {
    name: '${deploymentNamePrefix}-site-${i}'
    scope: resourceGroup(parseResourceId(id).subscriptionId, parseResourceId(id).resourceGroup)
    params: {
      siteName: parseResourceId(id).name
      #disable-next-line what-if-short-circuiting
      principalId: identity.outputs.principalId
      roleGuid: roleGuids.site
    }
    dependsOn: [
      siteRole
    ]
  }
]

// ---- Outputs (azd stores them in the environment) ---------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.functionAppName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.keyVaultName
output RECONCILER_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output RECONCILER_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
output RECONCILER_WORKBOOK_ID string = workbook.outputs.workbookId
output RECONCILER_ACTION_GROUP_ID string = alerts.outputs.actionGroupId
output RECONCILER_DEAD_MAN_WINDOW string = alerts.outputs.deadManWindow
output RECONCILER_ROLE_DEFINITION_NAMES {
  apimReader: string
  nsgRuleWriter: string
  ipGroupWriter: string
  firewallPolicyRuleWriter: string
  siteAccessRestrictionWriter: string
} = {
  apimReader: builtInRoles.apiManagementServiceReader
  nsgRuleWriter: empty(targetNsgIds) ? '' : roleGuids.nsg
  ipGroupWriter: empty(targetIpGroupIds) ? '' : roleGuids.ipGroup
  firewallPolicyRuleWriter: empty(targetFirewallPolicyIds) ? '' : roleGuids.firewallPolicy
  siteAccessRestrictionWriter: empty(targetSiteIds) ? '' : roleGuids.site
}
