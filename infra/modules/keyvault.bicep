// Key Vault in RBAC mode holding the Cloudflare API token. The Function App reads it through a
// Key Vault reference resolved with its user-assigned identity (Key Vault Secrets User).

import { tagsType } from 'types.bicep'

@description('Location of the resources.')
param location string

@description('Tags applied to every resource.')
param tags tagsType

@description('Name of the key vault.')
@minLength(3)
@maxLength(24)
param keyVaultName string

@description('Name of the secret that holds the Cloudflare API token.')
param cloudflareTokenSecretName string

@secure()
@description('The Cloudflare API token. Empty: the secret is not written by this deployment (set it later with az keyvault secret set).')
param cloudflareApiToken string

@description('Turn on purge protection (cannot be turned off again once on).')
param enablePurgeProtection bool

@description('Days a deleted vault or secret stays recoverable.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int

resource vault 'Microsoft.KeyVault/vaults@2026-05-15' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource cloudflareToken 'Microsoft.KeyVault/vaults/secrets@2026-05-15' = if (!empty(cloudflareApiToken)) {
  parent: vault
  name: cloudflareTokenSecretName
  properties: {
    value: cloudflareApiToken
    contentType: 'text/plain'
  }
}

output keyVaultId string = vault.id
output keyVaultName string = vault.name
@description('Versionless secret URI: the Key Vault reference follows new versions of the secret.')
output cloudflareTokenSecretUri string = '${vault.properties.vaultUri}secrets/${cloudflareTokenSecretName}'
