import { ManualClock } from '../lib/engine/clock';
import type { ZoneLayout } from '../sandbox/fleet';
import { adoptedFleet, apply, expectExit, START } from './support';

/**
 * Requests per run against the floor, counted by the emulators by method and route: the steady state (nothing
 * changed) and a drift (every APIM service moved to another IP), N sources × 3 targets (an A record, an NSG rule,
 * an IP Group each), DNS records in one shared zone or a zone per source. Counts do not depend on timing.
 */

/** InProgress answers of every ARM long-running operation before it succeeds (the ARM emulator's default). */
export const LRO_POLLS = 1;

export interface RequestSample {
  sources: number;
  zones: ZoneLayout;
  phase: 'steady' | 'drift';
  arm: Record<string, number>;
  cloudflare: Record<string, number>;
  /** Most requests in flight at once, per emulator (host). */
  maxInFlight: { arm: number; cloudflare: number };
  floor: Floor;
}

/** The fewest requests the run can make (see bench/RESULTS.md). */
export interface Floor {
  /** One GET per APIM service, however many targets use it. */
  apimReads: number;
  /** One GET per Azure target resource (an NSG rule, an IP Group). */
  azureTargetReads: number;
  /** Per record set or per zone, whichever is fewer. */
  cloudflareLists: number;
  /** One PUT per Azure resource that changes. */
  azureWrites: number;
  /** One batch per zone that changes. */
  cloudflareBatches: number;
  /** As the service asks: its InProgress answers, then the terminal one, per PUT. */
  lroPolls: number;
}

export function floorOf(sources: number, zones: ZoneLayout, phase: 'steady' | 'drift'): Floor {
  const zoneCount = zones === 'shared' ? 1 : sources;
  const drift = phase === 'drift';
  return {
    apimReads: sources,
    azureTargetReads: 2 * sources,
    cloudflareLists: Math.min(sources, zoneCount),
    azureWrites: drift ? 2 * sources : 0,
    cloudflareBatches: drift ? zoneCount : 0,
    lroPolls: drift ? 2 * sources * (LRO_POLLS + 1) : 0,
  };
}

export async function measureRequests(sources: number, zones: ZoneLayout): Promise<RequestSample[]> {
  const world = await adoptedFleet({ sources, zones, lroPolls: LRO_POLLS }, { pollIntervalMs: 1 });
  const clock = new ManualClock(START);
  const samples: RequestSample[] = [];
  try {
    for (const phase of ['steady', 'drift'] as const) {
      world.arm.resetCounts();
      world.cloudflare.resetCounts();
      if (phase === 'drift') world.drift();
      const run = await apply(world, clock, { tuning: { pollIntervalMs: 1 } });
      expectExit(run, 0, `the ${phase} run (${sources} sources, ${zones} zones)`);
      samples.push({
        sources,
        zones,
        phase,
        arm: world.arm.counts(),
        cloudflare: world.cloudflare.counts(),
        maxInFlight: { arm: world.arm.maxInFlight, cloudflare: world.cloudflare.maxInFlight },
        floor: floorOf(sources, zones, phase),
      });
    }
  } finally {
    await world.close();
  }
  return samples;
}

/** The counts grouped as the floor is. */
export function summarize(sample: RequestSample) {
  const a = (key: string) => sample.arm[key] ?? 0;
  const c = (key: string) => sample.cloudflare[key] ?? 0;
  const armWrites = Object.entries(sample.arm)
    .filter(([k]) => !k.startsWith('GET '))
    .reduce((sum, [, v]) => sum + v, 0);
  const cloudflareWrites = Object.entries(sample.cloudflare)
    .filter(([k]) => !k.startsWith('GET '))
    .reduce((sum, [, v]) => sum + v, 0);
  const azureTargetGets = a('GET securityRule.get') + a('GET ipGroup.get');
  const azureWrites = a('PUT securityRule.put') + a('PUT ipGroup.put');
  const total =
    Object.values(sample.arm).reduce((s, v) => s + v, 0) +
    Object.values(sample.cloudflare).reduce((s, v) => s + v, 0);
  return {
    apimReads: a('GET apim.get'),
    // The SDK reads every PUT resource once more when its operation ends (core-lro, final state of a PUT).
    lroResultReads: azureWrites,
    azureTargetReads: azureTargetGets - azureWrites,
    cloudflareLists: c('GET dnsRecords.list'),
    azureWrites,
    cloudflareBatches: c('POST dnsRecords.batch'),
    lroPolls: a('GET operation.get'),
    writes: armWrites + cloudflareWrites,
    total,
  };
}
