import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import { SUBSCRIPTION, ZONE_ID, type World } from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/** The run stays within the providers' limits and its own time: requests in flight per host, and a run budget. */

let world: World;
const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));

beforeEach(async () => {
  world = await storyWorld();
});
afterEach(() => world.close());

function config(extra: Record<string, unknown> = {}, count = 20): string {
  const sources: Record<string, unknown> = {};
  const targets: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) {
    const id = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/svc${i}`;
    world.arm.setApim(id, {
      location: 'West Europe',
      sku: { name: 'Premium', capacity: 1 },
      provisioningState: 'Succeeded',
      publicIPAddresses: [`20.9.${i}.1`],
    });
    sources[`s${i}`] = { resourceId: id };
    targets.push({
      name: `dns${i}`,
      type: 'cloudflare.dnsRecords',
      source: `s${i}`,
      zoneId: ZONE_ID,
      recordName: `svc${i}.contoso.com`,
    });
  }
  const file = join(world.dir, `limits-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      sources,
      targets,
      azure: { resourceManagerEndpoint: world.arm.url },
      cloudflare: { baseUrl: world.cloudflare.baseUrl },
      ...extra,
    }),
  );
  return file;
}

test('at most RECONCILER_MAX_CONCURRENCY requests are in flight per host', async () => {
  world.arm.latencyMs = 20;
  world.cloudflare.latencyMs = 20;
  const file = config();
  world.arm.resetCounts();
  world.cloudflare.resetCounts();
  const run = await runCli('apply', world, clock, { config: file, env: { RECONCILER_MAX_CONCURRENCY: '3' } });
  expect(run.exitCode).toBe(0);
  expect(world.arm.count({ route: 'apim.get' })).toBe(20);
  expect(world.arm.maxInFlight).toBe(3);
  // Twenty record sets of one zone: one list of the zone and one batch, not twenty of each; the records are new, so
  // the zone's name is read once to check theirs.
  expect(world.cloudflare.counts()).toEqual({
    'GET dnsRecords.list': 1,
    'GET zones.get': 1,
    'POST dnsRecords.batch': 1,
  });
});

test('a Retry-After beyond the run budget ends the wait: the source is unavailable, not waited for', async () => {
  world.arm.throttle('apim.get', 3600, 10);
  const run = await runCli('apply', world, clock, { config: config({ safety: { runBudget: 'PT1S' } }, 1) });
  expect(run.exitCode).toBe(1);
  expect(run.report!.sources[0]).toMatchObject({
    status: 'unavailable',
    block: { reason: 'SourceUnavailable' },
  });
});

test('Cloudflare asking to wait past the budget is not retried: the target fails and says it was throttled', async () => {
  world.cloudflare.throttle('dnsRecords.list', 3600, 10);
  const run = await runCli('apply', world, clock, { config: config({ safety: { runBudget: 'PT30S' } }, 1) });
  expect(run.exitCode).toBe(1);
  expect(world.cloudflare.count({ route: 'dnsRecords.list' })).toBe(1);
  expect(run.report!.targets[0]).toMatchObject({
    status: 'failed',
    error: expect.stringContaining('HTTP 429'),
  });
});
