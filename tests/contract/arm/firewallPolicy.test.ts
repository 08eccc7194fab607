/**
 * Contract tests of the ARM emulator's Firewall Policy rule collection groups (sandbox/arm/firewallPolicy.ts): the
 * real wire shape, slow long-running whole-group writes serialised per policy, etags, and validation, driven by the
 * real NetworkManagementClient and fetch. Run under `node scripts/with-sandbox-ca.js npx jest
 * tests/contract/arm/firewallPolicy.test.ts`.
 */
import type {
  FirewallPolicyRuleCollectionGroup,
  FirewallPolicyRuleCollectionUnion,
} from '@azure/arm-network';
import type { ArmEmulator, ArmEmulatorOptions } from '../../../sandbox/arm';
import { GUID, NET_RG, SUB, call, network, startArm, statuses } from '../../support/armContract';
import { at, failure } from '../../support/contract';

const policyId = (name = 'hub-policy', sub = SUB) =>
  `/subscriptions/${sub}/resourceGroups/${NET_RG}/providers/Microsoft.Network/firewallPolicies/${name}`;
const groupId = (name = 'apim', policy = 'hub-policy') => `${policyId(policy)}/ruleCollectionGroups/${name}`;
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

let emulator: ArmEmulator;

async function startEmulator(options: Partial<ArmEmulatorOptions> = {}): Promise<void> {
  emulator = await startArm(options);
  emulator.setFirewallPolicy(policyId(), { location: 'West Europe' });
  emulator.setRuleCollectionGroup(groupId(), { priority: 500, ruleCollections: SEED_COLLECTIONS });
}

async function restart(options: Partial<ArmEmulatorOptions>): Promise<void> {
  await emulator.close();
  await startEmulator(options);
}

beforeEach(() => startEmulator());
afterEach(() => emulator.close());

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
