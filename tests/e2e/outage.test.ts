import { ManualClock } from '../../lib/engine/clock';
import {
  IP_GROUP_ID,
  OTHER_RULE_ID,
  RECORD_NAME,
  RULE_ID,
  ZONE_ID,
  reactivate,
  resetCounts,
  suspend,
  writes,
  type World,
} from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/**
 * docs/design/product.md §1's outage, end to end: the real Azure and Cloudflare SDKs against the emulators, through the
 * CLI's own plan/apply, with the reconciler's clock moved for retireAfter (issue 2, "The outage story").
 */

const MARK_COMMENT = 'managed-by:apim-ip-reconciler';
const MARK = 'managed-by=apim-ip-reconciler';

let world: World;
let clock: ManualClock;

const rule = (id = RULE_ID) =>
  world.arm.securityRule(id) as { properties: Record<string, unknown>; etag: string };
const group = () =>
  world.arm.ipGroup(IP_GROUP_ID) as { tags?: Record<string, string>; properties: { ipAddresses: string[] } };
const records = () =>
  world.cloudflare.records(ZONE_ID, { name: RECORD_NAME }) as Array<Record<string, unknown>>;
const aRecords = () => records().filter((r) => r.type === 'A');

beforeAll(async () => {
  world = await storyWorld();
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
});
afterAll(() => world.close());

describe('the outage story', () => {
  let recordId: unknown;
  let txtBefore: unknown;
  let otherRuleBefore: unknown;

  test('1. the IPs are already right: the first run only adopts, writing the marks and nothing else', async () => {
    recordId = aRecords()[0]!.id;
    txtBefore = records().find((r) => r.type === 'TXT');
    otherRuleBefore = rule(OTHER_RULE_ID).properties;

    const plan = await runCli('plan', world, clock);
    expect(plan.exitCode).toBe(2);
    expect(writes(world)).toBe(0);

    const apply = await runCli('apply', world, clock);
    expect(apply.exitCode).toBe(0);
    expect(apply.report!.targets.flatMap((t) => t.changes.map((c) => c.action))).toEqual([
      'adopt',
      'adopt',
      'adopt',
    ]);

    expect(aRecords()).toEqual([
      expect.objectContaining({ id: recordId, content: '20.1.1.1', proxied: true, comment: MARK_COMMENT }),
    ]);
    expect(rule().properties).toMatchObject({
      sourceAddressPrefixes: ['20.1.1.1'],
      description: `APIM gateway to the backend (made by hand) ${MARK}`,
    });
    expect(group()).toMatchObject({
      tags: { 'managed-by': 'apim-ip-reconciler' },
      properties: { ipAddresses: ['20.1.1.1/32'] },
    });
    expect(records().find((r) => r.type === 'TXT')).toEqual(txtBefore);
    expect(rule(OTHER_RULE_ID).properties).toEqual(otherRuleBefore);
  });

  test('1b. a second run writes nothing', async () => {
    resetCounts(world);
    const again = await runCli('apply', world, clock);
    expect(again.exitCode).toBe(0);
    expect(again.report!.outcome).toBe('noop');
    expect(writes(world)).toBe(0);
    expect(await runCli('plan', world, clock)).toMatchObject({ exitCode: 0 });
  });

  test('2. the subscription is suspended: blocked with SourceNotRunning, nothing written', async () => {
    suspend(world);
    resetCounts(world);
    const run = await runCli('apply', world, clock);
    expect(run.exitCode).toBe(3);
    expect(run.report!.sources[0]!.block).toMatchObject({ reason: 'SourceNotRunning' });
    expect(run.output).toContain('! blocked: SourceNotRunning');
    expect(writes(world)).toBe(0);
    expect(aRecords().map((r) => r.content)).toEqual(['20.1.1.1']);
  });

  test('3. reactivated at 20.2.2.2: allowlists gain it first, then the A record moves in place', async () => {
    reactivate(world, '20.2.2.2');
    resetCounts(world);
    clock.advance(10 * 60_000);
    const plan = await runCli('plan', world, clock);
    expect(plan.exitCode).toBe(2);
    expect(plan.output).toContain('~ update api.contoso.com A 20.1.1.1 → 20.2.2.2');
    expect(plan.output).toContain('+ add 20.2.2.2');
    // Addresses are shown one way: a single address without /32, in the plan as in the sources.
    expect(plan.output).not.toContain('/32');

    const apply = await runCli('apply', world, clock);
    expect(apply.exitCode).toBe(0);

    // Make before break: both allowlist writes, polled to the end, came before the DNS batch.
    const batch = world.cloudflare.requests.filter((r) => r.route === 'dnsRecords.batch');
    const allowlistWrites = world.arm.requests.filter(
      (r) => r.method === 'PUT' || r.route === 'operation.get',
    );
    expect(batch).toHaveLength(1);
    expect(allowlistWrites.map((r) => r.route).sort()).toEqual([
      'ipGroup.put',
      'operation.get',
      'operation.get',
      'operation.get',
      'operation.get',
      'securityRule.put',
    ]);
    expect(Math.max(...allowlistWrites.map((r) => r.seq))).toBeLessThan(batch[0]!.seq);
    // Reported in the order apply made them: allowlist additions, then DNS.
    expect(apply.report!.targets.map((t) => [t.name, t.status])).toEqual([
      ['backend-nsg', 'changed'],
      ['firewall-egress', 'changed'],
      ['api-dns', 'changed'],
    ]);

    expect(rule().properties.sourceAddressPrefixes).toEqual(['20.1.1.1', '20.2.2.2/32']);
    expect(group().properties.ipAddresses).toEqual(['20.1.1.1/32', '20.2.2.2/32']);
    expect(aRecords()).toEqual([
      expect.objectContaining({ id: recordId, content: '20.2.2.2', proxied: true, comment: MARK_COMMENT }),
    ]);
    expect(records().find((r) => r.type === 'TXT')).toEqual(txtBefore);
    expect(rule(OTHER_RULE_ID).properties).toEqual(otherRuleBefore);
  });

  test('4. after retireAfter, 20.1.1.1 leaves the allowlists', async () => {
    clock.advance(59 * 60_000);
    resetCounts(world);
    const early = await runCli('apply', world, clock);
    expect(early.report!.outcome).toBe('noop');
    expect(writes(world)).toBe(0);

    clock.advance(60_000);
    const due = await runCli('apply', world, clock);
    expect(due.exitCode).toBe(0);
    expect(due.output).toContain('- remove 20.1.1.1 (left the source 1h ago)');
    expect(rule().properties.sourceAddressPrefixes).toEqual(['20.2.2.2/32']);
    expect(group().properties.ipAddresses).toEqual(['20.2.2.2/32']);
    expect(aRecords().map((r) => r.content)).toEqual(['20.2.2.2']);
  });

  test('5. another run: zero writes in the emulators', async () => {
    clock.advance(5 * 60_000);
    resetCounts(world);
    const run = await runCli('apply', world, clock);
    expect(run.exitCode).toBe(0);
    expect(writes(world)).toBe(0);
    expect(world.arm.count({ method: 'GET', route: 'apim.get' })).toBe(1);
  });
});
