/**
 * Contract tests of the ARM emulator's Firewall Policy rule collection groups (real NetworkManagementClient), App
 * Service site config and Azure Resource Graph (raw HTTPS fetch, as a hand-written client calls them; no SDK for
 * either is installed). Run under `node scripts/with-sandbox-ca.js npx jest tests/contract/armMore.test.ts`.
 */
import {
  NetworkManagementClient,
  type FirewallPolicyRuleCollectionGroup,
  type FirewallPolicyRuleCollectionUnion,
} from '@azure/arm-network';
import { ArmEmulator, type ArmEmulatorOptions, type ApimSeed } from '../../sandbox/arm';
import { inheritedRunCertificate, type RunCertificate } from '../../sandbox/tls';
import { at, failure } from '../support/contract';

const SUB = '3f2a8b1c-0d4e-4f5a-9b6c-7d8e9f0a1b2c';
const SUB2 = '9b1e6c2d-4a7f-4e3b-8c5d-1f2a3b4c5d6e';
const UNKNOWN_SUB = '00000000-0000-0000-0000-0000000000aa';
const NET_RG = 'rg-net';
const WEB_RG = 'rg-web';
const TOKEN = 'contract-test-token';
const NETWORK_API = '2026-01-01';
const WEB_API = '2025-03-01';
const GRAPH_API = '2024-04-01';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const policyId = (name = 'hub-policy', sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/${NET_RG}/providers/Microsoft.Network/firewallPolicies/${name}`;
const groupId = (name = 'apim', policy = 'hub-policy') => `${policyId(policy)}/ruleCollectionGroups/${name}`;
const siteId = (name = 'backend') =>
  `/subscriptions/${SUB}/resourceGroups/${WEB_RG}/providers/Microsoft.Web/sites/${name}`;
const apimId = (name: string, sub = SUB, rg = 'RG-Apim') =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.ApiManagement/service/${name}`;
const ipGroupRef = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/ipGroups/${name}`;

/** The rule the reconciler owns, between collections and rules it must not touch. */
const APIM_RULE = {
  ruleType: 'NetworkRule',
  name: 'allow-apim',
  ipProtocols: ['TCP'],
  sourceAddresses: ['20.1.1.1'],
  destinationAddresses: ['10.0.0.0/24'],
  destinationPorts: ['443'],
};

const SEED_COLLECTIONS: Array<Record<string, unknown>> = [
  {
    ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
    name: 'apim-inbound',
    priority: 200,
    action: { type: 'Allow' },
    rules: [
      APIM_RULE,
      {
        ruleType: 'NetworkRule',
        name: 'dns',
        description: 'someone else owns this',
        ipProtocols: ['UDP', 'TCP'],
        sourceIpGroups: [ipGroupRef('spokes')],
        destinationAddresses: ['AzureCloud'],
        destinationPorts: ['53'],
      },
    ],
  },
  {
    ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
    name: 'web-egress',
    priority: 300,
    action: { type: 'Deny' },
    rules: [
      {
        ruleType: 'ApplicationRule',
        name: 'block-bing',
        protocols: [{ protocolType: 'Https', port: 443 }],
        targetFqdns: ['*.bing.com'],
        sourceAddresses: ['10.1.0.0/16'],
      },
    ],
  },
  {
    ruleCollectionType: 'FirewallPolicyNatRuleCollection',
    name: 'dnat',
    priority: 100,
    action: { type: 'DNAT' },
    rules: [
      {
        ruleType: 'NatRule',
        name: 'ssh',
        ipProtocols: ['TCP'],
        sourceAddresses: ['*'],
        destinationAddresses: ['52.1.1.1'],
        destinationPorts: ['2222'],
        translatedAddress: '10.0.0.4',
        translatedPort: '22',
      },
    ],
  },
];

const PREMIUM: ApimSeed = {
  location: 'West Europe',
  sku: { name: 'Premium', capacity: 1 },
  provisioningState: 'Succeeded',
  publicIPAddresses: ['20.1.1.1'],
  tags: { 'ip-reconciler': 'Prod', owner: 'team-a' },
};

// ---------------------------------------------------------------------------------------------------------------
// Harness

let certificate: RunCertificate;
let emulator: ArmEmulator;

type Credential = ConstructorParameters<typeof NetworkManagementClient>[0];
const credential: Credential = {
  getToken: async () => ({ token: TOKEN, expiresOnTimestamp: Date.now() + 3600_000 }),
};
const network = (sub = SUB) => new NetworkManagementClient(credential, sub, { endpoint: emulator.url });

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One HTTPS request with global fetch; `target` is a path (api-version appended unless given) or a URL. */
async function call(
  method: string,
  target: string,
  options: { body?: unknown; apiVersion?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL(target.startsWith('https://') ? target : `${emulator.url}${target}`);
  if (options.apiVersion !== null && !url.searchParams.has('api-version')) {
    url.searchParams.set('api-version', options.apiVersion ?? NETWORK_API);
  }
  const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}`, ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const statuses = (route: string) => emulator.requests.filter((r) => r.route === route).map((r) => r.status);

beforeAll(() => {
  const inherited = inheritedRunCertificate();
  if (!inherited)
    throw new Error('run under `node scripts/with-sandbox-ca.js` so the SDKs and fetch trust the emulator');
  certificate = inherited;
});

async function startEmulator(options: Partial<ArmEmulatorOptions> = {}): Promise<void> {
  emulator = await ArmEmulator.start({ tls: certificate, token: TOKEN, ...options });
  emulator.setFirewallPolicy(policyId(), { location: 'West Europe' });
  emulator.setRuleCollectionGroup(groupId(), { priority: 500, ruleCollections: SEED_COLLECTIONS });
  emulator.setSite(siteId(), { location: 'West Europe' });
}

async function restart(options: Partial<ArmEmulatorOptions>): Promise<void> {
  await emulator.close();
  await startEmulator(options);
}

beforeEach(() => startEmulator());
afterEach(() => emulator.close());

// ---------------------------------------------------------------------------------------------------------------
// Firewall Policy rule collection groups

const groupBody = () => at(emulator.ruleCollectionGroup(groupId()), 'properties') as Record<string, unknown>;
const collections = () => groupBody().ruleCollections as Array<Record<string, unknown>>;
/** The group's properties as a client PUTs them back: what it read, minus the read-only fields. */
function writable(): FirewallPolicyRuleCollectionGroup & {
  ruleCollections: FirewallPolicyRuleCollectionUnion[];
} {
  const ruleCollections = structuredClone(collections()) as unknown as FirewallPolicyRuleCollectionUnion[];
  return { priority: groupBody().priority as number, ruleCollections };
}
function withApimSources(sources: string[]) {
  const body = writable();
  const first = body.ruleCollections[0] as unknown as { rules: Array<Record<string, unknown>> };
  (first.rules[0] as Record<string, unknown>).sourceAddresses = sources;
  return body;
}

describe('Firewall Policy and rule collection group GET', () => {
  it('returns the policy with its groups, a bare-GUID etag and a quoted ETag header', async () => {
    const { status, headers, body } = await call('GET', policyId());
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: policyId(),
      name: 'hub-policy',
      type: 'Microsoft.Network/FirewallPolicies',
      location: 'westeurope',
      properties: { provisioningState: 'Succeeded', ruleCollectionGroups: [{ id: groupId() }] },
    });
    expect(at(body, 'etag')).toMatch(GUID);
    expect(headers.get('etag')).toBe(`"${String(at(body, 'etag'))}"`);
    const sdk = await network().firewallPolicies.get(NET_RG, 'hub-policy');
    expect(sdk.ruleCollectionGroups?.map((g) => g.id)).toEqual([groupId()]);
  });

  it('renders every rule in NRP order with every list present, as real traffic shows', async () => {
    const { status, headers, body } = await call('GET', groupId());
    expect(status).toBe(200);
    expect(Object.keys(body as object)).toEqual(['properties', 'id', 'name', 'type', 'etag', 'location']);
    expect(body).toMatchObject({
      name: 'apim',
      type: 'Microsoft.Network/FirewallPolicies/RuleCollectionGroups',
      location: 'westeurope',
      properties: { priority: 500, provisioningState: 'Succeeded' },
    });
    expect(at(body, 'properties', 'size')).toMatch(/^\d+(\.\d+)?(e-\d+)? MB$/);
    expect(at(body, 'etag')).toMatch(GUID);
    expect(headers.get('etag')).toBe(`"${String(at(body, 'etag'))}"`);
    const first = at(body, 'properties', 'ruleCollections', 0) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['ruleCollectionType', 'action', 'rules', 'name', 'priority']);
    expect(at(first, 'rules', 0)).toEqual({
      ruleType: 'NetworkRule',
      name: 'allow-apim',
      ipProtocols: ['TCP'],
      sourceAddresses: ['20.1.1.1'],
      sourceIpGroups: [],
      destinationAddresses: ['10.0.0.0/24'],
      destinationIpGroups: [],
      destinationFqdns: [],
      destinationPorts: ['443'],
    });
    expect(Object.keys(at(first, 'rules', 0) as object)).toEqual([
      'ruleType',
      'name',
      'ipProtocols',
      'sourceAddresses',
      'sourceIpGroups',
      'destinationAddresses',
      'destinationIpGroups',
      'destinationFqdns',
      'destinationPorts',
    ]);
    expect(emulator.ruleCollectionGroup(groupId())).toEqual(body);
    const old = await call('GET', groupId(), { apiVersion: '2021-05-01' });
    expect(at(old.body, 'properties')).not.toHaveProperty('size');
  });

  it('reads through the SDK, lists groups across nextLink pages, and answers 404s like NRP', async () => {
    const group = await network().firewallPolicyRuleCollectionGroups.get(NET_RG, 'hub-policy', 'apim');
    expect(group.priority).toBe(500);
    expect(group.ruleCollections?.map((c) => c.name)).toEqual(['apim-inbound', 'web-egress', 'dnat']);
    emulator.setRuleCollectionGroup(groupId('b'), { priority: 600, ruleCollections: [] });
    emulator.setRuleCollectionGroup(groupId('c'), { priority: 700, ruleCollections: [] });
    const names: string[] = [];
    for await (const g of network().firewallPolicyRuleCollectionGroups.list(NET_RG, 'hub-policy'))
      names.push(g.name ?? '');
    expect(names).toEqual(['apim', 'b', 'c']);
    expect(statuses('ruleCollectionGroup.list')).toEqual([200, 200]);
    const missing = await call('GET', groupId('nope'));
    expect(missing.body).toEqual({
      error: { code: 'NotFound', message: `Resource ${groupId('nope')} not found.`, details: [] },
    });
    const noPolicy = await failure(network().firewallPolicyRuleCollectionGroups.get(NET_RG, 'nope', 'apim'));
    expect(noPolicy).toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  });

  it('refuses api-versions older than rule collection groups', async () => {
    const old = await call('GET', groupId(), { apiVersion: '2020-04-01' });
    expect(old.status).toBe(400);
    expect(at(old.body, 'error', 'code')).toBe('NoRegisteredProviderFound');
    expect((await call('GET', groupId(), { apiVersion: '2020-05-01' })).status).toBe(200);
  });
});

