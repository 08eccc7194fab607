// The one place where role definitions are named. Built-in role GUIDs are the same in every tenant.

@export()
@description('Built-in role definition GUIDs used by this deployment.')
var builtInRoles = {
  // API Management Service Reader Role: read-only access to API Management services (their IPs and state)
  apiManagementServiceReader: '71522526-b88f-4d52-b57f-d31fc3546d0d'
  // Monitoring Metrics Publisher: lets the identity send telemetry to Application Insights (local auth off)
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Storage Blob Data Owner: AzureWebJobsStorage blobs, the deployment package, the state blob and its lease
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Table Data Contributor: the Functions host's diagnostic events table in AzureWebJobsStorage
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Key Vault Secrets User: read secret contents (the Cloudflare token behind the Key Vault reference)
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

@export()
@description('The custom roles: each allows exactly the reads and writes one target type needs, and nothing else.')
var customRoles = {
  nsgRuleWriter: {
    label: 'NSG security rule writer'
    description: 'Read a network security group and read or write its security rules (apim-ip-reconciler azure.nsgRule targets).'
    actions: [
      'Microsoft.Network/networkSecurityGroups/read'
      'Microsoft.Network/networkSecurityGroups/securityRules/read'
      'Microsoft.Network/networkSecurityGroups/securityRules/write'
    ]
  }
  ipGroupWriter: {
    label: 'IP Group writer'
    description: 'Read and write an IP Group (apim-ip-reconciler azure.ipGroup targets).'
    actions: [
      'Microsoft.Network/ipGroups/read'
      'Microsoft.Network/ipGroups/write'
    ]
  }
  firewallPolicyRuleWriter: {
    label: 'Firewall policy rule collection group writer'
    description: 'Read a firewall policy and read or write its rule collection groups (apim-ip-reconciler azure.firewallPolicyRule targets).'
    actions: [
      'Microsoft.Network/firewallPolicies/read'
      'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read'
      'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write'
    ]
  }
  siteAccessRestrictionWriter: {
    label: 'App Service access restriction writer'
    description: 'Read a web app and read or write its configuration, where its access restrictions live (apim-ip-reconciler azure.appServiceAccessRestriction targets).'
    actions: [
      'Microsoft.Web/sites/Read'
      'Microsoft.Web/sites/config/Read'
      'Microsoft.Web/sites/config/Write'
    ]
  }
}

@export()
@description('Splits an Azure resource ID into the parts a cross-subscription module scope needs.')
func parseResourceId(id string) resourceIdParts => {
  subscriptionId: split(id, '/')[2]
  resourceGroup: split(id, '/')[4]
  name: last(split(id, '/'))
  resourceGroupId: toLower('/subscriptions/${split(id, '/')[2]}/resourceGroups/${split(id, '/')[4]}')
}

@export()
type resourceIdParts = {
  subscriptionId: string
  resourceGroup: string
  name: string
  resourceGroupId: string
}
