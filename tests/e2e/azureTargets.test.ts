import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createArmRestClient } from '../../lib/azure/armRest';
import { parseConfig } from '../../lib/config/load';
import type { AppServiceAccessRestrictionTarget } from '../../lib/targets/appServiceAccessRestriction/schema';
import { ManualClock } from '../../lib/engine/clock';
import { parseAll } from '../../lib/net/addresses';
import { AppServiceDriver } from '../../lib/targets/appServiceAccessRestriction/driver';
import {
  APIM_ID,
  ARM_TOKEN,
  RECORD_NAME,
  RULE_ID,
  SUBSCRIPTION,
  reactivate,
  resetCounts,
  writes,
  ZONE_ID,
  type World,
} from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/**
 * azure.firewallPolicyRule and azure.appServiceAccessRestriction through the real SDKs and Resource Manager
 * calls against the emulator: create/adopt, update, remove after retireAfter, in sync, not owned, and the
 * faults each API can give.
 */

const POLICY_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-firewall/providers/Microsoft.Network/firewallPolicies/fw-policy`;
const RCG_ID = `${POLICY_ID}/ruleCollectionGroups/apim`;
const SITE_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-web/providers/Microsoft.Web/sites/backend-app`;
const MARK = 'managed-by=apim-ip-reconciler';

let world: World;
let clock: ManualClock;

const otherCollection = {
  ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
  name: 'office',
  priority: 300,
  action: { type: 'Allow' },
  rules: [
    {
      ruleType: 'NetworkRule',
      name: 'office-ssh',
      ipProtocols: ['TCP'],
      sourceAddresses: ['198.51.100.0/28'],
      destinationAddresses: ['10.1.0.0/24'],
      destinationPorts: ['22'],
    },
  ],
};

function seedFirewall(description?: string) {
  world.arm.setFirewallPolicy(POLICY_ID, { location: 'westeurope' });
  world.arm.setRuleCollectionGroup(RCG_ID, {
    priority: 200,
    ruleCollections: [
      {
        ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
        name: 'apim-egress',
        priority: 200,
        action: { type: 'Allow' },
        rules: [
          {
            ruleType: 'NetworkRule',
            name: 'allow-apim',
            ...(description ? { description } : {}),
            ipProtocols: ['TCP'],
            sourceAddresses: ['20.1.1.1'],
            destinationAddresses: ['10.2.0.0/24'],
            destinationPorts: ['443'],
          },
          {
            ruleType: 'NetworkRule',
            name: 'allow-monitoring',
            ipProtocols: ['TCP'],
            sourceAddresses: ['203.0.113.7'],
            destinationAddresses: ['10.2.0.0/24'],
            destinationPorts: ['9100'],
          },
        ],
      },
      otherCollection,
    ],
  });
}

type Collections = Array<{ name: string; rules: Array<Record<string, unknown>> }>;
const collections = () =>
  (world.arm.ruleCollectionGroup(RCG_ID) as { properties: { ruleCollections: Collections } }).properties
    .ruleCollections;
const apimRule = () => collections()[0]!.rules.find((r) => r.name === 'allow-apim')!;

