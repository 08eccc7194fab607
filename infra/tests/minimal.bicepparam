// Minimal values for the infra test: one source, no Azure allowlist targets (Cloudflare only), no token
// (set in Key Vault later). Not for deployment.
using '../main.bicep'

param environmentName = 'minimal'
param location = 'swedencentral'
param alertEmailAddress = 'ops@example.com'
param reconcileSchedule = '0 0 * * * *'
param reconcileIntervalMinutes = 60
param reconcilerMode = 'observe'
param sourceApimIds = [
  '/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-apim-prod/providers/Microsoft.ApiManagement/service/contoso-prod'
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
      zoneId: '023e105f4ecef8ad9ca31a8372d0c353'
      recordName: 'api.contoso.com'
    }
  ]
}
