// Sample values for the infra test (infra/tests/infra.test.ts): two source APIM services in different
// subscriptions, and one target of each Azure allowlist type. Not for deployment.
using '../main.bicep'

param environmentName = 'sample'
param location = 'westeurope'
param alertEmailAddress = 'ops@example.com'
param cloudflareApiToken = 'sample-token-not-a-secret'
param reconcileSchedule = '0 */5 * * * *'
param reconcileIntervalMinutes = 5
param reconcilerMode = 'enforce'
param sourceApimIds = [
  '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-apim-prod/providers/Microsoft.ApiManagement/service/contoso-prod'
  '/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/rg-apim-dr/providers/Microsoft.ApiManagement/service/contoso-dr'
]
param targetNsgIds = [
  '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/backend-nsg'
]
param targetIpGroupIds = [
  '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-hub/providers/Microsoft.Network/ipGroups/apim-egress'
]
param targetFirewallPolicyIds = [
  '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/hub-policy'
]
param targetSiteIds = [
  '/subscriptions/44444444-4444-4444-4444-444444444444/resourceGroups/rg-web/providers/Microsoft.Web/sites/contoso-backend'
]
param reconcilerConfig = {
  sources: {
    prod: {
      resourceId: '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-apim-prod/providers/Microsoft.ApiManagement/service/contoso-prod'
    }
  }
  targets: [
    {
      name: 'api-dns'
      type: 'cloudflare.dnsRecords'
      source: 'prod'
      addresses: 'inbound'
      zoneId: '023e105f4ecef8ad9ca31a8372d0c353'
      recordName: 'api.contoso.com'
      adopt: true
    }
    {
      name: 'backend-nsg'
      type: 'azure.nsgRule'
      source: 'prod'
      addresses: 'outbound'
      ruleId: '/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/backend-nsg/securityRules/allow-apim'
    }
  ]
}
