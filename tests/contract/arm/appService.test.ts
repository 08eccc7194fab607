/**
 * Contract tests of the ARM emulator's App Service sites and access restrictions (sandbox/arm/appService.ts): the
 * implicit entries, synchronous whole-list writes, App Service's own error envelope and the missing concurrency
 * control, driven by fetch as a hand-written client calls config/web (no App Service SDK is installed). Run under
 * `node scripts/with-sandbox-ca.js npx jest tests/contract/arm/appService.test.ts`.
 */
import type { ArmEmulator } from '../../../sandbox/arm';
import { NET_RG, SUB, call, startArm } from '../../support/armContract';
import { at } from '../../support/contract';

const WEB_RG = 'rg-web';
const WEB_API = '2025-03-01';

const siteId = (name = 'backend') =>
  `/subscriptions/${SUB}/resourceGroups/${WEB_RG}/providers/Microsoft.Web/sites/${name}`;

let emulator: ArmEmulator;

beforeEach(async () => {
  emulator = await startArm();
  emulator.setSite(siteId(), { location: 'West Europe' });
});
afterEach(() => emulator.close());

const webCall = (method: string, target: string, body?: unknown, apiVersion = WEB_API) =>
  call(method, target, { body, apiVersion });
const configUrl = (name = 'backend') => `${siteId(name)}/config/web`;
const restrictions = (body: unknown) => at(body, 'properties', 'ipSecurityRestrictions') as unknown[];

const ALLOW_ALL = {
  ipAddress: 'Any',
  action: 'Allow',
  priority: 2147483647,
  name: 'Allow all',
  description: 'Allow all access',
};
const DENY_ALL = { ...ALLOW_ALL, action: 'Deny', name: 'Deny all', description: 'Deny all access' };
const APIM_ENTRY = { ipAddress: '20.1.1.1/32', action: 'Allow', priority: 300, name: 'apim-20.1.1.1' };

describe('App Service site and config/web GET', () => {
  it('returns the site with its ETag and App Service headers', async () => {
    const { status, headers, body } = await webCall('GET', siteId());
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: siteId(),
      name: 'backend',
      type: 'Microsoft.Web/sites',
      location: 'West Europe',
      properties: { state: 'Running', defaultHostName: 'backend.azurewebsites.net' },
    });
    expect(headers.get('etag')).toMatch(/^"[0-9A-F]{15}"$/);
    expect(headers.get('server')).toBe('Microsoft-IIS/10.0');
  });

  it('holds only the implicit Allow all entry when no rule is configured, and carries no etag', async () => {
    const { status, headers, body } = await webCall('GET', configUrl());
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: configUrl(),
      name: 'backend',
      type: 'Microsoft.Web/sites/config',
      location: 'West Europe',
      properties: {
        ipSecurityRestrictions: [ALLOW_ALL],
        scmIpSecurityRestrictions: [ALLOW_ALL],
        scmIpSecurityRestrictionsUseMain: false,
        ipSecurityRestrictionsDefaultAction: null,
        linuxFxVersion: '',
        minTlsVersion: '1.2',
      },
    });
    expect(Object.keys(at(body, 'properties') as object).length).toBeGreaterThan(50);
    expect(headers.get('etag')).toBeNull();
    expect(at(body, 'etag')).toBeUndefined();
    expect(headers.get('content-type')).toBe('application/json');
    expect(emulator.siteConfig(siteId())).toEqual(body);
  });

  it('ends a non-empty list with the implicit Deny all, or Allow all when the default action says so', async () => {
    emulator.setSite(siteId('locked'), { location: 'westeurope', ipSecurityRestrictions: [APIM_ENTRY] });
    expect(restrictions((await webCall('GET', configUrl('locked'))).body)).toEqual([APIM_ENTRY, DENY_ALL]);
    emulator.setSite(siteId('open'), {
      location: 'westeurope',
      ipSecurityRestrictions: [{ ...APIM_ENTRY, action: 'Deny' }],
      ipSecurityRestrictionsDefaultAction: 'Allow',
    });
    const open = (await webCall('GET', configUrl('open'))).body;
    expect(restrictions(open)).toEqual([{ ...APIM_ENTRY, action: 'Deny' }, ALLOW_ALL]);
    expect(at(open, 'properties', 'ipSecurityRestrictionsDefaultAction')).toBe('Allow');
  });

  it('answers every stable api-version asked for, and drops the default-action fields before 2022-09-01', async () => {
    for (const version of [
      '2025-03-01',
      '2024-11-01',
      '2024-04-01',
      '2023-12-01',
      '2022-09-01',
      '2018-11-01',
    ]) {
      expect((await webCall('GET', configUrl(), undefined, version)).status).toBe(200);
    }
    const old = await webCall('GET', configUrl(), undefined, '2018-11-01');
    expect(at(old.body, 'properties')).not.toHaveProperty('ipSecurityRestrictionsDefaultAction');
    const unknown = await webCall('GET', configUrl(), undefined, '2019-01-01');
    expect([unknown.status, at(unknown.body, 'error', 'code')]).toEqual([400, 'NoRegisteredProviderFound']);
  });

  it('answers a missing site in ARM wording and its config in App Service wording', async () => {
    const site = await webCall('GET', siteId('nope'));
    expect([site.status, at(site.body, 'error', 'code')]).toEqual([404, 'ResourceNotFound']);
    const config = await webCall('GET', configUrl('nope'));
    expect(config.status).toBe(404);
    expect(config.body).toMatchObject({
      Code: 'NotFound',
      Message: 'Cannot find Site with name nope.',
      Details: [
        { Message: 'Cannot find Site with name nope.' },
        { Code: 'NotFound' },
        { ErrorEntity: { ExtendedCode: '51004' } },
      ],
    });
  });
});

