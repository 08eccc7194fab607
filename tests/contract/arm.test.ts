/**
 * Contract tests of the ARM emulator, driven by the real Azure SDKs (and raw HTTPS where a wire detail matters).
 * Run under `node scripts/with-sandbox-ca.js npx jest tests/contract/arm.test.ts`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { ApiManagementClient } from '@azure/arm-apimanagement';
import { NetworkManagementClient } from '@azure/arm-network';
import { ArmEmulator, type ApimSeed, type SecurityRuleSeed } from '../../sandbox/arm';
import { inheritedRunCertificate, type RunCertificate } from '../../sandbox/tls';
import { at, failure } from '../support/contract';

const SUB = '3f2a8b1c-0d4e-4f5a-9b6c-7d8e9f0a1b2c';
const APIM_RG = 'rg-apim';
const NET_RG = 'rg-net';
const TOKEN = 'contract-test-token';
const NETWORK_API = '2026-01-01';
const APIM_API = '2024-05-01';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const apimId = (name: string, rg = APIM_RG) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ApiManagement/service/${name}`;
const nsgId = (name = 'backend') =>
  `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
const ruleId = (name: string, nsg = 'backend') => `${nsgId(nsg)}/securityRules/${name}`;
const ipGroupId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/ipGroups/${name}`;

const PREMIUM: ApimSeed = {
  location: 'West Europe',
  sku: { name: 'Premium', capacity: 1 },
  provisioningState: 'Succeeded',
  publicIPAddresses: ['20.1.1.1'],
  outboundPublicIPAddresses: ['20.1.1.1'],
  additionalLocations: [{ location: 'North Europe', publicIPAddresses: ['20.2.2.2'] }],
};

const ALLOW_APIM: SecurityRuleSeed = {
  description: 'managed-by:apim-ip-reconciler',
  protocol: 'Tcp',
  access: 'Allow',
  priority: 200,
  direction: 'Inbound',
  sourceAddressPrefixes: ['20.1.1.1/32'],
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRanges: ['443'],
};

// ---------------------------------------------------------------------------------------------------------------
// Harness

let certificate: RunCertificate;
let emulator: ArmEmulator;

type Credential = ConstructorParameters<typeof NetworkManagementClient>[0];
const credential = (token = TOKEN): Credential => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }),
});
const network = (token = TOKEN) =>
  new NetworkManagementClient(credential(token), SUB, { endpoint: emulator.url });
const apim = (token = TOKEN) => new ApiManagementClient(credential(token), SUB, { endpoint: emulator.url });

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** One HTTPS request; `target` is a path (api-version appended unless given) or an absolute URL. */
function raw(
  method: string,
  target: string,
  options: {
    token?: string | null;
    headers?: Record<string, string>;
    /** Sent as JSON. */
    body?: unknown;
    /** Sent verbatim. */
    text?: string;
    apiVersion?: string | null;
  } = {},
): Promise<RawResponse> {
  const url = new URL(target.startsWith('https://') ? target : `${emulator.url}${target}`);
  const apiVersion = options.apiVersion === undefined ? NETWORK_API : options.apiVersion;
  if (apiVersion !== null && !url.searchParams.has('api-version'))
    url.searchParams.set('api-version', apiVersion);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const payload = options.text ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['Content-Type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: certificate.cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text ? JSON.parse(text) : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function statuses(route: string): number[] {
  return emulator.requests.filter((r) => r.route === route).map((r) => r.status);
}

const putRule = (name: string, properties: unknown, headers: Record<string, string> = {}) =>
  raw('PUT', ruleId(name), { body: { properties }, headers });

beforeAll(() => {
  const inherited = inheritedRunCertificate();
  if (!inherited)
    throw new Error('run under `node scripts/with-sandbox-ca.js` so the SDKs trust the emulator');
  certificate = inherited;
});

async function startEmulator(options: { lroPolls?: number } = {}): Promise<void> {
  emulator = await ArmEmulator.start({ tls: certificate, token: TOKEN, ...options });
  emulator.setApim(apimId('contoso'), PREMIUM);
  emulator.setNsg(nsgId(), { location: 'West Europe', rules: { 'allow-apim': ALLOW_APIM } });
  emulator.setIpGroup(ipGroupId('apim-egress'), { location: 'westeurope', ipAddresses: ['20.1.1.1'] });
}

beforeEach(() => startEmulator());
afterEach(() => emulator.close());

// ---------------------------------------------------------------------------------------------------------------
// APIM

describe('APIM service GET', () => {
  it('returns a running multi-region service with IPs lifted to top-level fields by the SDK', async () => {
    const service = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(service.provisioningState).toBe('Succeeded');
    expect(service.publicIPAddresses).toEqual(['20.1.1.1']);
    expect(service.outboundPublicIPAddresses).toEqual(['20.1.1.1']);
    expect(service.additionalLocations?.map((l) => [l.location, l.publicIPAddresses])).toEqual([
      ['North Europe', ['20.2.2.2']],
    ]);
    expect(service.gatewayUrl).toBe('https://contoso.azure-api.net');
    expect(service.gatewayRegionalUrl).toBe('https://contoso-westeurope-01.regional.azure-api.net');
    expect(service.sku).toEqual({ name: 'Premium', capacity: 1 });
    expect(service.platformVersion).toBe('stv2');
    expect(service.etag).toMatch(/^[A-Za-z0-9+/]{11}=$/);
  });

  it('nests the IP fields under properties on the wire, like the reference example', async () => {
    const { status, body } = await raw('GET', apimId('contoso'), { apiVersion: APIM_API });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: apimId('contoso'),
      name: 'contoso',
      type: 'Microsoft.ApiManagement/service',
      location: 'West Europe',
      sku: { name: 'Premium', capacity: 1 },
      properties: {
        provisioningState: 'Succeeded',
        targetProvisioningState: '',
        publicIPAddresses: ['20.1.1.1'],
        additionalLocations: [{ location: 'North Europe', sku: { name: 'Premium', capacity: 1 } }],
      },
    });
    expect(at(body, 'publicIPAddresses')).toBeUndefined();
    expect(at(body, 'systemData', 'lastModifiedAt')).toEqual(expect.any(String));
  });

  it('reports a stopped service and follows patchApim (new IPs after reactivation, new etag)', async () => {
    const before = await apim().apiManagementService.get(APIM_RG, 'contoso');
    emulator.patchApim(apimId('contoso'), { provisioningState: 'Stopped' });
    const stopped = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(stopped.provisioningState).toBe('Stopped');
    emulator.patchApim(apimId('contoso'), {
      provisioningState: 'Succeeded',
      publicIPAddresses: ['20.9.9.9'],
    });
    const after = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(after.publicIPAddresses).toEqual(['20.9.9.9']);
    expect(new Set([before.etag, stopped.etag, after.etag]).size).toBe(3);
  });

  it('omits IP fields entirely for StandardV2 (absent, not empty)', async () => {
    emulator.setApim(apimId('v2'), {
      location: 'East US',
      sku: { name: 'StandardV2', capacity: 1 },
      provisioningState: 'Succeeded',
    });
    const { body } = await raw('GET', apimId('v2'), { apiVersion: APIM_API });
    const properties = at(body, 'properties') as Record<string, unknown>;
    for (const field of [
      'publicIPAddresses',
      'privateIPAddresses',
      'outboundPublicIPAddresses',
      'gatewayRegionalUrl',
    ]) {
      expect(properties).not.toHaveProperty(field);
    }
    expect(properties).toMatchObject({ natGatewayState: 'Unsupported', platformVersion: 'undetermined' });
    const service = await apim().apiManagementService.get(APIM_RG, 'v2');
    expect(service.publicIPAddresses).toBeUndefined();
    expect(service.additionalLocations).toBeUndefined();
  });

  it('returns CIDR outbound prefixes and private IPs per region', async () => {
    emulator.setApim(apimId('nat'), {
      ...PREMIUM,
      natGatewayState: 'Enabled',
      outboundPublicIPAddresses: ['60.0.0.0/31'],
      privateIPAddresses: ['10.0.0.5'],
      virtualNetworkType: 'Internal',
      additionalLocations: [
        { location: 'North Europe', publicIPAddresses: ['20.2.2.2'], privateIPAddresses: ['10.1.0.6'] },
      ],
    });
    const service = await apim().apiManagementService.get(APIM_RG, 'nat');
    expect(service.outboundPublicIPAddresses).toEqual(['60.0.0.0/31']);
    expect(service.natGatewayState).toBe('Enabled');
    expect(service.privateIPAddresses).toEqual(['10.0.0.5']);
    expect(service.additionalLocations?.[0]?.privateIPAddresses).toEqual(['10.1.0.6']);
  });

  it('drops fields an older api-version does not know', async () => {
    const old = await raw('GET', apimId('contoso'), { apiVersion: '2021-08-01' });
    expect(old.status).toBe(200);
    expect(at(old.body, 'properties')).not.toHaveProperty('outboundPublicIPAddresses');
    expect(at(old.body, 'properties', 'platformVersion')).toBe('stv2');
  });

  it('lists by subscription and by resource group across nextLink pages', async () => {
    emulator.setApim(apimId('second'), PREMIUM);
    emulator.setApim(apimId('third', 'rg-other'), PREMIUM);
    const all: string[] = [];
    for await (const s of apim().apiManagementService.list()) all.push(s.name ?? '');
    expect(all.sort()).toEqual(['contoso', 'second', 'third']);
    expect(statuses('apim.list')).toEqual([200, 200]);
    const inGroup: string[] = [];
    for await (const s of apim().apiManagementService.listByResourceGroup(APIM_RG))
      inGroup.push(s.name ?? '');
    expect(inGroup.sort()).toEqual(['contoso', 'second']);
  });

  it('answers 404 ResourceNotFound with ARM wording, and ResourceGroupNotFound for a missing group', async () => {
    const missing = await raw('GET', apimId('nope'), { apiVersion: APIM_API });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: {
        code: 'ResourceNotFound',
        message:
          "The Resource 'Microsoft.ApiManagement/service/nope' under resource group 'rg-apim' was not found. " +
          'For more details please go to https://aka.ms/ARMResourceNotFoundFix',
      },
    });
    const error = await failure(apim().apiManagementService.get('rg-missing', 'contoso'));
    expect(error).toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Security rules

describe('security rule GET', () => {
  it('has the real wire shape: plural arrays always present, singular omitted when the plural is used', async () => {
    const { status, headers, body } = await raw('GET', ruleId('allow-apim'));
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('application/json; charset=utf-8');
    expect(body).toMatchObject({
      name: 'allow-apim',
      id: ruleId('allow-apim'),
      type: 'Microsoft.Network/networkSecurityGroups/securityRules',
      properties: {
        provisioningState: 'Succeeded',
        sourceAddressPrefixes: ['20.1.1.1/32'],
        destinationAddressPrefixes: [],
        sourcePortRanges: [],
        destinationPortRanges: ['443'],
        sourcePortRange: '*',
        destinationAddressPrefix: '*',
      },
    });
    const properties = at(body, 'properties') as Record<string, unknown>;
    expect(properties).not.toHaveProperty('sourceAddressPrefix');
    expect(properties).not.toHaveProperty('destinationPortRange');
    expect(at(body, 'etag')).toMatch(/^W\/"[0-9a-f-]{36}"$/);
    expect(headers.etag).toBe(at(body, 'etag'));
    expect(emulator.securityRule(ruleId('allow-apim'))).toEqual(body);
  });

  it('carries the cross-cutting ARM headers', async () => {
    const read = await raw('GET', ruleId('allow-apim'), {
      headers: { 'x-ms-correlation-request-id': 'c0ffee' },
    });
    expect(read.headers['x-ms-request-id']).toMatch(GUID);
    expect(read.headers['x-ms-correlation-request-id']).toBe('c0ffee');
    expect(read.headers['x-ms-routing-request-id']).toMatch(/^[A-Z]+:\d{8}T\d{6}Z:c0ffee$/);
    expect(read.headers['x-ms-ratelimit-remaining-subscription-reads']).toMatch(/^\d+$/);
    expect(read.headers).toMatchObject({ 'cache-control': 'no-cache', pragma: 'no-cache', expires: '-1' });
    const write = await putRule('allow-apim', ALLOW_APIM);
    expect(write.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);
    expect(write.headers).not.toHaveProperty('x-ms-ratelimit-remaining-subscription-reads');
  });

  it('finds resources whatever the casing of the URL and answers with the casing they were created with', async () => {
    const { body } = await raw(
      'GET',
      ruleId('ALLOW-APIM').toUpperCase().replace('API-VERSION', 'api-version'),
    );
    expect(at(body, 'id')).toBe(ruleId('allow-apim'));
  });

  it('shares one etag between the NSG and all its rules', async () => {
    emulator.setSecurityRule(ruleId('other'), {
      ...ALLOW_APIM,
      priority: 300,
      sourceAddressPrefixes: ['20.5.5.5'],
    });
    const first = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    const nsg = await network().networkSecurityGroups.get(NET_RG, 'backend');
    expect(nsg.etag).toBe(first.etag);
    expect(nsg.securityRules?.map((r) => r.name).sort()).toEqual(['allow-apim', 'other']);
    expect(nsg.defaultSecurityRules).toHaveLength(6);
    emulator.setSecurityRule(ruleId('other'), {
      ...ALLOW_APIM,
      priority: 300,
      sourceAddressPrefixes: ['20.6.6.6'],
    });
    const again = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    expect(again.etag).not.toBe(first.etag);
  });

  it('lists rules across pages', async () => {
    for (const [i, name] of ['b', 'c'].entries()) {
      emulator.setSecurityRule(ruleId(name), {
        ...ALLOW_APIM,
        priority: 300 + i,
        sourceAddressPrefixes: [`20.7.7.${i}`],
      });
    }
    const names: string[] = [];
    for await (const rule of network().securityRules.list(NET_RG, 'backend')) names.push(rule.name ?? '');
    expect(names.sort()).toEqual(['allow-apim', 'b', 'c']);
    expect(statuses('securityRule.list')).toEqual([200, 200]);
  });

  it('answers NRP NotFound for a missing rule and ResourceNotFound for a missing NSG', async () => {
    const rule = await raw('GET', ruleId('nope'));
    expect(rule.status).toBe(404);
    expect(rule.body).toEqual({
      error: { code: 'NotFound', message: `Resource ${ruleId('nope')} not found.`, details: [] },
    });
    const sdk = await failure(network().securityRules.get(NET_RG, 'backend', 'nope'));
    expect(sdk).toMatchObject({ statusCode: 404, code: 'NotFound' });
    const nsg = await raw('GET', ruleId('x', 'missing'));
    expect(nsg.status).toBe(404);
    expect(at(nsg.body, 'error', 'code')).toBe('ResourceNotFound');
    expect(at(nsg.body, 'error', 'message')).toBe(
      "The Resource 'Microsoft.Network/networkSecurityGroups/missing' under resource group 'rg-net' was not found. " +
        'For more details please go to https://aka.ms/ARMResourceNotFoundFix',
    );
  });
});

describe('security rule PUT (long-running)', () => {
  const NEW_RULE: SecurityRuleSeed = { ...ALLOW_APIM, priority: 210, sourceAddressPrefixes: ['20.3.3.3'] };

  it('creates through the SDK poller, polling Azure-AsyncOperation until Succeeded', async () => {
    await emulator.close();
    await startEmulator({ lroPolls: 2 });
    const poller = network().securityRules.createOrUpdate(NET_RG, 'backend', 'new-rule', NEW_RULE, {
      updateIntervalInMs: 0,
    });
    const rule = await poller;
    expect(rule).toMatchObject({
      name: 'new-rule',
      provisioningState: 'Succeeded',
      sourceAddressPrefixes: ['20.3.3.3'],
    });
    expect(statuses('securityRule.put')).toEqual([201]);
    expect(statuses('operation.get')).toEqual([200, 200, 200]);
    expect(emulator.count({ route: 'securityRule.get' })).toBe(1); // the SDK's final GET
    expect(emulator.counts()).toMatchObject({ 'PUT securityRule.put': 1, 'GET operation.get': 3 });
  });

  it('shows Updating with the new content while the operation runs, then Succeeded with a new etag', async () => {
    const created = await putRule('new-rule', NEW_RULE);
    expect(created.status).toBe(201);
    expect(at(created.body, 'properties', 'provisioningState')).toBe('Updating');
    const asyncUrl = String(created.headers['azure-asyncoperation']);
    const prefix = `${emulator.url}/subscriptions/${SUB}/providers/Microsoft.Network/locations/westeurope/operations/`;
    expect(asyncUrl.startsWith(prefix)).toBe(true);
    expect(asyncUrl).toContain(`api-version=${NETWORK_API}`);
    expect(asyncUrl).toContain(String(created.headers['x-ms-request-id']));
    expect(created.headers['retry-after']).toBe('0');

    const during = await raw('GET', ruleId('new-rule'));
    expect(at(during.body, 'properties')).toMatchObject({
      provisioningState: 'Updating',
      sourceAddressPrefixes: ['20.3.3.3'],
    });
    expect(at((await raw('GET', asyncUrl)).body, 'status')).toBe('InProgress');
    expect((await raw('GET', asyncUrl)).body).toEqual({ status: 'Succeeded' });

    const after = await raw('GET', ruleId('new-rule'));
    expect(at(after.body, 'properties', 'provisioningState')).toBe('Succeeded');
    expect(at(after.body, 'etag')).not.toBe(at(during.body, 'etag'));
  });

  it('updates with a matching If-Match (200) and changes the etag', async () => {
    const before = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    const updated = await network().securityRules.createOrUpdate(
      NET_RG,
      'backend',
      'allow-apim',
      { ...ALLOW_APIM, sourceAddressPrefixes: ['20.1.1.1/32', '20.4.4.4/32'] },
      { updateIntervalInMs: 0, requestOptions: { headers: { 'If-Match': before.etag ?? '' } } },
    );
    expect(statuses('securityRule.put')).toEqual([200]);
    expect(updated.sourceAddressPrefixes).toEqual(['20.1.1.1/32', '20.4.4.4/32']);
    expect(updated.etag).not.toBe(before.etag);
  });

  it('rejects a stale If-Match with 412 PreconditionFailed through the SDK, leaving the rule alone', async () => {
    const before = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    emulator.setSecurityRule(ruleId('allow-apim'), { ...ALLOW_APIM, sourceAddressPrefixes: ['20.8.8.8'] });
    const error = await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', ALLOW_APIM, {
        updateIntervalInMs: 0,
        requestOptions: { headers: { 'If-Match': before.etag ?? '' } },
      }),
    );
    expect(error).toMatchObject({ statusCode: 412, code: 'PreconditionFailed' });
    expect(at(emulator.securityRule(ruleId('allow-apim')), 'properties', 'sourceAddressPrefixes')).toEqual([
      '20.8.8.8',
    ]);
  });

  it('applies If-Match: * and If-None-Match: * as ARM does', async () => {
    expect((await putRule('missing', NEW_RULE, { 'If-Match': '*' })).status).toBe(412);
    expect((await putRule('allow-apim', ALLOW_APIM, { 'If-None-Match': '*' })).status).toBe(412);
    expect((await putRule('allow-apim', ALLOW_APIM, { 'If-Match': '*' })).status).toBe(200);
    expect((await putRule('fresh', NEW_RULE, { 'If-None-Match': '*' })).status).toBe(201);
  });

  it('simulates a concurrent writer: the etag read before the write no longer matches', async () => {
    const before = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    emulator.inject({ route: 'securityRule.put', concurrentModification: true });
    const error = await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', ALLOW_APIM, {
        updateIntervalInMs: 0,
        requestOptions: { headers: { 'If-Match': before.etag ?? '' } },
      }),
    );
    expect(error.statusCode).toBe(412);
    const after = await network().securityRules.get(NET_RG, 'backend', 'allow-apim');
    expect(after.etag).not.toBe(before.etag);
    expect(after.sourceAddressPrefixes).toEqual([
      '20.1.1.1/32',
      expect.stringMatching(/^198\.51\.100\.\d+$/),
    ]);
  });

  it('supersedes an operation still in flight when a second write arrives', async () => {
    const first = await putRule('new-rule', NEW_RULE);
    const second = await putRule('new-rule', { ...NEW_RULE, sourceAddressPrefixes: ['20.3.3.4'] });
    expect(second.status).toBe(200);
    const poll = await raw('GET', String(first.headers['azure-asyncoperation']));
    expect(poll.body).toMatchObject({
      status: 'Canceled',
      error: { code: 'CanceledAndSupersededDueToAnotherOperation' },
    });
    emulator.settleOperations();
    expect(at(emulator.securityRule(ruleId('new-rule')), 'properties')).toMatchObject({
      provisioningState: 'Succeeded',
      sourceAddressPrefixes: ['20.3.3.4'],
    });
  });

  it('surfaces a Failed operation as an SDK error and leaves the rule Failed with the new content', async () => {
    emulator.failNextOperation('securityRule.put', 'Failed', {
      code: 'InternalServerError',
      message: 'boom',
    });
    const poller = network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', NEW_RULE, {
      updateIntervalInMs: 0,
    });
    const error = await failure(poller);
    expect(error.message).toContain('InternalServerError');
    expect(error.message).toContain('boom');
    expect(at(emulator.securityRule(ruleId('allow-apim')), 'properties')).toMatchObject({
      provisioningState: 'Failed',
      sourceAddressPrefixes: ['20.3.3.3'],
    });
  });

  it('surfaces a Canceled operation as an SDK error and restores the previous content', async () => {
    emulator.failNextOperation('securityRule.put', 'Canceled');
    const error = await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', NEW_RULE, {
        updateIntervalInMs: 0,
      }),
    );
    expect(error.message).toMatch(/cancel/i);
    expect(at(emulator.securityRule(ruleId('allow-apim')), 'properties')).toMatchObject({
      provisioningState: 'Succeeded',
      sourceAddressPrefixes: ['20.1.1.1/32'],
    });
    emulator.failNextOperation('securityRule.put', 'Canceled');
    await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'brand-new', NEW_RULE, {
        updateIntervalInMs: 0,
      }),
    );
    expect(emulator.securityRule(ruleId('brand-new'))).toBeUndefined();
  });

  it('deletes through the SDK poller (202, then gone) and answers 204 for a missing rule', async () => {
    await network().securityRules.delete(NET_RG, 'backend', 'allow-apim', { updateIntervalInMs: 0 });
    expect(statuses('securityRule.delete')).toEqual([202]);
    expect(emulator.securityRule(ruleId('allow-apim'))).toBeUndefined();
    expect((await raw('DELETE', ruleId('allow-apim'))).status).toBe(204);
  });

  it('serves DELETE as a Location-based operation too (202 until done, then 204)', async () => {
    const accepted = await raw('DELETE', ruleId('allow-apim'));
    expect(accepted.status).toBe(202);
    const location = String(accepted.headers.location);
    expect(location).toContain(`/providers/Microsoft.Network/locations/westeurope/operationResults/`);
    expect(at(emulator.securityRule(ruleId('allow-apim')), 'properties', 'provisioningState')).toBe(
      'Deleting',
    );
    expect((await raw('GET', location)).status).toBe(202);
    expect((await raw('GET', location)).status).toBe(204);
    expect(emulator.securityRule(ruleId('allow-apim'))).toBeUndefined();
    expect(statuses('operationResult.get')).toEqual([202, 204]);
  });

  it('answers a PUT into a missing NSG with the parent ResourceNotFound', async () => {
    const { status, body } = await raw('PUT', ruleId('x', 'missing'), { body: { properties: NEW_RULE } });
    expect(status).toBe(404);
    expect(at(body, 'error', 'code')).toBe('ResourceNotFound');
  });
});

