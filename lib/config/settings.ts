/**
 * Every environment variable / app setting the reconciler reads, with what it is for.
 * The settings table of docs/configuration.md and the infra test both check themselves against this list.
 */
export const SETTINGS = {
  config: 'RECONCILER_CONFIG',
  configFile: 'RECONCILER_CONFIG_FILE',
  schedule: 'RECONCILE_SCHEDULE',
  mode: 'RECONCILER_MODE',
  cloudflareToken: 'CLOUDFLARE_API_TOKEN',
  cloudflareBaseUrl: 'CLOUDFLARE_BASE_URL',
  armEndpoint: 'RECONCILER_ARM_ENDPOINT',
  azureToken: 'RECONCILER_AZURE_TOKEN',
  azureClientId: 'AZURE_CLIENT_ID',
  appInsightsConnectionString: 'APPLICATIONINSIGHTS_CONNECTION_STRING',
  appInsightsAuthenticationString: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  stateContainer: 'RECONCILER_STATE_CONTAINER',
  maxConcurrency: 'RECONCILER_MAX_CONCURRENCY',
} as const;

export type SettingName = (typeof SETTINGS)[keyof typeof SETTINGS];

export interface SettingDoc {
  name: SettingName;
  required: 'always' | 'in Azure' | 'optional' | 'local only';
  description: string;
}

export const SETTING_DOCS: readonly SettingDoc[] = [
  {
    name: SETTINGS.config,
    required: 'optional',
    description: 'The configuration document, inline JSON. Wins over RECONCILER_CONFIG_FILE.',
  },
  {
    name: SETTINGS.configFile,
    required: 'optional',
    description: 'Path of the configuration file (default reconciler.config.json beside host.json).',
  },
  {
    name: SETTINGS.schedule,
    required: 'optional',
    description: 'NCRONTAB schedule of the timer trigger (default every 5 minutes: 0 */5 * * * *).',
  },
  {
    name: SETTINGS.mode,
    required: 'optional',
    description: 'enforce (default) applies changes; observe plans and records drift but writes nothing.',
  },
  {
    name: SETTINGS.cloudflareToken,
    required: 'in Azure',
    description:
      'Cloudflare API token (a Key Vault reference in Azure). Needed when a cloudflare.* target is configured.',
  },
  {
    name: SETTINGS.cloudflareBaseUrl,
    required: 'optional',
    description: 'Cloudflare API base URL; overrides cloudflare.baseUrl (emulators).',
  },
  {
    name: SETTINGS.armEndpoint,
    required: 'optional',
    description: 'Azure Resource Manager endpoint; overrides azure.resourceManagerEndpoint (emulators).',
  },
  {
    name: SETTINGS.azureToken,
    required: 'local only',
    description:
      'A static bearer token for a loopback Resource Manager emulator; refused for any other endpoint.',
  },
  {
    name: SETTINGS.azureClientId,
    required: 'in Azure',
    description:
      'Client id of the user-assigned managed identity used for Azure Resource Manager, Storage and Application Insights.',
  },
  {
    name: SETTINGS.appInsightsConnectionString,
    required: 'in Azure',
    description: 'Application Insights connection string; events are sent when it is set.',
  },
  {
    name: SETTINGS.appInsightsAuthenticationString,
    required: 'in Azure',
    description:
      'Authorization=AAD;ClientId=<id>: ingestion authenticated by the managed identity (local auth is off).',
  },
  {
    name: SETTINGS.stateContainer,
    required: 'optional',
    description: 'Blob container for the state document and the run lock (default apim-ip-reconciler).',
  },
  {
    name: SETTINGS.maxConcurrency,
    required: 'optional',
    description: 'Requests in flight per API host (default 8).',
  },
];

/** The settings the reconciler runs with, read once from the environment. */
export interface Settings {
  mode: 'enforce' | 'observe';
  cloudflareToken?: string;
  cloudflareBaseUrl?: string;
  armEndpoint?: string;
  azureToken?: string;
  azureClientId?: string;
  maxConcurrency: number;
}