describe('App Service config/web PUT and PATCH', () => {
  it('replaces the whole list synchronously (200, no operation) and leaves the rest alone', async () => {
    emulator.setSite(siteId(), {
      location: 'West Europe',
      ipSecurityRestrictions: [
        { ipAddress: '203.0.113.0/24', action: 'Allow', priority: 100, name: 'office' },
      ],
      scmIpSecurityRestrictions: [
        { ipAddress: '203.0.113.0/24', action: 'Allow', priority: 100, name: 'office' },
      ],
    });
    const put = await webCall('PUT', configUrl(), { properties: { ipSecurityRestrictions: [APIM_ENTRY] } });
    expect(put.status).toBe(200);
    expect(put.headers.get('azure-asyncoperation')).toBeNull();
    expect(restrictions(put.body)).toEqual([APIM_ENTRY, DENY_ALL]);
    const read = (await webCall('GET', configUrl())).body;
    expect(restrictions(read)).toEqual([APIM_ENTRY, DENY_ALL]);
    expect(at(read, 'properties', 'scmIpSecurityRestrictions', 0, 'name')).toBe('office');
  });

  it('merges top-level properties on PATCH', async () => {
    await webCall('PUT', configUrl(), { properties: { ipSecurityRestrictions: [APIM_ENTRY] } });
    const patch = await webCall('PATCH', configUrl(), {
      properties: { scmIpSecurityRestrictionsUseMain: true, alwaysOn: true },
    });
    expect(patch.status).toBe(200);
    expect(at(patch.body, 'properties')).toMatchObject({
      scmIpSecurityRestrictionsUseMain: true,
      alwaysOn: true,
    });
    expect(restrictions(patch.body)).toEqual([APIM_ENTRY, DENY_ALL]);
  });

  it('stores the implicit entry as a real rule when a client writes it back', async () => {
    const read = restrictions((await webCall('GET', configUrl())).body);
    const put = await webCall('PUT', configUrl(), {
      properties: { ipSecurityRestrictions: [...read, APIM_ENTRY] },
    });
    expect(restrictions(put.body)).toEqual([ALLOW_ALL, APIM_ENTRY, DENY_ALL]);
  });

  it('accepts what App Service accepts: duplicate priorities and names, IPv6, multi-source, service tags, headers', async () => {
    const entries = [
      { ...APIM_ENTRY },
      { ...APIM_ENTRY, ipAddress: '20.2.2.2/32' },
      { ipAddress: '2001:db8::/64', action: 'Deny', priority: 200 },
      { ipAddress: '192.0.2.0/24,198.51.100.0/24', action: 'Allow', priority: 310, name: 'multi' },
      {
        ipAddress: 'AzureFrontDoor.Backend',
        tag: 'ServiceTag',
        action: 'Allow',
        priority: 320,
        headers: { 'x-azure-fdid': ['a0b1c2d3-0000-0000-0000-000000000000'] },
      },
      { ipAddress: '10.0.0.1', subnetMask: '255.255.255.0', priority: 330 },
    ];
    const put = await webCall('PUT', configUrl(), { properties: { ipSecurityRestrictions: entries } });
    expect(put.status).toBe(200);
    expect(restrictions(put.body)).toHaveLength(7);
    expect(at(put.body, 'properties', 'ipSecurityRestrictions', 5)).toEqual({
      ipAddress: '10.0.0.1',
      subnetMask: '255.255.255.0',
      action: 'Allow',
      priority: 330,
    });
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a bare address',
      { ipAddress: '20.1.1.1' },
      'IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format.',
    ],
    [
      'host bits',
      { ipAddress: '20.1.1.1/24' },
      'IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format.',
    ],
    [
      'garbage',
      { ipAddress: 'apim' },
      'IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format.',
    ],
    [
      'an address and a subnet',
      {
        vnetSubnetResourceId: `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/virtualNetworks/v/subnets/s`,
      },
      'IpSecurityRestriction is invalid. Only IpAddress or VnetSubnetResourceId property must be specified.',
    ],
    [
      'nine ranges in one rule',
      { ipAddress: Array.from({ length: 9 }, (_, i) => `192.0.2.${i}/32`).join(',') },
      'IpSecurityRestriction.IpAddress is invalid. A rule can contain at most 8 IP ranges or service tags.',
    ],
    [
      'an unknown action',
      { action: 'Block' },
      'IpSecurityRestriction.Action is invalid. Allowed values: Allow, Deny.',
    ],
    [
      'an unknown service tag',
      { ipAddress: 'NotATag', tag: 'ServiceTag' },
      "IpSecurityRestriction.IpAddress is invalid. 'NotATag' is not a valid service tag.",
    ],
    [
      'an unsupported header',
      { headers: { 'x-custom': ['a'] } },
      "IpSecurityRestriction.Headers is invalid. Header 'x-custom' is not supported. Supported headers: x-forwarded-host, x-forwarded-for, x-azure-fdid, x-fd-healthprobe.",
    ],
  ])('rejects %s in App Service’s error envelope, changing nothing', async (_, override, message) => {
    const { status, headers, body } = await webCall('PUT', configUrl(), {
      properties: { ipSecurityRestrictions: [{ ...APIM_ENTRY, ...override }] },
    });
    expect(status).toBe(400);
    expect(headers.get('content-type')).toBe('application/json');
    expect(body).toEqual({
      Code: 'BadRequest',
      Message: message,
      Target: null,
      Details: [
        { Message: message },
        { Code: 'BadRequest' },
        {
          ErrorEntity: {
            ExtendedCode: '51021',
            MessageTemplate: '{0}',
            Parameters: [message],
            Code: 'BadRequest',
            Message: message,
          },
        },
      ],
      Innererror: null,
    });
    expect(restrictions(emulator.siteConfig(siteId()))).toEqual([ALLOW_ALL]);
  });

  it('accepts 512 rules and refuses 513', async () => {
    const many = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ ipAddress: `21.0.${i >> 8}.${i & 255}/32`, priority: 100 + i }));
    expect(
      (await webCall('PUT', configUrl(), { properties: { ipSecurityRestrictions: many(512) } })).status,
    ).toBe(200);
    const tooMany = await webCall('PUT', configUrl(), { properties: { ipSecurityRestrictions: many(513) } });
    expect([tooMany.status, at(tooMany.body, 'Code')]).toEqual([400, 'BadRequest']);
  });

  it('has no concurrency control: a concurrent writer’s rule is lost without a trace, If-Match or not', async () => {
    emulator.inject({ route: 'webConfig.put', concurrentModification: true });
    const put = await call('PUT', configUrl(), {
      apiVersion: WEB_API,
      headers: { 'If-Match': '"stale-etag"' },
      body: { properties: { ipSecurityRestrictions: [APIM_ENTRY] } },
    });
    expect(put.status).toBe(200);
    expect(restrictions(put.body)).toEqual([APIM_ENTRY, DENY_ALL]);
    emulator.inject({ route: 'webConfig.patch', concurrentModification: true });
    const patch = await webCall('PATCH', configUrl(), { properties: { alwaysOn: true } });
    expect(restrictions(patch.body)).toEqual([
      APIM_ENTRY,
      expect.objectContaining({
        name: 'other-writer',
        ipAddress: expect.stringMatching(/^198\.51\.100\.\d+\/32$/),
      }),
      DENY_ALL,
    ]);
  });
});

