// The Flex Consumption (FC1) Function App running the reconciler on Node.js 20, under a
// user-assigned identity used for storage, Key Vault, Application Insights and Azure Resource Manager.

import { tagsType } from 'types.bicep'

@description('Location of the resources.')
param location string

@description('Tags applied to every resource.')
param tags tagsType

@description('Name of the Flex Consumption plan.')
param planName string

@description('Name of the Function App.')
param functionAppName string

@description('azd service name (the azure.yaml service deployed to this app).')
param serviceName string

@description('Resource ID of the user-assigned identity.')
param identityId string

@description('Client ID of the user-assigned identity.')
param identityClientId string

@description('Blob endpoint of the app storage account (https://<account>.blob.core.windows.net/).')
param blobEndpoint string

@description('Queue endpoint of the app storage account.')
param queueEndpoint string

@description('Table endpoint of the app storage account.')
param tableEndpoint string

@description('Blob container receiving the deployment package.')
param deploymentContainerName string

@description('Blob container for the reconciler state (RECONCILER_STATE_CONTAINER).')
param stateContainerName string

@description('Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Versionless URI of the Key Vault secret holding the Cloudflare API token.')
param cloudflareTokenSecretUri string

@description('The configuration document (docs/design/product.md §3) as JSON text: RECONCILER_CONFIG.')
param reconcilerConfigJson string

@description('NCRONTAB schedule of the timer trigger (RECONCILE_SCHEDULE).')
param reconcileSchedule string

@description('enforce or observe (RECONCILER_MODE).')
@allowed([
  'enforce'
  'observe'
])
param reconcilerMode string

@description('Memory of one instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound on instances the plan scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: functionAppName
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}

// Every app setting the reconciler reads in Azure (lib/config/settings.ts), plus the host's identity-based
// AzureWebJobsStorage. Flex Consumption takes the runtime from functionAppConfig, not from app settings.
resource appSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__blobServiceUri: blobEndpoint
    AzureWebJobsStorage__queueServiceUri: queueEndpoint
    AzureWebJobsStorage__tableServiceUri: tableEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AZURE_CLIENT_ID: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
    RECONCILER_CONFIG: reconcilerConfigJson
    RECONCILE_SCHEDULE: reconcileSchedule
    RECONCILER_MODE: reconcilerMode
    RECONCILER_STATE_CONTAINER: stateContainerName
    CLOUDFLARE_API_TOKEN: '@Microsoft.KeyVault(SecretUri=${cloudflareTokenSecretUri})'
  }
}

// No FTP or basic-auth publishing: azd deploys with Microsoft Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output functionAppId string = site.id
output functionAppName string = site.name
output defaultHostName string = site.properties.defaultHostName