describe('rule collection group PUT (slow long-running read-modify-write)', () => {
  it('is a long-running write through the SDK: N InProgress polls on nfvOperations, then Succeeded', async () => {
    await restart({ ruleCollectionGroupPolls: 3 });
    const group = await network().firewallPolicyRuleCollectionGroups.createOrUpdate(
      NET_RG,
      'hub-policy',
      'apim',
      withApimSources(['20.1.1.1', '20.9.9.9']),
      { updateIntervalInMs: 0 },
    );
    expect(group.provisioningState).toBe('Succeeded');
    expect(statuses('ruleCollectionGroup.put')).toEqual([200]);
    expect(statuses('operation.get')).toEqual([200, 200, 200, 200]);
    expect(emulator.requests.filter((r) => r.route === 'operation.get')[0]?.path).toMatch(
      /\/locations\/westeurope\/nfvOperations\/[0-9a-f-]{36}$/,
    );
    expect(at(collections(), 0, 'rules', 0, 'sourceAddresses')).toEqual(['20.1.1.1', '20.9.9.9']);
  });

  it('answers 201 Updating with Azure-AsyncOperation and its own Retry-After, and changes the etag twice', async () => {
    await restart({ ruleCollectionGroupPolls: 2, ruleCollectionGroupRetryAfterSeconds: 10 });
    const created = await call('PUT', groupId('new'), {
      body: { properties: { priority: 800, ruleCollections: [] } },
    });
    expect(created.status).toBe(201);
    expect(at(created.body, 'properties', 'provisioningState')).toBe('Updating');
    expect(created.headers.get('retry-after')).toBe('10');
    const asyncUrl = created.headers.get('azure-asyncoperation') ?? '';
    expect(asyncUrl).toContain(
      `/subscriptions/${SUB}/providers/Microsoft.Network/locations/westeurope/nfvOperations/`,
    );
    expect(created.headers.get('etag')).toBe(`"${String(at(created.body, 'etag'))}"`);
    const during = await call('GET', groupId('new'));
    expect(at(during.body, 'properties', 'provisioningState')).toBe('Updating');
    expect((await call('GET', policyId())).body).toMatchObject({
      properties: { provisioningState: 'Updating' },
    });
    const polls = [await call('GET', asyncUrl), await call('GET', asyncUrl), await call('GET', asyncUrl)];
    expect(polls.map((p) => at(p.body, 'status'))).toEqual(['InProgress', 'InProgress', 'Succeeded']);
    expect(polls[0]?.headers.get('retry-after')).toBe('10');
    const after = await call('GET', groupId('new'));
    expect(at(after.body, 'properties', 'provisioningState')).toBe('Succeeded');
    expect(at(after.body, 'etag')).not.toBe(at(created.body, 'etag'));
  });

  it('honours If-Match with the quoted or bare etag and refuses a stale one with 412 through the SDK', async () => {
    const read = await network().firewallPolicyRuleCollectionGroups.get(NET_RG, 'hub-policy', 'apim');
    const put = (etag: string, sources: string[]) =>
      network().firewallPolicyRuleCollectionGroups.createOrUpdate(
        NET_RG,
        'hub-policy',
        'apim',
        withApimSources(sources),
        { updateIntervalInMs: 0, requestOptions: { headers: { 'If-Match': etag } } },
      );
    await put(read.etag ?? '', ['20.2.2.2']);
    expect(await failure(put(read.etag ?? '', ['20.3.3.3']))).toMatchObject({
      statusCode: 412,
      code: 'PreconditionFailed',
    });
    expect(at(collections(), 0, 'rules', 0, 'sourceAddresses')).toEqual(['20.2.2.2']);
    const fresh = (await call('GET', groupId())).headers.get('etag') ?? '';
    await put(fresh, ['20.4.4.4']);
    const body = { properties: writable() };
    expect((await call('PUT', groupId('missing'), { body, headers: { 'If-Match': '*' } })).status).toBe(412);
    expect((await call('PUT', groupId(), { body, headers: { 'If-None-Match': '*' } })).status).toBe(412);
  });

  it('round-trips every collection and rule it was not asked to change, byte for byte', async () => {
    const before = (await call('GET', groupId())).body;
    const body = structuredClone(at(before, 'properties') as Record<string, unknown>);
    delete body.provisioningState;
    delete body.size;
    const rule = at(body, 'ruleCollections', 0, 'rules', 0) as Record<string, unknown>;
    rule.sourceAddresses = ['20.1.1.1', '20.7.7.7'];
    const put = await call('PUT', groupId(), { body: { properties: body } });
    expect(put.status).toBe(200);
    emulator.settleOperations();
    const after = (await call('GET', groupId())).body;
    const text = (v: unknown) => JSON.stringify(v);
    for (const i of [1, 2]) {
      expect(text(at(after, 'properties', 'ruleCollections', i))).toBe(
        text(at(before, 'properties', 'ruleCollections', i)),
      );
    }
    expect(text(at(after, 'properties', 'ruleCollections', 0, 'rules', 1))).toBe(
      text(at(before, 'properties', 'ruleCollections', 0, 'rules', 1)),
    );
    expect(at(after, 'properties', 'ruleCollections', 0, 'rules', 0, 'sourceAddresses')).toEqual([
      '20.1.1.1',
      '20.7.7.7',
    ]);
  });

  it('keeps what an SDK read-modify-write does not touch', async () => {
    const before = JSON.stringify(collections().slice(1));
    const read = await network().firewallPolicyRuleCollectionGroups.get(NET_RG, 'hub-policy', 'apim');
    const rule = read.ruleCollections?.[0] as { rules: Array<{ sourceAddresses?: string[] }> };
    (rule.rules[0] as { sourceAddresses?: string[] }).sourceAddresses = ['20.1.1.1', '20.8.8.8'];
    await network().firewallPolicyRuleCollectionGroups.createOrUpdate(NET_RG, 'hub-policy', 'apim', read, {
      updateIntervalInMs: 0,
      requestOptions: { headers: { 'If-Match': read.etag ?? '' } },
    });
    expect(JSON.stringify(collections().slice(1))).toBe(before);
    expect(at(collections(), 0, 'rules', 0, 'sourceAddresses')).toEqual(['20.1.1.1', '20.8.8.8']);
  });

  it('replaces the whole group: a collection left out of the PUT is gone', async () => {
    const body = writable();
    body.ruleCollections = body.ruleCollections.slice(0, 1);
    await network().firewallPolicyRuleCollectionGroups.createOrUpdate(NET_RG, 'hub-policy', 'apim', body, {
      updateIntervalInMs: 0,
    });
    expect(collections().map((c) => c.name)).toEqual(['apim-inbound']);
  });

  it('refuses a second write to the same policy while one runs: 409 AnotherOperationInProgress', async () => {
    const first = network().firewallPolicyRuleCollectionGroups.createOrUpdate(
      NET_RG,
      'hub-policy',
      'apim',
      withApimSources(['20.5.5.5']),
      { updateIntervalInMs: 0 },
    );
    await first.submitted();
    const other = { priority: 900, ruleCollections: [] };
    const blocked = await failure(
      network().firewallPolicyRuleCollectionGroups.createOrUpdate(NET_RG, 'hub-policy', 'other', other, {
        updateIntervalInMs: 0,
      }),
    );
    expect(blocked).toMatchObject({ statusCode: 409, code: 'AnotherOperationInProgress' });
    expect(blocked.message).toMatch(
      /^Another operation on this or dependent resource is in progress\. To retrieve status of the operation use uri: https:\/\/127\.0\.0\.1:\d+\/subscriptions\/.+\/nfvOperations\/[0-9a-f-]{36}\?api-version=/,
    );
    const raw = await call('PUT', groupId(), { body: { properties: writable() } });
    expect([raw.status, at(raw.body, 'error', 'code')]).toEqual([409, 'AnotherOperationInProgress']);
    emulator.setFirewallPolicy(policyId('spoke-policy'), { location: 'westeurope' });
    const elsewhere = await call('PUT', groupId('x', 'spoke-policy'), { body: { properties: other } });
    expect(elsewhere.status).toBe(201);
    await first;
    const retried = await network().firewallPolicyRuleCollectionGroups.createOrUpdate(
      NET_RG,
      'hub-policy',
      'other',
      other,
      { updateIntervalInMs: 0 },
    );
    expect(retried.provisioningState).toBe('Succeeded');
    expect(statuses('ruleCollectionGroup.put')).toEqual([200, 409, 409, 201, 201]);
  });

  it('simulates a concurrent writer: the etag read before the write no longer matches', async () => {
    const read = await network().firewallPolicyRuleCollectionGroups.get(NET_RG, 'hub-policy', 'apim');
    emulator.inject({ route: 'ruleCollectionGroup.put', concurrentModification: true });
    const error = await failure(
      network().firewallPolicyRuleCollectionGroups.createOrUpdate(
        NET_RG,
        'hub-policy',
        'apim',
        withApimSources(['20.6.6.6']),
        { updateIntervalInMs: 0, requestOptions: { headers: { 'If-Match': read.etag ?? '' } } },
      ),
    );
    expect(error.statusCode).toBe(412);
    expect(at(collections(), 0, 'rules', 0, 'sourceAddresses')).toEqual([
      '20.1.1.1',
      expect.stringMatching(/^198\.51\.100\.\d+$/),
    ]);
  });

  it('surfaces a Failed operation, keeps the new content Failed, and frees the policy', async () => {
    emulator.failNextOperation('ruleCollectionGroup.put', 'Failed');
    const error = await failure(
      network().firewallPolicyRuleCollectionGroups.createOrUpdate(
        NET_RG,
        'hub-policy',
        'apim',
        withApimSources(['20.6.6.6']),
        { updateIntervalInMs: 0 },
      ),
    );
    expect(error.message).toContain('FirewallPolicyUpdateFailed');
    expect(groupBody()).toMatchObject({ provisioningState: 'Failed' });
    expect(at(collections(), 0, 'rules', 0, 'sourceAddresses')).toEqual(['20.6.6.6']);
    expect((await call('PUT', groupId(), { body: { properties: writable() } })).status).toBe(200);
  });
});