function writeConfig(targets: Array<Record<string, unknown>>, safety: Record<string, unknown> = {}): string {
  const file = join(world.dir, `azure-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      sources: { prod: { resourceId: APIM_ID } },
      targets,
      safety,
      azure: { resourceManagerEndpoint: world.arm.url },
    }),
  );
  return file;
}

const firewallTarget = (extra: Record<string, unknown> = {}) => ({
  name: 'fw',
  type: 'azure.firewallPolicyRule',
  source: 'prod',
  ruleCollectionGroupId: RCG_ID,
  ruleCollection: 'apim-egress',
  rule: 'allow-apim',
  adopt: true,
  ...extra,
});

beforeEach(async () => {
  world = await storyWorld();
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
});
afterEach(() => world.close());

describe('azure.nsgRule', () => {
  const nsgTarget = (create: Record<string, unknown>) => ({
    name: 'backend-nsg',
    type: 'azure.nsgRule',
    source: 'prod',
    ruleId: RULE_ID,
    create: { priority: 210, direction: 'Inbound', ...create },
  });
  const rule = () => world.arm.securityRule(RULE_ID) as { properties: Record<string, unknown> } | undefined;

  it("creates a missing rule with NRP's port fields (a lone port or * singular, lists plural), then writes nothing", async () => {
    world.arm.deleteSecurityRule(RULE_ID);
    const config = writeConfig([nsgTarget({ destinationPortRanges: ['443', '8443-8444'] })]);

    const created = await runCli('apply', world, clock, { config });
    expect(created.exitCode).toBe(0);
    expect(created.report!.targets[0]!.changes.map((c) => c.action)).toEqual(['create']);
    expect(rule()!.properties).toMatchObject({
      sourcePortRange: '*',
      sourcePortRanges: [],
      destinationPortRanges: ['443', '8443-8444'],
      sourceAddressPrefixes: ['20.1.1.1/32'],
      destinationAddressPrefix: '*',
      access: 'Allow',
      priority: 210,
      description: MARK,
    });
    expect(rule()!.properties).not.toHaveProperty('destinationPortRange');

    resetCounts(world);
    const again = await runCli('apply', world, clock, { config });
    expect(again.exitCode).toBe(0);
    expect(again.report!.outcome).toBe('noop');
    expect(writes(world)).toBe(0);
  });

  it('sends a lone destination port in the singular field too', async () => {
    world.arm.deleteSecurityRule(RULE_ID);
    const created = await runCli('apply', world, clock, { config: writeConfig([nsgTarget({})]) });
    expect(created.exitCode).toBe(0);
    expect(rule()!.properties).toMatchObject({
      sourcePortRange: '*',
      destinationPortRange: '443',
      destinationPortRanges: [],
    });
  });

  it('refuses "*" beside other ports at validation, as NRP would at the write', () => {
    expect(() =>
      parseConfig({
        sources: { prod: { resourceId: APIM_ID } },
        targets: [nsgTarget({ sourcePortRanges: ['*', '1024-65535'] })],
      }),
    ).toThrow(/targets\[0\]\.create\.sourcePortRanges: "\*" \(any port\) must be the only entry/);
  });
});

describe('azure.firewallPolicyRule', () => {
  it('writes two rules of one rule collection group in one read-modify-write per run, never from a stale read', async () => {
    seedFirewall();
    const config = writeConfig([
      firewallTarget(),
      firewallTarget({ name: 'fw-monitoring', rule: 'allow-monitoring' }),
    ]);
    const puts = () => world.arm.count({ route: 'ruleCollectionGroup.put' });
    const gets = () => world.arm.count({ route: 'ruleCollectionGroup.get' });

    resetCounts(world);
    const adopt = await runCli('apply', world, clock, { config });
    expect(adopt.exitCode).toBe(0);
    // One read for both rules, one write, and the SDK's GET at the end of the long-running write.
    expect([gets(), puts()]).toEqual([2, 1]);

    reactivate(world, '20.2.2.2');
    resetCounts(world);
    const moved = await runCli('apply', world, clock, { config });
    expect(moved.exitCode).toBe(0);
    expect(moved.report!.targets.map((t) => t.status)).toEqual(['changed', 'changed']);
    expect([gets(), puts()]).toEqual([2, 1]);
    const rules = collections()[0]!.rules;
    expect(rules.find((r) => r.name === 'allow-apim')!.sourceAddresses).toEqual(['20.1.1.1', '20.2.2.2/32']);
    expect(rules.find((r) => r.name === 'allow-monitoring')!.sourceAddresses).toEqual([
      '203.0.113.7',
      '20.1.1.1/32',
      '20.2.2.2/32',
    ]);
  });

  it('lets DNS move while a slow firewall write goes on (safety.dnsWaitForAllowlists), then waits for it', async () => {
    await world.close();
    world = await storyWorld({ ruleCollectionGroupPolls: 300 });
    seedFirewall();
    const dns = {
      name: 'api-dns',
      type: 'cloudflare.dnsRecords',
      source: 'prod',
      zoneId: ZONE_ID,
      recordName: RECORD_NAME,
      adopt: true,
    };
    const file = join(world.dir, 'slow-firewall.json');
    writeFileSync(
      file,
      JSON.stringify({
        sources: { prod: { resourceId: APIM_ID } },
        targets: [firewallTarget(), dns],
        safety: { dnsWaitForAllowlists: 'PT0.1S' },
        azure: { resourceManagerEndpoint: world.arm.url },
        cloudflare: { baseUrl: world.cloudflare.baseUrl },
      }),
    );
    expect((await runCli('apply', world, clock, { config: file })).exitCode).toBe(0);
    reactivate(world, '20.2.2.2');
    resetCounts(world);

    const moved = await runCli('apply', world, clock, { config: file });

    expect(moved.exitCode).toBe(0);
    const seqOf = (records: Array<{ seq: number; route: string }>, route: string) =>
      records.filter((r) => r.route === route).map((r) => r.seq);
    const put = seqOf(world.arm.requests, 'ruleCollectionGroup.put')[0]!;
    const polls = seqOf(world.arm.requests, 'operation.get');
    const batch = seqOf(world.cloudflare.requests, 'dnsRecords.batch')[0]!;
    // The firewall write started first; DNS moved while its operation was still being polled; the run waited for
    // that operation to end, and the rule holds the new address.
    expect(put).toBeLessThan(batch);
    expect(Math.max(...polls)).toBeGreaterThan(batch);
    expect(apimRule().sourceAddresses).toEqual(['20.1.1.1', '20.2.2.2/32']);
    expect(moved.report!.targets.every((t) => t.status === 'changed')).toBe(true);
  });

  it('waits for a policy whose own update is running (FirewallPolicyUpdateNotAllowedWhenUpdatingOrDeleting)', async () => {
    seedFirewall();
    const config = writeConfig([firewallTarget()]);
    expect((await runCli('apply', world, clock, { config })).exitCode).toBe(0);
    reactivate(world, '20.2.2.2');
    world.arm.inject({
      route: 'ruleCollectionGroup.put',
      times: 1,
      status: 400,
      body: {
        error: {
          code: 'FirewallPolicyUpdateNotAllowedWhenUpdatingOrDeleting',
          message: 'Put on Firewall Policy fw-policy is not allowed while it is updating or deleting.',
        },
      },
    });
    const moved = await runCli('apply', world, clock, { config });
    expect(moved.exitCode).toBe(0);
    expect(apimRule().sourceAddresses).toEqual(['20.1.1.1', '20.2.2.2/32']);
  });

  it('adopts, follows a new IP, retires the old one, and leaves every other rule and collection as it was', async () => {
    seedFirewall('egress of the APIM gateway');
    const config = writeConfig([firewallTarget()]);
    const others = () => JSON.stringify([collections()[0]!.rules[1], collections()[1]]);
    const before = others();

    const adopt = await runCli('apply', world, clock, { config });
    expect(adopt.exitCode).toBe(0);
    expect(adopt.report!.targets[0]!.changes.map((c) => c.action)).toEqual(['adopt']);
    expect(apimRule()).toMatchObject({
      description: `egress of the APIM gateway ${MARK}`,
      sourceAddresses: ['20.1.1.1'],
    });

    resetCounts(world);
    expect((await runCli('apply', world, clock, { config })).report!.outcome).toBe('noop');
    expect(writes(world)).toBe(0);

    reactivate(world, '20.2.2.2');
    const moved = await runCli('apply', world, clock, { config });
    expect(moved.report!.targets[0]!.changes).toEqual([
      expect.objectContaining({ action: 'add', after: '20.2.2.2/32', result: 'applied' }),
    ]);
    expect(apimRule().sourceAddresses).toEqual(['20.1.1.1', '20.2.2.2/32']);

    clock.advance(60 * 60_000);
    await runCli('apply', world, clock, { config });
    expect(apimRule().sourceAddresses).toEqual(['20.2.2.2/32']);
    expect(others()).toBe(before);
  });

  it('holds an unmarked rule unless adopted, and names a missing rule', async () => {
    seedFirewall();
    const held = await runCli('plan', world, clock, {
      config: writeConfig([firewallTarget({ adopt: false })]),
    });
    expect(held.report!.targets[0]!.block).toMatchObject({ reason: 'NotOwned' });
    const missing = await runCli('plan', world, clock, {
      config: writeConfig([firewallTarget({ rule: 'allow-apim-typo' })]),
    });
    expect(missing.exitCode).toBe(1);
    expect(missing.output).toContain(
      'rule allow-apim-typo not found in rule collection apim-egress (it has: allow-apim, allow-monitoring)',
    );
  });

  it('waits out a policy busy with another operation (409), and polls the slow operation to the end', async () => {
    seedFirewall(MARK);
    world.arm.inject({
      route: 'ruleCollectionGroup.put',
      status: 409,
      body: {
        error: {
          code: 'AnotherOperationInProgress',
          message: 'Another operation on this or dependent resource is in progress.',
        },
      },
    });
    reactivate(world, '20.2.2.2');
    const run = await runCli('apply', world, clock, { config: writeConfig([firewallTarget()]) });
    expect(run.report!.outcome).toBe('changed');
    expect(world.arm.count({ route: 'ruleCollectionGroup.put' })).toBe(2);
    expect(apimRule().sourceAddresses).toEqual(['20.1.1.1', '20.2.2.2/32']);
  });

  it('reports a failed operation, and the next run converges', async () => {
    seedFirewall(MARK);
    reactivate(world, '20.2.2.2');
    world.arm.failNextOperation('ruleCollectionGroup.put', 'Failed', {
      code: 'FirewallPolicyUpdateFailed',
      message: 'Put on Firewall Policy failed.',
    });
    const config = writeConfig([firewallTarget()]);
    const failed = await runCli('apply', world, clock, { config });
    expect(failed.exitCode).toBe(1);
    expect(failed.report!.targets[0]).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('FirewallPolicyUpdateFailed'),
    });
    const next = await runCli('apply', world, clock, { config });
    expect(next.exitCode).toBe(0);
    expect(apimRule().sourceAddresses).toEqual(expect.arrayContaining(['20.2.2.2/32']));
  });

  it('re-reads and re-plans after a concurrent writer changed the group (412)', async () => {
    seedFirewall(MARK);
    reactivate(world, '20.2.2.2');
    world.arm.inject({ route: 'ruleCollectionGroup.put', concurrentModification: true });
    const run = await runCli('apply', world, clock, { config: writeConfig([firewallTarget()]) });
    expect(run.report!.outcome).toBe('changed');
    expect(world.arm.count({ route: 'ruleCollectionGroup.put' })).toBe(2);
  });
});

describe('azure.appServiceAccessRestriction', () => {
  const siteTarget = (extra: Record<string, unknown> = {}) => ({
    name: 'web',
    type: 'azure.appServiceAccessRestriction',
    source: 'prod',
    siteId: SITE_ID,
    ...extra,
  });
  type Restriction = { name?: string; ipAddress: string; priority: number; action: string };
  const list = (key = 'ipSecurityRestrictions') =>
    (world.arm.siteConfig(SITE_ID) as { properties: Record<string, Restriction[]> }).properties[key]!;
  const office: Restriction = {
    ipAddress: '198.51.100.0/24',
    action: 'Allow',
    priority: 300,
    name: 'office',
  };

  it('adds apim-<ip> entries at free priorities of the range, never renumbering others, and retires old ones', async () => {
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictions: [office] });
    const config = writeConfig([siteTarget()]);
    const first = await runCli('apply', world, clock, { config });
    expect(first.exitCode).toBe(0);
    expect(list()).toEqual([
      expect.objectContaining(office),
      expect.objectContaining({
        name: 'apim-20.1.1.1',
        ipAddress: '20.1.1.1/32',
        priority: 301,
        action: 'Allow',
      }),
      expect.objectContaining({ ipAddress: 'Any', action: 'Deny' }),
    ]);
    resetCounts(world);
    expect((await runCli('apply', world, clock, { config })).report!.outcome).toBe('noop');
    expect(writes(world)).toBe(0);

    reactivate(world, '20.2.2.2');
    await runCli('apply', world, clock, { config });
    expect(list().map((r) => [r.name, r.priority])).toEqual([
      ['office', 300],
      ['apim-20.1.1.1', 301],
      ['apim-20.2.2.2', 302],
      ['Deny all', 2147483647],
    ]);
    clock.advance(60 * 60_000);
    await runCli('apply', world, clock, { config });
    expect(list().map((r) => r.name)).toEqual(['office', 'apim-20.2.2.2', 'Deny all']);
  });

  it('leaves the scm list alone unless configured, then manages it too', async () => {
    world.arm.setSite(SITE_ID, {
      location: 'westeurope',
      ipSecurityRestrictions: [office],
      scmIpSecurityRestrictions: [office],
    });
    await runCli('apply', world, clock, { config: writeConfig([siteTarget()]) });
    expect(list('scmIpSecurityRestrictions').map((r) => r.name)).toEqual(['office', 'Deny all']);
    await runCli('apply', world, clock, { config: writeConfig([siteTarget({ scm: true })]) });
    expect(list('scmIpSecurityRestrictions').map((r) => r.name)).toEqual([
      'office',
      'apim-20.1.1.1',
      'Deny all',
    ]);
  });

  it('holds a site open to everyone (OpenSite): a first Allow entry would shut out every other client', async () => {
    world.arm.setSite(SITE_ID, { location: 'westeurope', scmIpSecurityRestrictionsUseMain: true });
    const held = await runCli('apply', world, clock, { config: writeConfig([siteTarget()]) });
    expect(held.exitCode).toBe(3);
    expect(held.report!.targets[0]!.block).toEqual({
      reason: 'OpenSite',
      detail: expect.stringMatching(
        /^site backend-app has no access restrictions: it is open to every client, .*\(and its scm site, which follows the main list\); .*set "closeOpenSite": true on target web/,
      ),
    });
    expect(list().map((r) => r.name)).toEqual(['Allow all']);

    const closed = await runCli('apply', world, clock, {
      config: writeConfig([siteTarget({ closeOpenSite: true })]),
    });
    expect(closed.exitCode).toBe(0);
    expect(list().map((r) => r.name)).toEqual(['apim-20.1.1.1', 'Deny all']);
  });

  it('adds to a site whose default action already denies, and to one with rules of its own', async () => {
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictionsDefaultAction: 'Deny' });
    const run = await runCli('apply', world, clock, { config: writeConfig([siteTarget()]) });
    expect(run.exitCode).toBe(0);
    expect(list().map((r) => r.name)).toEqual(['apim-20.1.1.1', 'Deny all']);
  });

  it('reads an address with a subnetMask as the prefix it is, and adopts it under a short name', async () => {
    world.arm.patchApim(APIM_ID, { outboundPublicIPAddresses: ['60.0.0.0/31'] });
    world.arm.setSite(SITE_ID, {
      location: 'westeurope',
      ipSecurityRestrictions: [
        office,
        { ipAddress: '60.0.0.0', subnetMask: '255.255.255.254', action: 'Allow', priority: 310, name: 'nat' },
      ],
    });
    const run = await runCli('apply', world, clock, { config: writeConfig([siteTarget({ adopt: true })]) });
    expect(run.exitCode).toBe(0);
    // The masked entry is the source's 60.0.0.0/31: taken over, not doubled.
    expect(list().map((r) => [r.name, r.ipAddress])).toEqual([
      ['office', '198.51.100.0/24'],
      ['apim-60.0.0.0/31', '60.0.0.0'],
      ['Deny all', 'Any'],
    ]);
  });

  it('names an IPv6 entry within 32 characters', async () => {
    world.arm.patchApim(APIM_ID, { publicIPAddresses: ['20.1.1.1', '2603:1030:20e:3::23c:1234:5678'] });
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictions: [office] });
    const run = await runCli('apply', world, clock, { config: writeConfig([siteTarget()]) });
    expect(run.exitCode).toBe(0);
    const v6 = list().find((r) => r.ipAddress.includes(':'))!;
    expect(v6.name!.length).toBeLessThanOrEqual(32);
    expect(v6.name).toMatch(/^apim-2603:1030:20e:3[0-9a-f:]*~[0-9a-f]{8}$/);
    resetCounts(world);
    expect(
      (await runCli('apply', world, clock, { config: writeConfig([siteTarget()]) })).report!.outcome,
    ).toBe('noop');
  });

  it('manages a deployment slot at …/slots/<slot>, leaving the production site alone', async () => {
    const slotId = `${SITE_ID}/slots/staging`;
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictions: [office] });
    world.arm.setSite(slotId, { location: 'westeurope', ipSecurityRestrictions: [office] });
    const run = await runCli('apply', world, clock, {
      config: writeConfig([siteTarget({ siteId: slotId })]),
    });
    expect(run.exitCode).toBe(0);
    const slotList = (world.arm.siteConfig(slotId) as { properties: Record<string, Restriction[]> })
      .properties.ipSecurityRestrictions!;
    expect(slotList.map((r) => r.name)).toEqual(['office', 'apim-20.1.1.1', 'Deny all']);
    expect(list().map((r) => r.name)).toEqual(['office', 'Deny all']);
  });

  it('fails with what to do when the priority range is full', async () => {
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictions: [office] });
    const run = await runCli('apply', world, clock, {
      config: writeConfig([siteTarget({ priorityRange: [300, 300] })]),
    });
    expect(run.exitCode).toBe(1);
    expect(run.output).toContain(
      'no free priority left in priorityRange [300, 300] for 1 new entry — widen priorityRange of target web',
    );
    expect(writes(world)).toBe(0);
  });

  it('sees a change made between its read and its write (no etag on config/web) as a lost race', async () => {
    world.arm.setSite(SITE_ID, { location: 'westeurope', ipSecurityRestrictions: [office] });
    const config = parseConfig({ sources: { prod: { resourceId: APIM_ID } }, targets: [siteTarget()] });
    const target = config.targets[0] as AppServiceAccessRestrictionTarget;
    const driver = new AppServiceDriver(
      createArmRestClient({
        endpoint: world.arm.url,
        credential: {
          getToken: async () => ({ token: ARM_TOKEN, expiresOnTimestamp: Date.now() + 3_600_000 }),
        },
      }),
    );
    const actual = await driver.read(target);
    const plan = driver.plan(target, actual, {
      desired: parseAll(['20.1.1.1']).prefixes,
      observation: {
        source: 'prod',
        resourceId: APIM_ID,
        serviceName: 'contoso',
        provisioningState: 'Succeeded',
        sku: 'Premium',
        regions: [],
      },
      state: undefined,
      now: clock.now(),
      safety: config.safety,
      retireAfterMs: 3_600_000,
    });
    world.arm.setSite(SITE_ID, {
      location: 'westeurope',
      ipSecurityRestrictions: [office, { ...office, name: 'vpn', ipAddress: '192.0.2.0/24', priority: 310 }],
    });
    expect(await driver.apply([{ target, actual, plan }])).toEqual([
      { status: 'lost-race', error: expect.any(String) },
    ]);
    expect(list().map((r) => r.name)).toEqual(['office', 'vpn', 'Deny all']);
  });
});
