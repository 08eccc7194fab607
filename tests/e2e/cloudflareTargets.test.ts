import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reconcileCommand } from '../../cli/commands';
import { ManualClock } from '../../lib/engine/clock';
import type { Tuning } from '../../lib/wiring';
import {
  APIM_ID,
  CLOUDFLARE_TOKEN,
  NEW_IP,
  OLD_IP,
  RECORD_NAME,
  ZONE_ID,
  reactivate,
  resetCounts,
  type World,
} from '../../sandbox/story';
import type { TokenGrants } from '../../sandbox/cloudflare';
import { FAST, storyWorld } from '../support/world';

/**
 * `cloudflare.ipList` and `cloudflare.poolOrigins` through the real `cloudflare` SDK against the emulator:
 * each life-cycle step, the request counts, and every fault the APIs can give.
 */

const MARK = 'managed-by:apim-ip-reconciler';
const ACCOUNT = '01a7362d577a6c3019a474fd6f485823';
const LIST = '2c0fc9fa937b11eaa1b71c4d701ab86e';
const POOL = '17b5962d775c646f3f9725cbc7a53df4';
const GATEWAY = 'contoso.azure-api.net';

let world: World;
let clock: ManualClock;

const listTarget = (extra: Record<string, unknown> = {}) => ({
  name: 'edge-list',
  type: 'cloudflare.ipList',
  source: 'prod',
  accountId: ACCOUNT,
  listId: LIST,
  ...extra,
});
const poolTarget = (extra: Record<string, unknown> = {}) => ({
  name: 'edge-pool',
  type: 'cloudflare.poolOrigins',
  source: 'prod',
  accountId: ACCOUNT,
  poolId: POOL,
  ...extra,
});
const dnsTarget = {
  name: 'api-dns',
  type: 'cloudflare.dnsRecords',
  source: 'prod',
  zoneId: ZONE_ID,
  recordName: RECORD_NAME,
  adopt: true,
};