describe('rule collection group validation', () => {
  const filter = (rules: unknown[], extra: Record<string, unknown> = {}) => ({
    ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
    name: 'c1',
    priority: 200,
    action: { type: 'Allow' },
    rules,
    ...extra,
  });
  const put = (properties: unknown, name = 'candidate') =>
    call('PUT', groupId(name), { body: { properties } });
  const valid = () => ({ priority: 400, ruleCollections: [filter([{ ...APIM_RULE }])] });
  const withRule = (override: Record<string, unknown>) => ({
    priority: 400,
    ruleCollections: [filter([{ ...APIM_RULE, ...override }])],
  });

  it('accepts the base group of the table below, ranges, tags as destinations and IP Groups (control)', async () => {
    expect((await put(valid())).status).toBe(201);
    emulator.settleOperations();
    const rich = withRule({
      sourceAddresses: ['10.0.0.5-10.0.0.7', '*'],
      sourceIpGroups: [ipGroupRef('spokes')],
      destinationAddresses: ['AzureCloud.WestEurope'],
      destinationFqdns: ['api.contoso.com'],
      destinationPorts: ['443', '8000-8080', '*'],
      ipProtocols: ['TCP', 'UDP', 'ICMP', 'Any'],
    });
    expect((await put(rich, 'rich')).status).toBe(201);
  });

  it.each<[string, unknown, string]>([
    [
      'group priority below 100',
      { ...valid(), priority: 99 },
      'FirewallPolicyRuleCollectionGroupInvalidPriority',
    ],
    ['no group priority', { ruleCollections: [] }, 'FirewallPolicyRuleCollectionGroupInvalidPriority'],
    ['group priority as a string', { ...valid(), priority: '400' }, 'InvalidRequestFormat'],
    [
      'unknown collection type',
      {
        priority: 400,
        ruleCollections: [filter([], { ruleCollectionType: 'FirewallPolicyRuleCollection' })],
      },
      'FirewallPolicyRuleCollectionInvalidType',
    ],
    [
      'collection priority above 65000',
      { priority: 400, ruleCollections: [filter([], { priority: 65001 })] },
      'FirewallPolicyRuleCollectionInvalidPriority',
    ],
    [
      'duplicate collection names',
      { priority: 400, ruleCollections: [filter([]), filter([], { name: 'C1', priority: 300 })] },
      'FirewallPolicyRuleCollectionDuplicateName',
    ],
    [
      'duplicate collection priorities',
      { priority: 400, ruleCollections: [filter([]), filter([], { name: 'c2' })] },
      'FirewallPolicyRuleCollectionDuplicatePriority',
    ],
    [
      'DNAT action on a filter collection',
      { priority: 400, ruleCollections: [filter([], { action: { type: 'DNAT' } })] },
      'FirewallPolicyRuleCollectionInvalidActionType',
    ],
    [
      'a NAT rule in a filter collection',
      { priority: 400, ruleCollections: [filter([{ ...APIM_RULE, ruleType: 'NatRule' }])] },
      'FirewallPolicyRuleCollectionInvalidRuleType',
    ],
    [
      'duplicate rule names',
      { priority: 400, ruleCollections: [filter([APIM_RULE, { ...APIM_RULE, name: 'Allow-APIM' }])] },
      'FirewallPolicyRuleDuplicateName',
    ],
    ['lower-case protocol', withRule({ ipProtocols: ['tcp'] }), 'FirewallPolicyNetworkRuleInvalidProtocol'],
    ['no protocol', withRule({ ipProtocols: [] }), 'FirewallPolicyRuleMissingIpProtocols'],
    ['no source', withRule({ sourceAddresses: [] }), 'FirewallPolicyRuleMissingSource'],
    [
      'CIDR with host bits',
      withRule({ sourceAddresses: ['20.1.1.1/24'] }),
      'FirewallPolicyRuleInvalidIpAddressOrRangeFormat',
    ],
    [
      'IPv6 source',
      withRule({ sourceAddresses: ['2001:db8::1'] }),
      'FirewallPolicyRuleInvalidIpAddressOrRangeFormat',
    ],
    [
      'descending range',
      withRule({ sourceAddresses: ['10.0.0.9-10.0.0.1'] }),
      'FirewallPolicyRuleInvalidIpAddressOrRangeFormat',
    ],
    [
      'tag as a source',
      withRule({ sourceAddresses: ['Internet'] }),
      'FirewallPolicyRuleInvalidIpAddressOrRangeFormat',
    ],
    ['no destination', withRule({ destinationAddresses: [] }), 'FirewallPolicyRuleMissingDestination'],
    ['port 0', withRule({ destinationPorts: ['0'] }), 'FirewallPolicyRuleInvalidPort'],
    ['no port', withRule({ destinationPorts: [] }), 'FirewallPolicyRuleMissingDestinationPorts'],
    ['bad IP Group id', withRule({ sourceIpGroups: ['spokes'] }), 'FirewallPolicyRuleInvalidIpGroupId'],
  ])('rejects %s', async (_, properties, code) => {
    const { status, body } = await put(properties);
    expect([status, at(body, 'error', 'code')]).toEqual([400, code]);
    if (code !== 'InvalidRequestFormat') expect(at(body, 'error', 'details')).toEqual([]);
    expect(emulator.ruleCollectionGroup(groupId('candidate'))).toBeUndefined();
  });

  it('rejects a name the REST reference does not allow, and validates before taking the policy', async () => {
    const bad = await call('PUT', `${policyId()}/ruleCollectionGroups/_under`, {
      body: { properties: valid() },
    });
    expect([bad.status, at(bad.body, 'error', 'code')]).toEqual([400, 'InvalidResourceName']);
    expect((await put(valid())).status).toBe(201);
  });

  it('surfaces a validation error through the SDK with status, code and message', async () => {
    const error = await failure(
      network().firewallPolicyRuleCollectionGroups.createOrUpdate(
        NET_RG,
        'hub-policy',
        'candidate',
        { priority: 50, ruleCollections: [] },
        { updateIntervalInMs: 0 },
      ),
    );
    expect(error).toMatchObject({
      statusCode: 400,
      code: 'FirewallPolicyRuleCollectionGroupInvalidPriority',
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// App Service site config

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

// ---------------------------------------------------------------------------------------------------------------
// Azure Resource Graph

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
