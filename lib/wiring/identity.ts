import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential, ManagedIdentityCredential } from '@azure/identity';
import { isLoopbackUrl, SettingsError, SETTINGS, type Settings } from '../config/settings';

/**
 * Which identity the reconciler uses where: decided here, once, for Resource Manager, Blob Storage and
 * Application Insights ingestion (docs/deploy.md). In Azure that is the app's user-assigned managed identity
 * (AZURE_CLIENT_ID); on a laptop the developer's own sign-in (az login); against a local emulator only the static
 * RECONCILER_AZURE_TOKEN, which is refused for any endpoint but a loopback one.
 */

/** Makes the credential of a user-assigned managed identity; tests pass their own. */
export type ManagedIdentityFactory = (clientId: string) => TokenCredential;

export const userAssignedIdentity: ManagedIdentityFactory = (clientId) =>
  new ManagedIdentityCredential({ clientId });

/** A fixed bearer token for a local emulator; refused anywhere else. */
class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

const setting = (env: NodeJS.ProcessEnv, name: string): string | undefined => env[name]?.trim() || undefined;

/**
 * The credential for Resource Manager: the static token for a loopback emulator, else the default chain with the
 * app's managed identity (AZURE_CLIENT_ID) first in line.
 */
export function resourceManagerCredential(endpoint: string, settings: Settings): TokenCredential {
  if (settings.azureToken) {
    if (!isLoopbackUrl(endpoint)) {
      throw new SettingsError(
        `${SETTINGS.azureToken} is only accepted for a loopback Resource Manager endpoint (emulators); the endpoint is ${endpoint}: unset it to use a managed identity or az login`,
      );
    }
    return new StaticTokenCredential(settings.azureToken);
  }
  return new DefaultAzureCredential(
    settings.azureClientId ? { managedIdentityClientId: settings.azureClientId } : undefined,
  );
}

/**
 * The managed identity for the Functions host's own storage account, as the host chooses it: the client id of
 * AzureWebJobsStorage__clientId, else AZURE_CLIENT_ID; undefined when neither is set (connection strings).
 */
export function storageCredential(
  env: NodeJS.ProcessEnv,
  make: ManagedIdentityFactory = userAssignedIdentity,
): TokenCredential | undefined {
  const clientId = setting(env, 'AzureWebJobsStorage__clientId') ?? setting(env, SETTINGS.azureClientId);
  return clientId ? make(clientId) : undefined;
}

/**
 * The credential for Application Insights ingestion when APPLICATIONINSIGHTS_AUTHENTICATION_STRING is
 * `Authorization=AAD` (the App Service / Functions convention): the user-assigned identity of its `ClientId`, else of
 * AZURE_CLIENT_ID, else the system-assigned identity. Undefined without that setting (instrumentation key only).
 */
export function ingestionCredential(
  env: NodeJS.ProcessEnv,
  make: ManagedIdentityFactory = userAssignedIdentity,
): TokenCredential | undefined {
  const aad = parseAuthenticationString(env[SETTINGS.appInsightsAuthenticationString]);
  if (!aad) return undefined;
  const clientId = aad.clientId ?? setting(env, SETTINGS.azureClientId);
  return clientId ? make(clientId) : new ManagedIdentityCredential();
}

/** `Authorization=AAD[;ClientId=<id>]` → AAD (with the client id when given); unset → undefined. */
export function parseAuthenticationString(value: string | undefined): { clientId?: string } | undefined {
  if (!value?.trim()) return undefined;
  const fields = new Map<string, string>();
  for (const pair of value.split(';').filter((p) => p.trim() !== '')) {
    const at = pair.indexOf('=');
    if (at < 1) {
      throw new SettingsError(
        `${SETTINGS.appInsightsAuthenticationString}: expected Authorization=AAD;ClientId=<client id>, got a part without "="`,
      );
    }
    fields.set(pair.slice(0, at).trim().toLowerCase(), pair.slice(at + 1).trim());
  }
  if (fields.get('authorization')?.toLowerCase() !== 'aad') {
    throw new SettingsError(
      `${SETTINGS.appInsightsAuthenticationString}: only Authorization=AAD is supported; unset it to send with the instrumentation key`,
    );
  }
  const clientId = fields.get('clientid');
  return clientId ? { clientId } : {};
}
