import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import {
  APIM_ID,
  IP_GROUP_ID,
  RECORD_NAME,
  RULE_ID,
  ZONE_ID,
  reactivate,
  resetCounts,
  writes,
  type World,
} from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/**
 * Every guard of docs/design/product.md §5 through the real SDKs: each trips when it should, holds the writes it must,
 * and lets the run through when it should not trip.
 */

let world: World;
let clock: ManualClock;

beforeEach(async () => {
  world = await storyWorld();
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  // Adopted, in sync at 20.1.1.1: the state a running installation is in.
  expect((await runCli('apply', world, clock)).exitCode).toBe(0);
  resetCounts(world);
});
afterEach(() => world.close());

interface Variant {
  safety?: Record<string, unknown>;
  targets?: (targets: Array<Record<string, unknown>>) => void;
}

function config(variant: Variant): string {
  const doc = JSON.parse(readFileSync(world.configFile, 'utf8')) as {
    targets: Array<Record<string, unknown>>;
    safety: Record<string, unknown>;
  };
  Object.assign(doc.safety, variant.safety);
  variant.targets?.(doc.targets);
  const file = join(world.dir, `guard-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

const reasons = (result: Awaited<ReturnType<typeof runCli>>) => [
  ...result.report!.sources.flatMap((s) => (s.block ? [s.block.reason] : [])),
  ...result.report!.targets.flatMap((t) =>
    t.block && !t.heldBySource ? [`${t.name}:${t.block.reason}`] : [],
  ),
];

describe('SourceUnavailable', () => {
  it('trips when the APIM read is refused, and nothing is written', async () => {
    reactivate(world, '20.2.2.2');
    world.arm.forbid(APIM_ID, 'read');
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual(['SourceUnavailable']);
    expect(run.report!.sources[0]!.block!.detail).toContain('HTTP 403 AuthorizationFailed');
    expect(run.exitCode).toBe(1);
    expect(writes(world)).toBe(0);
  });

  it('trips when throttling outlasts the retries, and passes when a retry succeeds', async () => {
    reactivate(world, '20.2.2.2');
    world.arm.throttle('apim.get', 0, 4);
    const throttled = await runCli('plan', world, clock);
    expect(reasons(throttled)).toEqual(['SourceUnavailable']);
    expect(throttled.report!.sources[0]!.error).toContain('HTTP 429');
    world.arm.throttle('apim.get', 0, 2);
    const retried = await runCli('plan', world, clock);
    expect(reasons(retried)).toEqual([]);
    expect(retried.exitCode).toBe(2);
  });
});

describe('SourceNotRunning', () => {
  it.each(['Stopped', 'Activating', 'Updating', 'Failed'])(
    'holds every target while the service is %s',
    async (state) => {
      world.arm.patchApim(APIM_ID, { provisioningState: state, publicIPAddresses: ['20.9.9.9'] });
      const run = await runCli('apply', world, clock);
      expect(reasons(run)).toEqual(['SourceNotRunning']);
      expect(run.exitCode).toBe(3);
      expect(writes(world)).toBe(0);
    },
  );
});

describe('EmptySource', () => {
  it('holds a v2 tier that publishes no IP, naming the tier, and never empties a target', async () => {
    world.arm.patchApim(APIM_ID, {
      sku: { name: 'StandardV2', capacity: 1 },
      publicIPAddresses: undefined,
      platformVersion: 'undetermined',
    });
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual([
      'api-dns:EmptySource',
      'backend-nsg:EmptySource',
      'firewall-egress:EmptySource',
    ]);
    expect(run.report!.targets[0]!.block!.detail).toContain(
      'StandardV2 tier publishes no dedicated IP addresses',
    );
    expect(writes(world)).toBe(0);
  });

  it('holds a target whose regions select nothing, naming the regions the service has', async () => {
    const file = config({ targets: (t) => (t[0]!.regions = ['North Europe']) });
    const run = await runCli('apply', world, clock, { config: file });
    expect(reasons(run)).toEqual(['api-dns:EmptySource']);
    expect(run.report!.targets[0]!.block!.detail).toContain('no region North Europe; it runs in West Europe');
    const west = await runCli('apply', world, clock, {
      config: config({ targets: (t) => (t[0]!.regions = ['westeurope']) }),
    });
    expect(reasons(west)).toEqual([]);
  });
});

describe('InvalidAddress', () => {
  it.each([['10.0.0.5'], ['100.64.0.1'], ['169.254.10.10'], ['not-an-ip'], ['0.0.0.0']])(
    'holds every target that selects %s, naming it',
    async (bad) => {
      world.arm.patchApim(APIM_ID, { publicIPAddresses: ['20.2.2.2', bad] });
      const run = await runCli('apply', world, clock);
      // The story's three targets all follow the public IPs (the allowlists: no outbound addresses of their own).
      expect(reasons(run)).toEqual([
        'api-dns:InvalidAddress',
        'backend-nsg:InvalidAddress',
        'firewall-egress:InvalidAddress',
      ]);
      expect(run.report!.targets[0]!.block!.detail).toContain(bad);
      expect(writes(world)).toBe(0);
    },
  );

  it('holds only the targets that select it: a bad outbound address leaves DNS free to follow', async () => {
    reactivate(world, '20.2.2.2');
    world.arm.patchApim(APIM_ID, { outboundPublicIPAddresses: ['20.2.2.2', '10.0.0.5'] });
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual(['backend-nsg:InvalidAddress', 'firewall-egress:InvalidAddress']);
    expect(run.exitCode).toBe(3);
    expect(world.cloudflare.records(ZONE_ID, { name: RECORD_NAME, type: 'A' }).map((r) => r.content)).toEqual(
      ['20.2.2.2'],
    );
  });

  it('judges private addresses as private: a VNet in 100.64.0.0/10 holds nothing', async () => {
    reactivate(world, '20.2.2.2');
    world.arm.patchApim(APIM_ID, { privateIPAddresses: ['100.64.0.9'] });
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual([]);
    expect(run.exitCode).toBe(0);
  });
});

describe('BroadPrefix', () => {
  it('holds an allowlist addition broader than minPrefixLength, and passes a NAT prefix within it', async () => {
    world.arm.patchApim(APIM_ID, { outboundPublicIPAddresses: ['60.0.0.0/24'] });
    const broad = await runCli('apply', world, clock);
    expect(reasons(broad)).toEqual(['backend-nsg:BroadPrefix', 'firewall-egress:BroadPrefix']);
    expect(world.arm.securityRule(RULE_ID)).toMatchObject({
      properties: { sourceAddressPrefixes: ['20.1.1.1'] },
    });

    world.arm.patchApim(APIM_ID, { outboundPublicIPAddresses: ['60.0.0.0/31'] });
    const nat = await runCli('apply', world, clock);
    expect(reasons(nat)).toEqual([]);
    expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
      properties: { ipAddresses: ['20.1.1.1/32', '60.0.0.0/31'] },
    });
  });

  it('holds a DNS target given a prefix: an A record holds one address', async () => {
    world.arm.patchApim(APIM_ID, { outboundPublicIPAddresses: ['60.0.0.0/31'] });
    const run = await runCli('plan', world, clock, {
      config: config({ targets: (t) => (t[0]!.addresses = 'outbound') }),
    });
    expect(reasons(run)).toEqual(['api-dns:BroadPrefix']);
  });
});

describe('TooManyRemovals', () => {
  it('holds removals beyond maxRemovalsPerTarget unless forced, while the additions still go out', async () => {
    const file = config({ safety: { maxRemovalsPerTarget: 0, retireAfter: 'PT0S' } });
    reactivate(world, '20.2.2.2');
    const first = await runCli('apply', world, clock, { config: file });
    expect(reasons(first)).toEqual(['backend-nsg:TooManyRemovals', 'firewall-egress:TooManyRemovals']);
    expect(first.exitCode).toBe(3);
    expect(first.report!.targets.find((t) => t.name === 'firewall-egress')!.block!.detail).toContain(
      '--force',
    );
    expect(first.output).toContain('… keeps 20.1.1.1: its removal is due but held by TooManyRemovals');
    expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
      properties: { ipAddresses: ['20.1.1.1/32', '20.2.2.2/32'] },
    });

    clock.advance(60_000);
    const forced = await runCli('apply', world, clock, { config: file, force: true });
    expect(reasons(forced)).toEqual([]);
    expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({ properties: { ipAddresses: ['20.2.2.2/32'] } });
  });
});

describe('NotOwned', () => {
  it('holds records without the mark unless adopt is set, saying what to change', async () => {
    world.cloudflare.addRecord(ZONE_ID, {
      type: 'A',
      name: RECORD_NAME,
      content: '20.7.7.7',
      proxied: true,
      ttl: 1,
    });
    const file = config({ targets: (t) => (t[0]!.adopt = false) });
    const run = await runCli('apply', world, clock, { config: file });
    expect(reasons(run)).toEqual(['api-dns:NotOwned']);
    expect(run.report!.targets[0]!.block!.detail).toContain('A 20.7.7.7 without the comment mark');
    expect(run.report!.targets[0]!.block!.detail).toContain('set "adopt": true on target api-dns');
    const adopted = await runCli('apply', world, clock);
    expect(reasons(adopted)).toEqual([]);
    expect(world.cloudflare.records(ZONE_ID, { type: 'A' }).map((r) => r.content)).toEqual(['20.1.1.1']);
  });

  it('holds a CNAME where A records are wanted', async () => {
    const zone = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
    const token = 'token-for-both-zones-000000000000000000000';
    world.cloudflare.addZone({ id: zone, name: 'fabrikam.com' });
    world.cloudflare.addToken(token, { zones: { [ZONE_ID]: 'edit', [zone]: 'edit' } });
    world.cloudflare.addRecord(zone, {
      type: 'CNAME',
      name: 'api.fabrikam.com',
      content: 'fabrikam.azure-api.net',
      proxied: true,
      ttl: 1,
    });
    const file = config({
      targets: (t) => Object.assign(t[0]!, { zoneId: zone, recordName: 'api.fabrikam.com', adopt: false }),
    });
    const env = { CLOUDFLARE_API_TOKEN: token };
    const run = await runCli('plan', world, clock, { config: file, env });
    expect(reasons(run)).toEqual(['api-dns:NotOwned']);
    expect(run.report!.targets[0]!.block!.detail).toContain('a CNAME record sits at api.fabrikam.com');

    // Adopted, the CNAME is replaced by the A record in one atomic batch.
    const adopt = config({
      targets: (t) => Object.assign(t[0]!, { zoneId: zone, recordName: 'api.fabrikam.com' }),
    });
    const migrated = await runCli('apply', world, clock, { config: adopt, env });
    expect(reasons(migrated)).toEqual([]);
    expect(world.cloudflare.count({ route: 'dnsRecords.batch' })).toBe(1);
    expect(world.cloudflare.records(zone, { name: 'api.fabrikam.com' })).toEqual([
      expect.objectContaining({
        type: 'A',
        content: '20.1.1.1',
        proxied: true,
        comment: 'managed-by:apim-ip-reconciler',
      }),
    ]);
  });

  it('holds an NSG rule without the mark unless adopt is set', async () => {
    world.arm.setSecurityRule(RULE_ID, {
      protocol: 'Tcp',
      access: 'Allow',
      priority: 200,
      direction: 'Inbound',
      sourcePortRange: '*',
      destinationPortRange: '443',
      sourceAddressPrefixes: ['20.1.1.1'],
      destinationAddressPrefix: '*',
    });
    const run = await runCli('apply', world, clock, {
      config: config({ targets: (t) => (t[1]!.adopt = false) }),
    });
    expect(reasons(run)).toEqual(['backend-nsg:NotOwned']);
    expect(run.report!.targets[1]!.block!.detail).toContain(
      'without the mark "managed-by=apim-ip-reconciler" in its description',
    );
  });
});

describe('LostRace', () => {
  it("re-reads and re-plans once after a 412, keeping the other writer's entry", async () => {
    reactivate(world, '20.2.2.2');
    world.arm.inject({ route: 'securityRule.put', concurrentModification: true });
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual([]);
    expect(world.arm.count({ route: 'securityRule.put' })).toBe(2);
    const prefixes = (world.arm.securityRule(RULE_ID) as { properties: { sourceAddressPrefixes: string[] } })
      .properties.sourceAddressPrefixes;
    expect(prefixes).toHaveLength(3);
    expect(prefixes).toEqual(expect.arrayContaining(['20.1.1.1', '20.2.2.2/32']));
  });

  it('reports LostRace when the target changes under it twice', async () => {
    reactivate(world, '20.2.2.2');
    world.arm.inject({ route: 'ipGroup.put', concurrentModification: true, times: 2 });
    const run = await runCli('apply', world, clock);
    expect(reasons(run)).toEqual(['firewall-egress:LostRace']);
    expect(run.exitCode).toBe(3);
  });
});