/** A setting with a value the reconciler cannot use. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const get = (name: SettingName) => {
    const value = env[name]?.trim();
    if (value) checkResolved(name, value);
    return value ? value : undefined;
  };
  const mode = get(SETTINGS.mode) ?? 'enforce';
  if (mode !== 'enforce' && mode !== 'observe') {
    throw new SettingsError(`${SETTINGS.mode}: must be enforce or observe, got ${JSON.stringify(mode)}`);
  }
  const concurrency = get(SETTINGS.maxConcurrency);
  const maxConcurrency = concurrency === undefined ? 8 : Number(concurrency);
  if (!Number.isInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > 64) {
    throw new SettingsError(
      `${SETTINGS.maxConcurrency}: must be a whole number from 1 to 64, got ${JSON.stringify(concurrency)}`,
    );
  }
  // The endpoint overrides receive the tokens: https, or http to this machine only (emulators).
  for (const name of [SETTINGS.cloudflareBaseUrl, SETTINGS.armEndpoint]) {
    const url = get(name);
    if (
      url !== undefined &&
      !/^https:\/\/[^/]/i.test(url) &&
      !(/^http:\/\//i.test(url) && isLoopbackUrl(url))
    ) {
      throw new SettingsError(
        `${name}: must be an https:// URL (http:// only for an emulator on this machine), got ${JSON.stringify(url)}`,
      );
    }
  }
  return {
    mode,
    cloudflareToken: get(SETTINGS.cloudflareToken),
    cloudflareBaseUrl: get(SETTINGS.cloudflareBaseUrl),
    armEndpoint: get(SETTINGS.armEndpoint),
    azureToken: get(SETTINGS.azureToken),
    azureClientId: get(SETTINGS.azureClientId),
    maxConcurrency,
  };
}

/** True for 127.0.0.0/8, ::1 and localhost: the only hosts a static Azure token may be sent to. */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * The secret a Key Vault reference names, when `value` is one (`@Microsoft.KeyVault(SecretUri=…)` or
 * `@Microsoft.KeyVault(VaultName=…;SecretName=…)`): the Functions host replaces it with the secret's value, so a
 * reference that reaches the reconciler is one the host could not resolve.
 */
export function keyVaultReference(value: string): { vault?: string; secret?: string } | undefined {
  const match = /^@Microsoft\.KeyVault\((.*)\)\s*$/is.exec(value.trim());
  if (!match) return undefined;
  const fields = new Map<string, string>();
  for (const part of match[1]!.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  const uri = fields.get('secreturi');
  if (uri) {
    const parsed = /^https:\/\/([^./]+)\.[^/]+\/secrets\/([^/?#]+)/i.exec(uri);
    return parsed ? { vault: parsed[1], secret: parsed[2] } : {};
  }
  return { vault: fields.get('vaultname'), secret: fields.get('secretname') };
}

/**
 * Throws when a setting still holds a Key Vault reference (docs/deploy.md): its name, the secret, and the fix in
 * Azure (the identity the host resolves references with) and elsewhere (the secret's value itself).
 */
export function checkResolved(name: string, value: string): void {
  const reference = keyVaultReference(value);
  if (!reference) return;
  const secret = reference.secret ?? '(unnamed secret)';
  const vault = reference.vault ?? '<vault>';
  throw new SettingsError(
    `${name} is a Key Vault reference the Functions host did not resolve (secret ${secret} in vault ${vault}): ` +
      `in Azure, give the identity named by the app's keyVaultReferenceIdentity the Key Vault Secrets User role on ` +
      `the vault and check that the secret exists (Function App → Environment variables shows the reference's ` +
      `status), then restart the app; elsewhere, set the secret's value instead: ` +
      `export ${name}="$(az keyvault secret show --vault-name ${vault} --name ${secret} --query value -o tsv)"`,
  );
}
