import { ManualClock } from '../../lib/engine/clock';
import { startFleet, type FleetOptions, type FleetWorld } from '../../sandbox/fleet';
import { resetCounts, writes } from '../../sandbox/story';
import { runCertificate, runCli } from '../support/world';

/**
 * Requests at the floor, counted exactly by route (no timing: the benchmark, `npm run bench`, measures time).
 * A fleet of N sources × 3 targets (an A record, an NSG rule in its own NSG, an IP Group each), DNS records in
 * one shared zone or a zone per source, adopted by a first run. The floor of a run:
 * - one ARM read per APIM service, however many targets use it;
 * - one read per Azure target resource; the fewest Cloudflare lists (per record set or per zone, whichever is fewer);
 * - no write when nothing changed;
 * - when every IP changed: one PUT per Azure resource, one batch per zone however many record sets share it, and
 *   each long-running operation polled as the service asks: its InProgress answers (`lroPolls`), then the terminal
 *   one. The Azure SDK then reads the written resource once (core-lro takes a PUT's final state from the resource).
 */

let world: FleetWorld;
let clock: ManualClock;

afterEach(() => world?.close());

async function adoptedFleet(options: FleetOptions): Promise<void> {
  world = await startFleet(runCertificate(), options);
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  const adopted = await runCli('apply', world, clock);
  expect(adopted.exitCode).toBe(0);
  resetCounts(world);
}

async function apply(): Promise<void> {
  const run = await runCli('apply', world, clock);
  expect(run.exitCode).toBe(0);
}

/** The ARM requests of a run with `n` sources; `written` of them drifted, each operation answering InProgress `polls` times. */
function armCounts(n: number, written: number, polls = 1): Record<string, number> {
  if (written === 0) {
    return { 'GET apim.get': n, 'GET securityRule.get': n, 'GET ipGroup.get': n };
  }
  return {
    'GET apim.get': n,
    // the read, then the SDK's read of the result
    'GET securityRule.get': n + written,
    'GET ipGroup.get': n + written,
    'PUT securityRule.put': written,
    'PUT ipGroup.put': written,
    'GET operation.get': 2 * written * (polls + 1),
  };
}

describe.each([
  { label: '1 source × 3 targets', sources: 1, zones: 'shared' as const, lists: 1, batches: 1 },
  {
    label: '5 sources × 3 targets, one shared zone',
    sources: 5,
    zones: 'shared' as const,
    lists: 1,
    batches: 1,
  },
  {
    label: '5 sources × 3 targets, a zone each',
    sources: 5,
    zones: 'per-source' as const,
    lists: 5,
    batches: 5,
  },
])('$label', ({ sources, zones, lists, batches }) => {
  test('the steady state: one read per APIM service and per Azure resource, the fewest lists, no write', async () => {
    await adoptedFleet({ sources, zones });
    await apply();
    expect(world.arm.counts()).toEqual(armCounts(sources, 0));
    expect(world.cloudflare.counts()).toEqual({ 'GET dnsRecords.list': lists });
    expect(writes(world)).toBe(0);
  });

  test('every IP changed: one PUT per Azure resource, one batch per zone, polls as the service asks', async () => {
    await adoptedFleet({ sources, zones });
    world.drift();
    await apply();
    expect(world.arm.counts()).toEqual(armCounts(sources, sources));
    expect(world.cloudflare.counts()).toEqual({
      'GET dnsRecords.list': lists,
      'POST dnsRecords.batch': batches,
    });
    expect(writes(world)).toBe(2 * sources + batches);
    // And the next run is the steady state again.
    resetCounts(world);
    await apply();
    expect(writes(world)).toBe(0);
    expect(world.arm.counts()).toEqual(armCounts(sources, 0));
  });
});

test('the first run adopts every target: one write per Azure resource and one batch for the shared zone', async () => {
  world = await startFleet(runCertificate(), { sources: 5, zones: 'shared' });
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  await apply();
  expect(world.arm.counts()).toEqual(armCounts(5, 5));
  expect(world.cloudflare.counts()).toEqual({ 'GET dnsRecords.list': 1, 'POST dnsRecords.batch': 1 });
});

test('a long-running operation is polled as often as the service answers InProgress, then once more', async () => {
  await adoptedFleet({ sources: 2, zones: 'shared', lroPolls: 3 });
  world.drift();
  await apply();
  expect(world.arm.counts()).toEqual(armCounts(2, 2, 3));
  expect(world.arm.count({ route: 'operation.get' })).toBe(2 * 2 * 4);
});
