/**
 * Contract tests of the ARM emulator's Azure Resource Graph (sandbox/arm/resourceGraph.ts): the rows every APIM
 * service contributes, scopes, $skipToken paging, the KQL subset, ARG's error envelope and its throttling, driven by
 * fetch as a hand-written client calls it (no Resource Graph SDK is installed). Run under `node
 * scripts/with-sandbox-ca.js npx jest tests/contract/arm/resourceGraph.test.ts`.
 */
import type { ApimSeed, ArmEmulator, ArmEmulatorOptions } from '../../../sandbox/arm';
import { SUB, call, startArm } from '../../support/armContract';
import { at } from '../../support/contract';

const SUB2 = '9b1e6c2d-4a7f-4e3b-8c5d-1f2a3b4c5d6e';
const UNKNOWN_SUB = '00000000-0000-0000-0000-0000000000aa';
const GRAPH_API = '2024-04-01';

const apimId = (name: string, sub = SUB, rg = 'RG-Apim') =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ApiManagement/service/${name}`;

const PREMIUM: ApimSeed = {
  location: 'West Europe',
  sku: { name: 'Premium', capacity: 1 },
  provisioningState: 'Succeeded',
  publicIPAddresses: ['20.1.1.1'],
  tags: { 'ip-reconciler': 'Prod', owner: 'team-a' },
};

let emulator: ArmEmulator;

async function restart(options: Partial<ArmEmulatorOptions>): Promise<void> {
  await emulator.close();
  emulator = await startArm(options);
}

beforeEach(async () => {
  emulator = await startArm();
});
afterEach(() => emulator.close());

const APIM_SHAPE =
  "resources | where type =~ 'microsoft.apimanagement/service' " +
  '| project id, name, subscriptionId, resourceGroup, location, tags, sku, properties | order by id asc';
const query = (body: Record<string, unknown>, apiVersion = GRAPH_API) =>
  call('POST', '/providers/Microsoft.ResourceGraph/resources', { body, apiVersion });
const ids = (body: unknown) => (at(body, 'data') as Array<Record<string, unknown>>).map((r) => r.name);

function seedFleet(): void {
  emulator.setApim(apimId('apim-a'), PREMIUM);
  emulator.setApim(apimId('apim-b'), {
    ...PREMIUM,
    location: 'North Europe',
    tags: { 'ip-reconciler': 'prod' },
  });
  emulator.setApim(apimId('apim-c'), { ...PREMIUM, tags: { 'IP-Reconciler': 'prod' } });
  emulator.setApim(apimId('apim-d', SUB2), { ...PREMIUM, tags: { 'ip-reconciler': 'staging' } });
  emulator.setApim(apimId('apim-e', SUB2), { ...PREMIUM, tags: {} });
}

describe('Resource Graph query', () => {
  beforeEach(() => seedFleet());

  it('indexes every APIM service with ARG’s normalisations and the RP’s properties', async () => {
    const { status, headers, body } = await query({ query: APIM_SHAPE, subscriptions: [SUB] });
    expect(status).toBe(200);
    expect(Object.keys(body as object)).toEqual([
      'totalRecords',
      'count',
      'data',
      'facets',
      'resultTruncated',
    ]);
    expect(body).toMatchObject({ totalRecords: 3, count: 3, facets: [], resultTruncated: 'false' });
    const row = at(body, 'data', 0) as Record<string, unknown>;
    expect(Object.keys(row)).toEqual([
      'id',
      'name',
      'subscriptionId',
      'resourceGroup',
      'location',
      'tags',
      'sku',
      'properties',
    ]);
    expect(row).toMatchObject({
      id: apimId('apim-a'),
      name: 'apim-a',
      subscriptionId: SUB,
      resourceGroup: 'rg-apim',
      location: 'westeurope',
      tags: { 'ip-reconciler': 'Prod', owner: 'team-a' },
      sku: { name: 'Premium', capacity: 1 },
    });
    const rp = await call('GET', apimId('apim-a'), { apiVersion: '2024-05-01' });
    expect(row.properties).toEqual(at(rp.body, 'properties'));
    expect(headers.get('x-ms-user-quota-remaining')).toBe('14');
    expect(headers.get('x-ms-user-quota-resets-after')).toMatch(/^00:00:0[1-5]$/);
    expect(headers.get('x-ms-ratelimit-remaining-tenant-reads')).toMatch(/^\d+$/);
  });

  it('pages with $skipToken across three pages; the last page has none', async () => {
    const pages: unknown[] = [];
    let token: string | undefined;
    do {
      const options: Record<string, unknown> = { $top: 2 };
      if (token) options.$skipToken = token;
      const { status, body } = await query({ query: APIM_SHAPE, subscriptions: [SUB, SUB2], options });
      expect(status).toBe(200);
      pages.push(body);
      token = at(body, '$skipToken') as string | undefined;
    } while (token);
    expect(pages.map(ids)).toEqual([['apim-a', 'apim-b'], ['apim-c', 'apim-d'], ['apim-e']]);
    expect(pages.map((p) => at(p, 'count'))).toEqual([2, 2, 1]);
    expect(pages.map((p) => at(p, 'totalRecords'))).toEqual([5, 5, 5]);
    expect(pages.map((p) => at(p, 'resultTruncated'))).toEqual(['false', 'false', 'false']);
    expect(pages[2]).not.toHaveProperty('$skipToken');
    expect(Object.keys(pages[0] as object).at(-1)).toBe('$skipToken');
  });

  it('uses graphPageSize when the request has no $top, and honours $skip', async () => {
    await restart({ graphPageSize: 3 });
    seedFleet();
    const first = await query({ query: APIM_SHAPE });
    expect(ids(first.body)).toEqual(['apim-a', 'apim-b', 'apim-c']);
    const skipped = await query({ query: APIM_SHAPE, options: { $skip: 4 } });
    expect(ids(skipped.body)).toEqual(['apim-e']);
    expect(skipped.body).not.toHaveProperty('$skipToken');
  });

  it('scopes to readable subscriptions: unreadable ones are skipped silently, none readable is an error', async () => {
    expect(ids((await query({ query: APIM_SHAPE, subscriptions: [SUB2] })).body)).toEqual([
      'apim-d',
      'apim-e',
    ]);
    const partly = await query({ query: APIM_SHAPE, subscriptions: [SUB2, UNKNOWN_SUB] });
    expect([partly.status, ids(partly.body)]).toEqual([200, ['apim-d', 'apim-e']]);
    const none = await query({ query: APIM_SHAPE, subscriptions: [UNKNOWN_SUB] });
    expect([
      none.status,
      at(none.body, 'error', 'code'),
      at(none.body, 'error', 'details', 0, 'code'),
    ]).toEqual([400, 'BadRequest', 'NoValidSubscriptionsInQueryRequest']);
    const malformed = await query({ query: APIM_SHAPE, subscriptions: ['sub-1'] });
    expect(at(malformed.body, 'error', 'details', 0, 'code')).toBe('SubscriptionsContainInvalidGuids');
    emulator.forbid(`/subscriptions/${SUB2}`, 'read');
    expect(ids((await query({ query: APIM_SHAPE })).body)).toEqual(['apim-a', 'apim-b', 'apim-c']);
    emulator.forbid(apimId('apim-b'), 'read');
    expect(ids((await query({ query: APIM_SHAPE, subscriptions: [SUB] })).body)).toEqual([
      'apim-a',
      'apim-c',
    ]);
  });

  it('filters on a tag: the key is case-sensitive, =~ compares the value case-insensitively', async () => {
    const tagged = (predicate: string) =>
      query({
        query: `Resources | where type =~ 'microsoft.apimanagement/service' | where ${predicate} | project id, name | order by id asc`,
      });
    expect(ids((await tagged("tags['ip-reconciler'] =~ 'prod'")).body)).toEqual(['apim-a', 'apim-b']);
    expect(ids((await tagged('tags["ip-reconciler"] == \'prod\'')).body)).toEqual(['apim-b']);
    expect(ids((await tagged("tags['IP-Reconciler'] =~ 'prod'")).body)).toEqual(['apim-c']);
    expect(ids((await tagged("tags.owner == 'team-a'")).body)).toEqual(['apim-a']);
    const joined = await query({
      query:
        "resources | where type =~ 'Microsoft.ApiManagement/service' and tags['ip-reconciler'] !~ 'prod' " +
        '| project id, name | order by id asc',
    });
    expect(ids(joined.body)).toEqual(['apim-c', 'apim-d', 'apim-e']);
    const dotted = await tagged("tags.ip-reconciler =~ 'prod'");
    expect(at(dotted.body, 'error', 'details', 1, 'code')).toBe('ParserFailure');
  });

  it('refuses what it cannot run with ARG’s InvalidQuery envelope', async () => {
    const bad = await query({ query: 'resources | where type =~ ', subscriptions: [SUB] });
    expect(bad.status).toBe(400);
    expect(at(bad.body, 'error', 'code')).toBe('BadRequest');
    expect(at(bad.body, 'error', 'message')).toMatch(
      /^Please provide below info when asking for support: timestamp = \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z, correlationId = [0-9a-f-]{36}\.$/,
    );
    expect(at(bad.body, 'error', 'message')).toContain(
      bad.headers.get('x-ms-correlation-request-id') ?? 'none',
    );
    expect(at(bad.body, 'error', 'details')).toEqual([
      {
        code: 'InvalidQuery',
        message:
          'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.',
      },
      {
        code: 'ParserFailure',
        message: 'ParserFailure',
        line: 1,
        characterPositionInLine: 26,
        token: '<EOF>',
      },
    ]);
    expect(bad.headers.get('x-ms-user-quota-remaining')).toMatch(/^\d+$/);
    const summarize = await query({ query: 'resources\n| summarize count() by type' });
    expect(at(summarize.body, 'error', 'details', 1)).toMatchObject({
      line: 2,
      characterPositionInLine: 2,
      token: 'summarize',
    });
    const column = await query({ query: "resources | where Type =~ 'x'" });
    expect(at(column.body, 'error', 'details', 1, 'token')).toBe('Type');
  });

  it('sorts descending by default, returns a table on request, and cannot page without id', async () => {
    const desc = await query({
      query: "resources | where type == 'microsoft.apimanagement/service' | order by name",
    });
    expect(ids(desc.body)).toEqual(['apim-e', 'apim-d', 'apim-c', 'apim-b', 'apim-a']);
    const table = await query({
      query: 'resources | project name, tags | order by name asc',
      options: { resultFormat: 'table', $top: 1 },
    });
    expect(at(table.body, 'data')).toEqual({
      columns: [
        { name: 'name', type: 'string' },
        { name: 'tags', type: 'object' },
      ],
      rows: [['apim-a', { 'ip-reconciler': 'Prod', owner: 'team-a' }]],
    });
    expect(at(table.body, 'resultTruncated')).toBe('true');
    expect(table.body).not.toHaveProperty('$skipToken');
  });

  it('keeps other resource types out of the type filter and in an unfiltered query', async () => {
    emulator.addGraphResource({
      id: `/subscriptions/${SUB}/resourceGroups/RG-Net/providers/Microsoft.Network/ipGroups/spokes`,
      location: 'West Europe',
    });
    expect(ids((await query({ query: APIM_SHAPE, subscriptions: [SUB] })).body)).toEqual([
      'apim-a',
      'apim-b',
      'apim-c',
    ]);
    const all = await query({ query: 'resources | project id, name, type, resourceGroup | order by id asc' });
    expect(ids(all.body)).toEqual(['apim-a', 'apim-b', 'apim-c', 'spokes', 'apim-d', 'apim-e']);
    expect(at(all.body, 'data', 3)).toEqual({
      id: `/subscriptions/${SUB}/resourceGroups/RG-Net/providers/Microsoft.Network/ipGroups/spokes`,
      name: 'spokes',
      type: 'microsoft.network/ipgroups',
      resourceGroup: 'rg-net',
    });
  });

  it('refuses a $skipToken from another query, and $top outside 1–1000', async () => {
    const first = await query({ query: APIM_SHAPE, options: { $top: 1 } });
    const token = at(first.body, '$skipToken');
    const other = await query({
      query: `${APIM_SHAPE} `,
      subscriptions: [SUB],
      options: { $skipToken: token },
    });
    expect(at(other.body, 'error', 'details', 0, 'code')).toBe('InvalidSkipToken');
    for (const top of [0, 1001, 2.5]) {
      const bad = await query({ query: APIM_SHAPE, options: { $top: top } });
      expect(bad.status).toBe(400);
    }
  });

  it('throttles past the quota with 429 RateLimiting and lets the next window through', async () => {
    await restart({ graphQuota: { requests: 3, windowSeconds: 0.5 } });
    seedFleet();
    const remaining: Array<string | null> = [];
    for (let i = 0; i < 3; i++)
      remaining.push((await query({ query: APIM_SHAPE })).headers.get('x-ms-user-quota-remaining'));
    expect(remaining).toEqual(['2', '1', '0']);
    const throttled = await query({ query: APIM_SHAPE });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(throttled.headers.get('x-ms-user-quota-remaining')).toBe('0');
    expect(throttled.headers.get('x-ms-user-quota-resets-after')).toBe('00:00:01');
    expect(at(throttled.body, 'error', 'code')).toBe('RateLimiting');
    expect(at(throttled.body, 'error', 'details', 0, 'message')).toMatch(
      /^Client application has been throttled/,
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect((await query({ query: APIM_SHAPE })).status).toBe(200);
  });

  it('accepts the documented api-versions and refuses others', async () => {
    for (const version of ['2024-04-01', '2022-10-01', '2021-03-01']) {
      expect((await query({ query: APIM_SHAPE }, version)).status).toBe(200);
    }
    const old = await query({ query: APIM_SHAPE }, '2017-01-01');
    expect([old.status, at(old.body, 'error', 'code')]).toEqual([400, 'NoRegisteredProviderFound']);
    const get = await call('GET', '/providers/Microsoft.ResourceGraph/resources', { apiVersion: GRAPH_API });
    expect(get.status).toBe(405);
  });
});