describe('security rule validation', () => {
  const VALID: SecurityRuleSeed = { ...ALLOW_APIM, priority: 220, sourceAddressPrefixes: ['20.3.3.3'] };
  const manyPrefixes = (n: number) => Array.from({ length: n }, (_, i) => `21.${i >> 8}.${i & 255}.1`);

  it('accepts the base rule of the table below (control)', async () => {
    expect((await putRule('candidate', VALID)).status).toBe(201);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['priority below 100', { priority: 99 }, 'SecurityRuleInvalidPriority'],
    ['priority above 4096', { priority: 4097 }, 'SecurityRuleInvalidPriority'],
    ['no priority', { priority: undefined }, 'SecurityRuleInvalidPriority'],
    ['priority as a string', { priority: '220' }, 'InvalidRequestFormat'],
    ['priority taken in the same direction', { priority: 200 }, 'SecurityRuleConflict'],
    ['no protocol', { protocol: undefined }, 'SecurityRuleParameterMissing'],
    ['unknown protocol casing', { protocol: 'TCP' }, 'SecurityRuleInvalidProtocol'],
    ['unknown access', { access: 'Permit' }, 'SecurityRuleInvalidAccess'],
    ['no direction', { direction: undefined }, 'SecurityRuleParameterMissing'],
    ['description over 140 chars', { description: 'x'.repeat(141) }, 'SecurityRuleDescriptionTooLong'],
    [
      'singular and plural source',
      { sourceAddressPrefix: '20.9.9.9' },
      'SecurityRuleMutuallyExclusiveParameters',
    ],
    ['no source at all', { sourceAddressPrefixes: [] }, 'SecurityRuleParametersMissing'],
    ['CIDR with host bits', { sourceAddressPrefixes: ['20.3.3.3/24'] }, 'SecurityRuleInvalidAddressPrefix'],
    ['garbage address', { sourceAddressPrefixes: ['20.3.3'] }, 'SecurityRuleInvalidAddressPrefix'],
    [
      'tag in a plural',
      { sourceAddressPrefixes: ['Internet'] },
      'SecurityRuleParameterContainsUnsupportedValue',
    ],
    [
      'overlapping prefixes',
      { sourceAddressPrefixes: ['20.0.0.0/8', '20.3.0.0/16'] },
      'OverlappingSubnetsNotPermittedInSecurityRule',
    ],
    [
      'the same address twice',
      { sourceAddressPrefixes: ['20.3.3.3', '20.3.3.3/32'] },
      'OverlappingSubnetsNotPermittedInSecurityRule',
    ],
    [
      'IPv4 and IPv6 in one rule',
      { sourceAddressPrefixes: ['20.3.3.3', '2001:db8::1'] },
      'ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies',
    ],
    ['port out of range', { destinationPortRanges: ['70000'] }, 'SecurityRuleInvalidPortRange'],
    [
      '4,001 source prefixes in the NSG',
      { sourceAddressPrefixes: manyPrefixes(4000) },
      'SecurityGroupAddressPrefixLimitReached',
    ],
  ])('rejects %s', async (_, override, code) => {
    const { status, body } = await putRule('candidate', { ...VALID, ...override });
    expect(status).toBe(400);
    expect(at(body, 'error', 'code')).toBe(code);
    expect(emulator.securityRule(ruleId('candidate'))).toBeUndefined();
  });

  it('accepts what sits just inside the limits', async () => {
    const accepted = async (name: string, override: Record<string, unknown>) =>
      (await putRule(name, { ...VALID, ...override })).status;
    expect(await accepted('a', { description: 'x'.repeat(140) })).toBe(201);
    expect(
      await accepted('b', { priority: 200, direction: 'Outbound', sourceAddressPrefixes: ['20.3.3.4'] }),
    ).toBe(201);
    expect(
      await accepted('c', {
        priority: 100,
        sourceAddressPrefix: 'ApiManagement.WestEurope',
        sourceAddressPrefixes: [],
      }),
    ).toBe(201);
    expect(await accepted('d', { priority: 4096, sourceAddressPrefixes: ['2001:db8::/64'] })).toBe(201);
  });

  it('accepts exactly 4,000 source addresses in one NSG', async () => {
    // allow-apim already holds one
    expect((await putRule('bulk', { ...VALID, sourceAddressPrefixes: manyPrefixes(3999) })).status).toBe(201);
  });

  it('rejects a rule name ARM does not allow', async () => {
    const { status, body } = await raw('PUT', `${nsgId()}/securityRules/bad%20name`, {
      body: { properties: VALID },
    });
    expect(status).toBe(400);
    expect(at(body, 'error', 'code')).toBe('InvalidResourceName');
  });

  it('surfaces a validation error through the SDK with status and code', async () => {
    const error = await failure(
      network().securityRules.createOrUpdate(
        NET_RG,
        'backend',
        'candidate',
        { ...VALID, priority: 50 },
        {
          updateIntervalInMs: 0,
        },
      ),
    );
    expect(error).toMatchObject({ statusCode: 400, code: 'SecurityRuleInvalidPriority' });
    expect(error.message).toBe(
      'Security rule has invalid Priority. Value provided: 50 Allowed range 100-4096.',
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Front door: api-version, authentication, authorization, throttling

describe('ARM front door', () => {
  it('requires api-version before it looks at the token', async () => {
    const { status, body } = await raw('GET', ruleId('allow-apim'), { apiVersion: null, token: null });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        code: 'MissingApiVersionParameter',
        message: 'The api-version query parameter (?api-version=) is required for all requests.',
      },
    });
  });

  it('refuses api-versions the resource provider does not know', async () => {
    const unknown = await raw('GET', ipGroupId('apim-egress'), { apiVersion: '2019-06-01' });
    expect(unknown.status).toBe(400);
    expect(at(unknown.body, 'error', 'code')).toBe('NoRegisteredProviderFound');
    expect(String(at(unknown.body, 'error', 'message'))).toMatch(
      /^No registered resource provider found for location 'westeurope' and API version '2019-06-01' for type 'ipGroups'\. The supported api-versions are '2019-09-01, /,
    );
    const malformed = await raw('GET', apimId('contoso'), { apiVersion: 'latest' });
    expect(at(malformed.body, 'error', 'code')).toBe('InvalidApiVersionParameter');
  });

  it('answers 401 AuthenticationFailed without a token and InvalidAuthenticationToken for a wrong one', async () => {
    const anonymous = await raw('GET', ruleId('allow-apim'), { token: null });
    expect(anonymous.status).toBe(401);
    expect(at(anonymous.body, 'error')).toEqual({
      code: 'AuthenticationFailed',
      message: "Authentication failed. The 'Authorization' header is missing.",
    });
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);
    const error = await failure(network('wrong-token').securityRules.get(NET_RG, 'backend', 'allow-apim'));
    expect(error).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
  });

  it('answers 403 AuthorizationFailed under a forbidden scope, per access kind', async () => {
    emulator.forbid(nsgId(), 'write');
    await expect(network().securityRules.get(NET_RG, 'backend', 'allow-apim')).resolves.toBeDefined();
    const error = await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', ALLOW_APIM, {
        updateIntervalInMs: 0,
      }),
    );
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    expect(error.message).toContain(
      "to perform action 'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope " +
        `'${ruleId('allow-apim')}' or the scope is invalid.`,
    );
    emulator.forbid(`/subscriptions/${SUB}/resourceGroups/${APIM_RG}`, 'read');
    const read = await failure(apim().apiManagementService.get(APIM_RG, 'contoso'));
    expect(read).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    const hidden = await raw('GET', apimId('nope'), { apiVersion: APIM_API });
    expect(hidden.status).toBe(403);
  });

  it('refuses unknown and malformed subscriptions', async () => {
    const other = '00000000-0000-0000-0000-000000000001';
    const unknown = await raw('GET', `/subscriptions/${other}/providers/Microsoft.ApiManagement/service`, {
      apiVersion: APIM_API,
    });
    expect(unknown.status).toBe(404);
    expect(at(unknown.body, 'error', 'code')).toBe('SubscriptionNotFound');
    const malformed = await raw('GET', '/subscriptions/sub/providers/Microsoft.ApiManagement/service', {
      apiVersion: APIM_API,
    });
    expect(at(malformed.body, 'error', 'code')).toBe('InvalidSubscriptionId');
  });

  it('throttles with 429 + Retry-After, and the SDK waits and retries', async () => {
    emulator.throttle('apim.get', 1);
    const started = Date.now();
    const service = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(service.name).toBe('contoso');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(statuses('apim.get')).toEqual([429, 200]);
  });

  it('sends the throttling envelope on the wire, including NRP lock contention', async () => {
    emulator.throttle('securityRule.get', 0, 1, 'RetryableErrorDueToAnotherOperation');
    const throttled = await raw('GET', ruleId('allow-apim'));
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('0');
    expect(at(throttled.body, 'error', 'code')).toBe('RetryableErrorDueToAnotherOperation');
    expect((await raw('GET', ruleId('allow-apim'))).status).toBe(200);
  });

  it('answers malformed JSON, a wrong content type and an unsupported method in ARM envelopes', async () => {
    const badJson = await raw('PUT', ruleId('x'), {
      text: '{"properties":',
      headers: { 'Content-Type': 'application/json' },
    });
    expect([badJson.status, at(badJson.body, 'error', 'code')]).toEqual([400, 'InvalidRequestContent']);
    const plain = await raw('PUT', ruleId('x'), { text: '{}', headers: { 'Content-Type': 'text/plain' } });
    expect([plain.status, at(plain.body, 'error', 'code')]).toEqual([415, 'UnsupportedMediaType']);
    const patch = await raw('PATCH', ruleId('allow-apim'), { body: {} });
    expect([patch.status, at(patch.body, 'error', 'code')]).toEqual([405, 'MethodNotAllowed']);
  });

  it('gives up after the SDK retry budget and surfaces 429', async () => {
    emulator.throttle('securityRule.get', 0, 4);
    const error = await failure(network().securityRules.get(NET_RG, 'backend', 'allow-apim'));
    expect(error).toMatchObject({ statusCode: 429, code: 'TooManyRequests' });
    expect(statuses('securityRule.get')).toEqual([429, 429, 429, 429]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// IP Groups

describe('IP Groups', () => {
  it('round-trips through the SDK: 201, nfvOperations polling, tags, IpGroups type, bare-GUID etag', async () => {
    const group = await network().ipGroups.createOrUpdate(
      NET_RG,
      'apim-new',
      {
        location: 'West Europe',
        tags: { 'managed-by': 'apim-ip-reconciler' },
        ipAddresses: ['20.1.1.1', '60.0.0.0/31'],
      },
      { updateIntervalInMs: 0 },
    );
    expect(group).toMatchObject({
      name: 'apim-new',
      type: 'Microsoft.Network/IpGroups',
      location: 'westeurope',
      tags: { 'managed-by': 'apim-ip-reconciler' },
      provisioningState: 'Succeeded',
      ipAddresses: ['20.1.1.1', '60.0.0.0/31'],
      firewalls: [],
      firewallPolicies: [],
    });
    expect(group.etag).toMatch(GUID);
    expect(statuses('ipGroup.put')).toEqual([201]);
    expect(emulator.requests.filter((r) => r.route === 'operation.get').map((r) => r.path)).toEqual([
      expect.stringMatching(/\/locations\/westeurope\/nfvOperations\/[0-9a-f-]{36}$/),
      expect.stringMatching(/\/nfvOperations\//),
    ]);
    const read = await raw('GET', ipGroupId('apim-new'));
    expect(read.headers.etag).toBe(`"${group.etag}"`);
    expect(emulator.ipGroup(ipGroupId('apim-new'))).toEqual(read.body);
  });

  it('honours If-Match with the body etag and rejects a stale one with 412', async () => {
    const current = await network().ipGroups.get(NET_RG, 'apim-egress');
    const update = (etag: string) =>
      network().ipGroups.createOrUpdate(
        NET_RG,
        'apim-egress',
        { location: 'westeurope', ipAddresses: ['20.1.1.1', '20.2.2.2'] },
        { updateIntervalInMs: 0, requestOptions: { headers: { 'If-Match': etag } } },
      );
    const updated = await update(current.etag ?? '');
    expect(updated.ipAddresses).toEqual(['20.1.1.1', '20.2.2.2']);
    expect(await failure(update(current.etag ?? ''))).toMatchObject({
      statusCode: 412,
      code: 'PreconditionFailed',
    });
  });

  it('surfaces a Failed IP Group operation and leaves the group Failed', async () => {
    emulator.failNextOperation('ipGroup.put', 'Failed');
    const error = await failure(
      network().ipGroups.createOrUpdate(
        NET_RG,
        'apim-egress',
        { location: 'westeurope', ipAddresses: ['20.9.9.9'] },
        { updateIntervalInMs: 0 },
      ),
    );
    expect(error.message).toContain('IpGroupsUpdateFailed');
    expect(at(emulator.ipGroup(ipGroupId('apim-egress')), 'properties')).toMatchObject({
      provisioningState: 'Failed',
      ipAddresses: ['20.9.9.9'],
    });
  });

  it('validates location, entry format and the 5,000-entry limit', async () => {
    const put = (body: unknown) => raw('PUT', ipGroupId('g'), { body });
    const noLocation = await put({ properties: { ipAddresses: ['20.1.1.1'] } });
    expect([noLocation.status, at(noLocation.body, 'error', 'code')]).toEqual([400, 'LocationRequired']);
    const bad = await put({ location: 'westeurope', properties: { ipAddresses: ['20.1.1.1/33'] } });
    expect([bad.status, at(bad.body, 'error', 'code')]).toEqual([400, 'InvalidAddressPrefixFormat']);
    const many = Array.from({ length: 5001 }, (_, i) => `22.${i >> 8}.${i & 255}.1`);
    const tooMany = await put({ location: 'westeurope', properties: { ipAddresses: many } });
    expect([tooMany.status, at(tooMany.body, 'error', 'code')]).toEqual([
      400,
      'IPGroupsIPAddressCountExceeded',
    ]);
    const limit = await put({ location: 'westeurope', properties: { ipAddresses: many.slice(0, 5000) } });
    expect(limit.status).toBe(201);
    expect(at(limit.headers, 'azure-asyncoperation')).toEqual(expect.stringContaining('/nfvOperations/'));
  });
});
