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
  // An emulator on this machine is anybody's process: a real identity's token, good for the whole subscription,
  // is never handed to it.
  if (isLoopbackUrl(endpoint)) {
    throw new SettingsError(
      `the Resource Manager endpoint ${endpoint} is on this machine (an emulator): set ${SETTINGS.azureToken} to the ` +
        `emulator's token; a managed identity's or az login's token is never sent to a loopback address`,
    );
  }
  return explained(
    new DefaultAzureCredential(
      settings.azureClientId ? { managedIdentityClientId: settings.azureClientId } : undefined,
    ),
  );
}

/** The start of every sign-in failure's message: the CLI shows such a failure once, not once per target. */
export const SIGN_IN_FAILED = 'no Azure credential worked';

/** What to do when no credential worked, in one line. */
export const SIGN_IN_FIX =
  `on a laptop run az login (az account set --subscription <id> for another subscription); in Azure the app uses ` +
  `its managed identity (${SETTINGS.azureClientId}); against a local emulator set ${SETTINGS.azureToken}`;

/** A failed sign-in, in one line: the useful part of the credential chain's message (see explainSignIn). */
export class AzureSignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AzureSignInError';
  }
}

/** Lines the chain adds for credentials that are simply not set up here: noise beside the one that matters. */
const NOT_SET_UP =
  /is unavailable|not available|could not be found|couldn't be found|unable to execute|not installed|network unreachable|no managed identity endpoint/i;

/**
 * The useful part of DefaultAzureCredential's failure: the line of a credential that was set up and failed (an
 * expired az login, a wrong client id), else the Azure CLI's (it says to run az login), else the first line.
 */
export function explainSignIn(error: unknown): string {
  const nested = (error as { errors?: unknown }).errors;
  const lines = (
    Array.isArray(nested)
      ? nested.map((e) => String((e as Error)?.message ?? e))
      : String((error as Error)?.message ?? error).split('\n')
  )
    .map((line) => line.replace(/^\w*Error: /, '').trim())
    .filter((line) => line !== '' && !/^ChainedTokenCredential authentication failed/.test(line));
  const useful =
    lines.find((line) => !NOT_SET_UP.test(line)) ??
    lines.find((line) => /Azure CLI|az login/i.test(line)) ??
    lines[0] ??
    'the credential chain gave no reason';
  // One line, without the troubleshooting links the SDK appends.
  const short = useful.replace(
    /\s*(To troubleshoot|To mitigate|See|Please visit) [^.]*https?:\/\/\S+[^.]*\.?/gi,
    '',
  );
  return `${SIGN_IN_FAILED} (DefaultAzureCredential): ${short.replace(/\s+/g, ' ').trim()}`;
}

const SIGN_IN_ERRORS = new Set([
  'AggregateAuthenticationError',
  'CredentialUnavailableError',
  'AuthenticationError',
  'AuthenticationRequiredError',
]);

/** How long a failed sign-in is answered from memory, so one run does not try the whole chain per request. */
const FAILURE_MEMORY_MS = 30_000;

/**
 * The credential, failing with one explained line (AzureSignInError), and remembering a failure for a little
 * while: every client of a run asks for a token, and trying the chain again for each (it starts az, probes the
 * managed identity endpoint) only repeats the same answer, slowly.
 */
export function explained(credential: TokenCredential, now: () => number = Date.now): TokenCredential {
  let failure: { error: AzureSignInError; at: number } | undefined;
  return {
    async getToken(scopes, options) {
      if (failure && now() - failure.at < FAILURE_MEMORY_MS) throw failure.error;
      try {
        const token = await credential.getToken(scopes, options);
        failure = undefined;
        return token;
      } catch (error) {
        if (!SIGN_IN_ERRORS.has((error as Error)?.name)) throw error;
        failure = { error: new AzureSignInError(explainSignIn(error)), at: now() };
        throw failure.error;
      }
    },
  };
}

/** The hosts of Blob Storage in the Azure clouds: the only ones a real identity's token is sent to for state. */
export const BLOB_HOST_SUFFIXES = [
  '.blob.core.windows.net',
  '.blob.core.usgovcloudapi.net',
  '.blob.core.chinacloudapi.cn',
];

/**
 * How the CLI reaches the app's state blob (docs/cli.md): a real storage account with the user's own sign-in
 * (DefaultAzureCredential: az login, a pipeline's workload identity); an emulator on this machine (Azurite) only
 * with the development account's published key, never with a real token.
 */
export function stateBlobCredential(
  serviceUrl: string,
  settings: Settings,
): { kind: 'token'; credential: TokenCredential } | { kind: 'development-account' } {
  if (isLoopbackUrl(serviceUrl)) return { kind: 'development-account' };
  const host = new URL(serviceUrl).hostname.toLowerCase();
  if (!BLOB_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix))) {
    throw new SettingsError(
      `--state: ${host} is not a Blob Storage host (<account>${BLOB_HOST_SUFFIXES[0]}); the sign-in's token is sent only there`,
    );
  }
  return {
    kind: 'token',
    credential: explained(
      new DefaultAzureCredential(
        settings.azureClientId ? { managedIdentityClientId: settings.azureClientId } : undefined,
      ),
    ),
  };
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
