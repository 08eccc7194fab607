import { ManualClock } from '../lib/engine/clock';
import type { ZoneLayout } from '../sandbox/fleet';
import { adoptedFleet, apply, expectExit, load1, START } from './support';

/**
 * Wall time of one run with every request answered after `latencyMs` and every ARM long-running operation asking
 * `Retry-After: 1` (one InProgress answer, then Succeeded): the steady state, then a drift (every IP changed), of a
 * fleet of N sources × 3 targets. Each repetition is a fresh fleet, adopted beforehand.
 */

export const LATENCY_MS = 50;
export const RETRY_AFTER_S = 1;

export interface WallSample {
  sources: number;
  zones: ZoneLayout;
  maxConcurrency: number;
  steadyMs: number;
  driftMs: number;
  /** Requests of the drift run, and the most in flight at once per host. */
  driftRequests: number;
  /** Of which to Resource Manager (one host: they share its in-flight limit). */
  driftArmRequests: number;
  maxInFlight: { arm: number; cloudflare: number };
  /** The 1-minute load average when the drift run ended. */
  load: number;
}

export async function measureWallTime(
  sources: number,
  zones: ZoneLayout,
  maxConcurrency: number,
): Promise<WallSample> {
  const world = await adoptedFleet({
    sources,
    zones,
    latencyMs: LATENCY_MS,
    retryAfterSeconds: RETRY_AFTER_S,
  });
  const clock = new ManualClock(START);
  const env = { RECONCILER_MAX_CONCURRENCY: String(maxConcurrency) };
  try {
    const steady = await apply(world, clock, { env });
    expectExit(steady, 0, `the steady run (${sources} sources)`);
    world.arm.resetCounts();
    world.cloudflare.resetCounts();
    world.drift();
    const drift = await apply(world, clock, { env });
    expectExit(drift, 0, `the drift run (${sources} sources)`);
    if (drift.report?.outcome !== 'changed') throw new Error(`the drift run did not change: ${drift.output}`);
    return {
      sources,
      zones,
      maxConcurrency,
      steadyMs: steady.ms,
      driftMs: drift.ms,
      driftRequests: world.arm.requests.length + world.cloudflare.requests.length,
      driftArmRequests: world.arm.requests.length,
      maxInFlight: { arm: world.arm.maxInFlight, cloudflare: world.cloudflare.maxInFlight },
      load: load1(),
    };
  } finally {
    await world.close();
  }
}