function config(targets: Array<Record<string, unknown>>, safety: Record<string, unknown> = {}): string {
  const file = join(world.dir, `cf-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      sources: { prod: { resourceId: APIM_ID } },
      targets,
      safety: { retireAfter: 'PT1H', ...safety },
      azure: { resourceManagerEndpoint: world.arm.url },
      cloudflare: { baseUrl: world.cloudflare.baseUrl },
    }),
  );
  return file;
}

async function run(
  command: 'plan' | 'apply',
  file: string,
  options: { force?: boolean; tuning?: Tuning } = {},
) {
  const lines: string[] = [];
  const result = await reconcileCommand(
    command,
    { config: file, state: world.stateFile, force: options.force },
    {
      out: (t) => lines.push(t),
      err: (t) => lines.push(t),
      env: world.env,
      cwd: world.dir,
      clock,
      tuning: { ...FAST, bulkOperationTimeoutMs: 5_000, ...options.tuning },
    },
  );
  const report = result.report!;
  return {
    ...result,
    report,
    output: lines.join('\n'),
    target: (name: string) => report.targets.find((t) => t.name === name)!,
  };
}

function grant(accounts: TokenGrants['accounts']): void {
  world.cloudflare.addToken(CLOUDFLARE_TOKEN, { zones: { [ZONE_ID]: 'edit' }, accounts });
}

const items = () => world.cloudflare.listItems(ACCOUNT, LIST).map(({ ip, comment }) => ({ ip, comment }));
const origins = () => world.cloudflare.pool(ACCOUNT, POOL)!.origins as Array<Record<string, unknown>>;
const cfWrites = () => world.cloudflare.writes();

beforeEach(async () => {
  world = await storyWorld();
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  grant({ [ACCOUNT]: { lists: 'edit', loadBalancers: 'edit' } });
  world.cloudflare.addList(ACCOUNT, { id: LIST, name: 'apim_egress' });
  world.cloudflare.addListItem(ACCOUNT, LIST, { ip: '198.51.100.0/24', comment: 'office' });
  world.cloudflare.addPool(ACCOUNT, {
    id: POOL,
    name: 'primary',
    description: 'APIM behind Cloudflare',
    minimum_origins: 1,
    check_regions: ['WEU'],
    origin_steering: { policy: 'least_outstanding_requests' },
    origins: [{ name: 'backup-dc', address: 'backup.contoso.net', enabled: true, weight: 0.2, port: 8443 }],
  });
});
afterEach(() => world.close());

describe('cloudflare.ipList', () => {
  it('adds the address with the mark, then a second run writes nothing', async () => {
    const file = config([listTarget()]);
    const plan = await run('plan', file);
    expect(plan.exitCode).toBe(2);
    expect(plan.output).toContain(`+ add ${OLD_IP}`);
    expect(cfWrites()).toBe(0);

    resetCounts(world);
    const apply = await run('apply', file);
    expect(apply.exitCode).toBe(0);
    expect(apply.target('edge-list').status).toBe('changed');
    expect(items()).toEqual([
      { ip: '198.51.100.0/24', comment: 'office' },
      { ip: OLD_IP, comment: MARK },
    ]);
    // One read, one POST, polls until completed (the emulator answers `pending` once).
    expect(world.cloudflare.counts()).toEqual({
      'GET listItems.list': 1,
      'POST listItems.create': 1,
      'GET bulkOperations.get': 2,
    });

    resetCounts(world);
    const again = await run('apply', file);
    expect(again.exitCode).toBe(0);
    expect(again.target('edge-list').status).toBe('in-sync');
    expect(world.cloudflare.counts()).toEqual({ 'GET listItems.list': 1 });
  });

  it('follows every page of a long list, with no request past the end', async () => {
    for (let i = 0; i < 520; i++) {
      world.cloudflare.addListItem(ACCOUNT, LIST, { ip: `203.0.${Math.floor(i / 256)}.${i % 256}` });
    }
    world.cloudflare.addListItem(ACCOUNT, LIST, { ip: OLD_IP, comment: MARK });
    const run1 = await run('apply', config([listTarget()]));
    expect(run1.target('edge-list').status).toBe('in-sync');
    expect(world.cloudflare.counts()).toEqual({ 'GET listItems.list': 2 });
  });

  it('leaves a foreign item at a desired address alone, and adopts it only when told to', async () => {
    world.cloudflare.addListItem(ACCOUNT, LIST, { ip: `${OLD_IP}/32`, comment: 'added by hand' });
    const notOwned = await run('apply', config([listTarget()]));
    expect(notOwned.exitCode).toBe(0);
    expect(notOwned.target('edge-list').status).toBe('in-sync');
    expect(cfWrites()).toBe(0);

    const adopted = await run('apply', config([listTarget({ adopt: true })]));
    expect(adopted.exitCode).toBe(0);
    expect(adopted.output).toContain(`~ adopt item ${OLD_IP}`);
    expect(items()).toEqual([
      { ip: '198.51.100.0/24', comment: 'office' },
      { ip: OLD_IP, comment: `${MARK} added by hand` },
    ]);
    expect(world.cloudflare.count({ route: 'listItems.create' })).toBe(1);
  });

  it('adds the new address before DNS moves, and removes the old one after retireAfter', async () => {
    const file = config([dnsTarget, listTarget()]);
    expect((await run('apply', file)).exitCode).toBe(0);
    reactivate(world, NEW_IP);
    resetCounts(world);

    const change = await run('apply', file);
    expect(change.exitCode).toBe(0);
    expect(change.output).toContain(`+ add ${NEW_IP}`);
    expect(change.output).toContain(`… keeps ${OLD_IP} until 2026-11-27T10:00:00Z`);
    expect(items().map((i) => i.ip)).toEqual(['198.51.100.0/24', OLD_IP, NEW_IP]);
    const seq = (route: string) => world.cloudflare.requests.find((r) => r.route === route)!.seq;
    expect(seq('listItems.create')).toBeLessThan(seq('dnsRecords.batch'));

    clock.advance(30 * 60_000);
    resetCounts(world);
    expect((await run('apply', file)).target('edge-list').status).toBe('in-sync');
    expect(cfWrites()).toBe(0);

    clock.advance(30 * 60_000);
    resetCounts(world);
    const retire = await run('apply', file);
    expect(retire.output).toContain(`- remove ${OLD_IP} (left the source 1h ago)`);
    expect(items()).toEqual([
      { ip: '198.51.100.0/24', comment: 'office' },
      { ip: NEW_IP, comment: MARK },
    ]);
    expect(world.cloudflare.counts()).toEqual({
      'GET dnsRecords.list': 1,
      'GET listItems.list': 1,
      'DELETE listItems.delete': 1,
      'GET bulkOperations.get': 2,
    });
  });

  it('removes an owned item the source no longer gives, never a foreign one', async () => {
    world.cloudflare.addListItem(ACCOUNT, LIST, { ip: '20.9.9.9', comment: MARK });
    world.cloudflare.addListItem(ACCOUNT, LIST, { ip: OLD_IP, comment: MARK });
    const file = config([listTarget()], { retireAfter: 'PT0S' });
    const run1 = await run('apply', file);
    expect(run1.exitCode).toBe(0);
    expect(items()).toEqual([
      { ip: '198.51.100.0/24', comment: 'office' },
      { ip: OLD_IP, comment: MARK },
    ]);
    expect(world.cloudflare.count({ route: 'listItems.create' })).toBe(0);
  });

  describe('faults', () => {
    it('fails the read on 403 9109, naming the permission', async () => {
      grant({ [ACCOUNT]: { loadBalancers: 'edit' } });
      const result = await run('apply', config([listTarget()]));
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-list').error).toContain(
        'HTTP 403 9109: Unauthorized to access requested resource',
      );
      expect(result.target('edge-list').hint).toContain('Account → Account Filter Lists → Read');
    });

    it('fails the write on 403 9109 with a read-only grant', async () => {
      grant({ [ACCOUNT]: { lists: 'read' } });
      const result = await run('apply', config([listTarget()]));
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-list').error).toMatch(
        /append on IP list .*: HTTP 403 9109.*Account Filter Lists → Edit/,
      );
      expect(items()).toHaveLength(1);
    });

    it('waits out a 429 with Retry-After on a read and on a write', async () => {
      world.cloudflare.throttle('listItems.list', 0, 1);
      world.cloudflare.throttle('listItems.create', 0, 1);
      const result = await run('apply', config([listTarget()]));
      expect(result.exitCode).toBe(0);
      expect(world.cloudflare.count({ route: 'listItems.list' })).toBe(2);
      expect(world.cloudflare.count({ route: 'listItems.create' })).toBe(2);
      expect(items().map((i) => i.ip)).toContain(OLD_IP);
    });

    it('fails at once when Retry-After is longer than the wait allowed', async () => {
      world.cloudflare.throttle('listItems.create', 300, 1);
      const started = Date.now();
      const result = await run('apply', config([listTarget()]));
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-list').error).toContain(
        'throttled by Cloudflare for 300 s, longer than the 5 s',
      );
    });

    it('fails with the error of a bulk operation that failed, and changes nothing', async () => {
      world.cloudflare.failNextBulkOperation('This list is at the maximum number of items');
      const file = config([listTarget()]);
      const failed = await run('apply', file);
      expect(failed.exitCode).toBe(1);
      expect(failed.target('edge-list').error).toMatch(
        /append on IP list .*: bulk operation [0-9a-f]{32} failed: This list is at the maximum number of items/,
      );
      expect(items()).toHaveLength(1);
      const retried = await run('apply', file);
      expect(retried.exitCode).toBe(0);
      expect(items()).toHaveLength(2);
    });

    it("waits out another writer's pending operation, re-reading the list before writing again", async () => {
      world.cloudflare.inject({ route: 'listItems.create', concurrentModification: true });
      const result = await run('apply', config([listTarget()]));
      expect(result.exitCode).toBe(0);
      expect(world.cloudflare.counts()).toEqual({
        'GET listItems.list': 2,
        'POST listItems.create': 2,
        'GET bulkOperations.get': 2,
      });
      expect(items().map((i) => i.ip)).toEqual(['198.51.100.0/24', OLD_IP]);
    });

    it('fails when the pending operation outlasts the wait', async () => {
      world.cloudflare.inject({
        route: 'listItems.create',
        status: 429,
        times: 1000,
        body: {
          success: false,
          errors: [{ code: 99010, message: 'A bulk operation is already in progress' }],
        },
      });
      const result = await run('apply', config([listTarget()]), { tuning: { bulkOperationTimeoutMs: 200 } });
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-list').error).toContain(
        `another bulk operation of account ${ACCOUNT} was still pending after 0.2 s`,
      );
      world.cloudflare.clearFaults();
    });

    it('fails when its own operation does not complete within the wait', async () => {
      world.cloudflare.bulkOperationPolls = 1_000_000;
      const started = Date.now();
      const result = await run('apply', config([listTarget()]), { tuning: { bulkOperationTimeoutMs: 200 } });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-list').error).toMatch(
        /bulk operation [0-9a-f]{32} did not complete within 0.2 s; it may still complete/,
      );
    });

    it('re-plans when another writer took the address while its operation was pending', async () => {
      world.cloudflare.inject({ route: 'listItems.create', concurrentModification: true, latencyMs: 300 });
      const meanwhile = setTimeout(
        () => world.cloudflare.addListItem(ACCOUNT, LIST, { ip: OLD_IP, comment: 'another writer' }),
        100,
      );
      const result = await run('apply', config([listTarget()]));
      clearTimeout(meanwhile);
      expect(result.exitCode).toBe(0);
      expect(result.target('edge-list').status).toBe('in-sync');
      expect(world.cloudflare.count({ route: 'listItems.create' })).toBe(1);
      expect(world.cloudflare.count({ route: 'listItems.list' })).toBe(3);
      expect(items()).toContainEqual({ ip: OLD_IP, comment: 'another writer' });
    });

    it('serializes the writes of one account across targets', async () => {
      const other = 'ffffffffffffffffffffffffffffffff';
      world.cloudflare.addList(ACCOUNT, { id: other, name: 'apim_egress_2' });
      const result = await run(
        'apply',
        config([listTarget(), listTarget({ name: 'edge-list-2', listId: other })]),
      );
      expect(result.exitCode).toBe(0);
      // A second POST while the first operation was pending would have been answered 429.
      expect(world.cloudflare.requests.filter((r) => r.status === 429)).toEqual([]);
      expect(world.cloudflare.listItems(ACCOUNT, other).map((i) => i.ip)).toEqual([OLD_IP]);
    });
  });
});

describe('cloudflare.poolOrigins', () => {
  const backup = { name: 'backup-dc', address: 'backup.contoso.net', enabled: true, weight: 0.2, port: 8443 };
  const ours = (ip: string, weight = 1) => ({
    name: `apim-${ip}`,
    address: ip,
    enabled: true,
    weight,
    header: { Host: [GATEWAY] },
  });
  const settings = () => {
    const { origins: _o, modified_on: _m, ...rest } = world.cloudflare.pool(ACCOUNT, POOL)!;
    return rest;
  };

  it('adds an origin for the gateway, touching nothing else, then a second run writes nothing', async () => {
    const before = settings();
    const file = config([poolTarget()]);
    const apply = await run('apply', file);
    expect(apply.exitCode).toBe(0);
    expect(origins()).toEqual([backup, ours(OLD_IP)]);
    expect(settings()).toEqual(before);
    expect(world.cloudflare.counts()).toEqual({ 'GET pools.get': 2, 'PATCH pools.patch': 1 });

    resetCounts(world);
    const again = await run('apply', file);
    expect(again.target('edge-pool').status).toBe('in-sync');
    expect(world.cloudflare.counts()).toEqual({ 'GET pools.get': 1 });
  });

  it('holds a foreign origin at the address as NotOwned, and adopts it when told to', async () => {
    world.cloudflare.addPool(ACCOUNT, {
      id: POOL,
      name: 'primary',
      origins: [backup, { name: 'app-server-1', address: OLD_IP, enabled: true, weight: 0.6 }],
    });
    const held = await run('apply', config([poolTarget()]));
    expect(held.exitCode).toBe(3);
    expect(held.target('edge-pool').block).toEqual({
      reason: 'NotOwned',
      detail: expect.stringContaining(`origin "app-server-1" (${OLD_IP})`),
    });
    expect(cfWrites()).toBe(0);

    const adopted = await run('apply', config([poolTarget({ adopt: true })]));
    expect(adopted.exitCode).toBe(0);
    expect(adopted.output).toContain(
      `~ adopt origin app-server-1 ${OLD_IP} (renamed apim-${OLD_IP}, Host ${GATEWAY})`,
    );
    expect(origins()).toEqual([backup, ours(OLD_IP, 0.6)]);
  });

  it('moves to the new address at once, after the allowlists gained it', async () => {
    const file = config([poolTarget({ hostHeader: 'api.contoso.com' }), listTarget()]);
    expect((await run('apply', file)).exitCode).toBe(0);
    reactivate(world, NEW_IP);
    resetCounts(world);
    const change = await run('apply', file);
    expect(change.exitCode).toBe(0);
    expect(change.output).toContain(`- remove ${OLD_IP} (origin apim-${OLD_IP})`);
    const host = { Host: ['api.contoso.com'] };
    expect(origins()).toEqual([backup, { ...ours(NEW_IP), header: host }]);
    const seq = (route: string) => world.cloudflare.requests.find((r) => r.route === route)!.seq;
    expect(seq('listItems.create')).toBeLessThan(seq('pools.patch'));
    expect(world.cloudflare.count({ route: 'pools.get' })).toBe(2);
    expect(world.cloudflare.count({ route: 'pools.patch' })).toBe(1);
  });

  it('removes an origin the source no longer gives, keeping the weights of the others', async () => {
    world.cloudflare.addPool(ACCOUNT, {
      id: POOL,
      name: 'primary',
      origins: [ours('20.3.3.3', 0.4), backup, ours(OLD_IP, 0.7)],
    });
    const result = await run('apply', config([poolTarget()]));
    expect(result.exitCode).toBe(0);
    expect(origins()).toEqual([backup, ours(OLD_IP, 0.7)]);
  });

  it('never goes below minimum_origins, even with --force, while the addition still goes out', async () => {
    world.cloudflare.addPool(ACCOUNT, {
      id: POOL,
      name: 'primary',
      minimum_origins: 2,
      origins: [ours(OLD_IP), ours('20.3.3.3')],
    });
    reactivate(world, NEW_IP);
    const file = config([poolTarget()]);
    for (const force of [false, true]) {
      const result = await run('apply', file, { force });
      expect(result.exitCode).toBe(3);
      expect(result.target('edge-pool').block?.reason).toBe('TooManyRemovals');
      expect(result.target('edge-pool').block?.detail).toContain('below its minimum_origins (2)');
      expect(origins().map((o) => o.name)).toEqual([`apim-${OLD_IP}`, 'apim-20.3.3.3', `apim-${NEW_IP}`]);
    }
  });

  describe('faults', () => {
    it('fails the read on 403 9109 and the write with a read-only grant, naming the permission', async () => {
      grant({ [ACCOUNT]: { lists: 'edit' } });
      const read = await run('apply', config([poolTarget()]));
      expect(read.exitCode).toBe(1);
      expect(read.target('edge-pool').error).toContain('HTTP 403 9109');
      expect(read.target('edge-pool').hint).toContain('Load Balancing: Monitors and Pools → Read');

      grant({ [ACCOUNT]: { loadBalancers: 'read' } });
      const write = await run('apply', config([poolTarget()]));
      expect(write.exitCode).toBe(1);
      expect(write.target('edge-pool').error).toMatch(
        /PATCH of pool primary: HTTP 403 9109.*Monitors and Pools → Edit/,
      );
      expect(origins()).toEqual([backup]);
    });

    it('retries a 429 with Retry-After, and reports a read throttled past the retries', async () => {
      world.cloudflare.throttle('pools.patch', 0, 1);
      const ok = await run('apply', config([poolTarget()]));
      expect(ok.exitCode).toBe(0);
      expect(world.cloudflare.count({ route: 'pools.patch' })).toBe(2);

      world.cloudflare.throttle('pools.get', 0, 3);
      const throttled = await run('apply', config([poolTarget()]));
      expect(throttled.exitCode).toBe(1);
      expect(throttled.target('edge-pool').error).toContain('HTTP 429 971');
      expect(throttled.target('edge-pool').hint).toContain('throttled: the next run retries');
    });

    it('reports what the API refuses', async () => {
      const many = Array.from({ length: 20 }, (_, i) => ({
        name: `dc-${i}`,
        address: `198.51.100.${i + 1}`,
      }));
      world.cloudflare.addPool(ACCOUNT, { id: POOL, name: 'primary', origins: many });
      const result = await run('apply', config([poolTarget()]));
      expect(result.exitCode).toBe(1);
      expect(result.target('edge-pool').error).toContain(
        'HTTP 400 1002: the origin list length must be in range [1, 20]',
      );
    });

    it('re-plans when the origins changed between its read and its write', async () => {
      const stale = { ...world.cloudflare.pool(ACCOUNT, POOL)!, origins: [{ ...backup, weight: 0.9 }] };
      world.cloudflare.inject({
        route: 'pools.get',
        status: 200,
        body: { success: true, errors: [], messages: [], result: stale },
      });
      const result = await run('apply', config([poolTarget()]));
      expect(result.exitCode).toBe(0);
      expect(world.cloudflare.counts()).toEqual({ 'GET pools.get': 4, 'PATCH pools.patch': 1 });
      expect(origins()).toEqual([backup, ours(OLD_IP)]);
    });
  });
});

describe('cloudflare.dnsRecords in a busy zone', () => {
  const record = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: ZONE_ID,
    recordName: `${name}.contoso.com`,
    ...extra,
  });
  const contents = (name: string) =>
    world.cloudflare.records(ZONE_ID, { name: `${name}.contoso.com`, type: 'A' }).map((r) => r.content);

  it('one record set the zone refuses does not hold the others of its zone', async () => {
    const file = config([record('one'), record('bad', { proxied: false, ttl: 30 }), record('three')]);
    const first = await run('apply', file);
    expect(first.exitCode).toBe(1);
    expect(first.target('one').status).toBe('changed');
    expect(first.target('three').status).toBe('changed');
    expect(first.target('bad').status).toBe('failed');
    expect(first.target('bad').error).toMatch(
      /HTTP 400 1004: DNS Validation Error \(9021: TTL must be between 60 and 86400 seconds, or 1 for Automatic\.\) — a ttl below 60 is accepted on Enterprise zones only/,
    );
    expect([contents('one'), contents('bad'), contents('three')]).toEqual([['20.1.1.1'], [], ['20.1.1.1']]);
    // The next run leaves the two in sync and tries the refused one alone: one batch.
    world.cloudflare.resetCounts();
    const second = await run('apply', file);
    expect(['one', 'bad', 'three'].map((n) => second.target(n).status)).toEqual([
      'in-sync',
      'failed',
      'in-sync',
    ]);
    expect(world.cloudflare.count({ route: 'dnsRecords.batch' })).toBe(1);
  });

  it('refuses, before writing, a record name outside its zone, and writes the others', async () => {
    const first = await run(
      'apply',
      config([record('one'), { ...record('x'), recordName: 'api.other.net' }]),
    );
    expect(first.exitCode).toBe(1);
    expect(first.target('x').error).toBe(
      `recordName api.other.net is not inside zone contoso.com (${ZONE_ID}): Cloudflare would create api.other.net.contoso.com; nothing was written — fix recordName or zoneId of target x`,
    );
    expect(contents('one')).toEqual(['20.1.1.1']);
    expect(world.cloudflare.records(ZONE_ID, { name: 'api.other.net.contoso.com' })).toEqual([]);
  });

  it("splits a zone's changes into batches within its plan's limit (Free: 200), a record set never split", async () => {
    // An older Free zone (created before 2024-09-01) holds up to 1,000 records: 250 services fit, a batch of 250 not.
    const zone = 'fe11e7000000000000000000000000aa';
    world.cloudflare.addZone({ id: zone, name: 'fleet.example', plan: 'free', recordQuota: 1000 });
    world.cloudflare.addToken(CLOUDFLARE_TOKEN, {
      zones: { [ZONE_ID]: 'edit', [zone]: 'edit' },
      accounts: { [ACCOUNT]: { lists: 'edit', loadBalancers: 'edit' } },
    });
    const names = Array.from({ length: 250 }, (_, i) => `svc${i}`);
    for (const n of names) {
      world.cloudflare.addRecord(zone, {
        type: 'A',
        name: `${n}.fleet.example`,
        content: '20.9.9.9',
        comment: 'managed-by:apim-ip-reconciler',
      });
    }
    world.cloudflare.resetCounts();
    const result = await run(
      'apply',
      config(names.map((n) => ({ ...record(n), zoneId: zone, recordName: `${n}.fleet.example` }))),
    );
    expect(result.output.split('\n').filter((l) => l.startsWith('error'))).toEqual([]);
    expect(result.exitCode).toBe(0);
    expect(world.cloudflare.count({ route: 'dnsRecords.batch' })).toBe(2);
    const moved = world.cloudflare.records(zone, { type: 'A' }).filter((r) => r.content === '20.1.1.1');
    expect(moved).toHaveLength(250);
  });
});