describe('App Service slots', () => {
  const slotId = `${siteId()}/slots/staging`;
  beforeEach(() => emulator.setSite(slotId, { location: 'West Europe' }));

  it('keep access restrictions of their own at …/slots/{slot}/config/web', async () => {
    const put = await webCall('PUT', `${slotId}/config/web`, {
      properties: { ipSecurityRestrictions: [APIM_ENTRY] },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({
      id: `${slotId}/config/web`,
      name: 'backend/staging',
      type: 'Microsoft.Web/sites/slots/config',
    });
    expect(restrictions((await webCall('GET', `${slotId}/config/web`)).body)).toEqual([APIM_ENTRY, DENY_ALL]);
    // The production site's list is another list.
    expect(restrictions((await webCall('GET', configUrl())).body)).toEqual([ALLOW_ALL]);
  });

  it('answer 404 for a slot that does not exist', async () => {
    const { status } = await webCall('GET', `${siteId()}/slots/nope`);
    expect(status).toBe(404);
  });
});

describe('restriction names', () => {
  it('refuse a name over 32 characters (the stricter reading of an undocumented limit)', async () => {
    const { status, body } = await webCall('PUT', configUrl(), {
      properties: {
        ipSecurityRestrictions: [{ ...APIM_ENTRY, name: 'apim-2603:1030:20e:3::23c:1234:5678' }],
      },
    });
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toContain('IpSecurityRestriction.Name is invalid');
  });
});
