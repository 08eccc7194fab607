/**
 * Contract tests of the ARM emulator's network security groups and security rules (sandbox/arm/nsg.ts): the wire
 * shape, long-running writes and deletes, etags, and NRP's validation, driven by the real NetworkManagementClient
 * and raw HTTPS. Run under `node scripts/with-sandbox-ca.js npx jest tests/contract/arm/nsg.test.ts`.
 */
import type { ArmEmulator, SecurityRuleSeed } from '../../../sandbox/arm';
import {
  ALLOW_APIM,
  NETWORK_API,
  NET_RG,
  SUB,
  network,
  nsgId,
  putRule,
  raw,
  ruleId,
  startArm,
  statuses,
} from '../../support/armContract';
import { at, failure } from '../../support/contract';

let emulator: ArmEmulator;

async function startEmulator(options: { lroPolls?: number } = {}): Promise<void> {
  emulator = await startArm(options);
  emulator.setNsg(nsgId(), { location: 'West Europe', rules: { 'allow-apim': ALLOW_APIM } });
}

beforeEach(() => startEmulator());
afterEach(() => emulator.close());

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
