import { ConfigError, parseConfig } from '../../lib/config/load';
import { readSettings, SettingsError } from '../../lib/config/settings';
import { checkSettings } from '../../lib/wiring';

/**
 * The endpoints the tokens are sent to (SECURITY.md): the Cloudflare token goes to cloudflare.baseUrl, Azure
 * tokens to azure.resourceManagerEndpoint (and their CLOUDFLARE_BASE_URL / RECONCILER_ARM_ENDPOINT overrides).
 * Those take https, or http to this machine only (the emulators): never a token in clear over a network.
 */

const APIM = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso';
const config = (extra: Record<string, unknown>) => ({
  sources: { prod: { resourceId: APIM } },
  targets: [
    {
      name: 'dns',
      type: 'cloudflare.dnsRecords',
      source: 'prod',
      zoneId: 'z',
      recordName: 'api.contoso.com',
    },
  ],
  ...extra,
});

describe('endpoint URLs', () => {
  test.each([
    ['cloudflare', 'baseUrl', 'http://api.cloudflare.example/client/v4'],
    ['azure', 'resourceManagerEndpoint', 'http://management.example'],
    ['cloudflare', 'baseUrl', 'http://10.0.0.5:8080'],
  ])('%s.%s refuses %s', (section, key, url) => {
    const call = () => parseConfig(config({ [section]: { [key]: url } }));
    expect(call).toThrow(ConfigError);
    expect(call).toThrow(
      `${section}.${key}: must be an https:// URL (http:// only for an emulator on this machine)`,
    );
  });

  test.each([
    ['cloudflare', 'baseUrl', 'https://api.cloudflare.com/client/v4'],
    ['cloudflare', 'baseUrl', 'http://127.0.0.1:41234/client/v4'],
    ['azure', 'resourceManagerEndpoint', 'https://management.usgovcloudapi.net'],
    ['azure', 'resourceManagerEndpoint', 'http://localhost:8443'],
  ])('%s.%s takes %s', (section, key, url) => {
    expect(() => parseConfig(config({ [section]: { [key]: url } }))).not.toThrow();
  });

  test.each(['CLOUDFLARE_BASE_URL', 'RECONCILER_ARM_ENDPOINT'])(
    '%s takes https, or http to a loopback emulator, and nothing else',
    (name) => {
      expect(readSettings({ [name]: 'https://example.net' })).toBeDefined();
      expect(readSettings({ [name]: 'http://127.0.0.1:1234' })).toBeDefined();
      expect(readSettings({ [name]: 'http://[::1]:1234' })).toBeDefined();
      for (const bad of [
        'http://example.net',
        'ftp://127.0.0.1',
        'example.net',
        'http://127.0.0.1.example.net',
      ]) {
        expect(() => readSettings({ [name]: bad })).toThrow(SettingsError);
      }
    },
  );
});

describe('credentials go only to the real services or to an emulator on this machine', () => {
  const config = (azure: string, cloudflare = 'https://api.cloudflare.com/client/v4') =>
    parseConfig({
      sources: {
        prod: {
          resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/c',
        },
      },
      targets: [
        {
          name: 'd',
          type: 'cloudflare.dnsRecords',
          source: 'prod',
          zoneId: 'z',
          recordName: 'api.contoso.com',
        },
      ],
      azure: { resourceManagerEndpoint: azure },
      cloudflare: { baseUrl: cloudflare },
    });
  const settings = { mode: 'enforce' as const, cloudflareToken: 't', maxConcurrency: 8 };

  it.each([
    'https://management.azure.com',
    'https://management.usgovcloudapi.net',
    'https://management.chinacloudapi.cn',
  ])('accepts %s', (endpoint) => expect(() => checkSettings(config(endpoint), settings)).not.toThrow());

  it('accepts an emulator on this machine only with RECONCILER_AZURE_TOKEN: never a real identity there', () => {
    const emulator = config('https://127.0.0.1:4443');
    expect(() => checkSettings(emulator, { ...settings, azureToken: 'emulator-token' })).not.toThrow();
    expect(() => checkSettings(emulator, settings)).toThrow(
      /https:\/\/127\.0\.0\.1:4443 is on this machine \(an emulator\): set RECONCILER_AZURE_TOKEN/,
    );
    // Not even the app's managed identity.
    expect(() => checkSettings(emulator, { ...settings, azureClientId: 'client-id' })).toThrow(
      /a managed identity's or az login's token is never sent to a loopback address/,
    );
  });

  it('refuses any other Resource Manager host, naming the ones it takes', () => {
    expect(() => checkSettings(config('https://management.example.net'), settings)).toThrow(
      /azure\.resourceManagerEndpoint \/ RECONCILER_ARM_ENDPOINT: management\.example\.net is not one of management\.azure\.com/,
    );
  });

  it('refuses a Cloudflare base URL elsewhere than api.cloudflare.com, also through the setting', () => {
    expect(() =>
      checkSettings(
        config('https://management.azure.com', 'https://cloudflare.example.com/client/v4'),
        settings,
      ),
    ).toThrow(
      /cloudflare\.baseUrl \/ CLOUDFLARE_BASE_URL: cloudflare\.example\.com is not one of api\.cloudflare\.com/,
    );
    expect(() =>
      checkSettings(config('https://management.azure.com'), {
        ...settings,
        cloudflareBaseUrl: 'https://proxy.example.com/client/v4',
      }),
    ).toThrow(/proxy\.example\.com is not one of api\.cloudflare\.com/);
  });
});
