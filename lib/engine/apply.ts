import type { Phase } from '../plan/types';
import { inPhases, PHASES } from './order';
import type { PrepareContext } from './prepare';
import { replan, settle } from './settle';
import type { Planned } from './work';

/**
 * Stage 4, apply: make before break (lib/engine/order.ts), phase by phase. Within a phase every driver gets all
 * its plans at once, so a driver that can batch (Cloudflare DNS: one batch per zone; firewall rules: one write per
 * rule collection group) does; each outcome is then settled (stage 5).
 */
export async function applyInPhases(writing: Planned[], run: PrepareContext): Promise<void> {
  const phase = sharedPhases(writing);
  const phases = new Map(inPhases(writing.map((item) => ({ item, phase: phase(item) }))));
  const items = (p: Phase) => (phases.get(p) ?? []).map((g) => g.item);
  // Allowlists gain first, and DNS waits for them, but only so long: a slow write (a firewall policy takes
  // minutes) goes on while DNS moves, and the removals wait for every addition.
  const additions = applyGroup(items('allowlist-add'), run);
  if (items('dns').length > 0) {
    await (run.wait ? Promise.race([additions, run.wait(run.dnsWaitMs)]) : additions);
    await applyGroup(items('dns'), run);
  }
  await additions;
  await applyGroup(items('allowlist-remove'), run);
}

/**
 * Targets that write one resource (two rules of one rule collection group) go in the earliest phase any of them
 * has, so the resource gets one write per run, never two from one read. They are all allowlists, written in the
 * add phase when one gains an address: the same rule as an allowlist that both gains and loses.
 */
function sharedPhases(items: Planned[]): (item: Planned) => Phase {
  const keyOf = (item: Planned) => {
    const key = item.driver.writeKey?.(item.target);
    return key === undefined ? undefined : `${item.target.type}\u0000${key}`;
  };
  const earliest = new Map<string, number>();
  for (const item of items) {
    const key = keyOf(item);
    if (key === undefined) continue;
    const index = PHASES.indexOf(item.plan.phase);
    earliest.set(key, Math.min(earliest.get(key) ?? index, index));
  }
  return (item) => {
    const key = keyOf(item);
    return key === undefined ? item.plan.phase : (PHASES[earliest.get(key) ?? 0] ?? item.plan.phase);
  };
}

async function applyGroup(group: Planned[], run: PrepareContext): Promise<void> {
  const byDriver = new Map<Planned['driver'], Planned[]>();
  for (const item of group) byDriver.set(item.driver, [...(byDriver.get(item.driver) ?? []), item]);
  const lost: Planned[] = [];
  await Promise.all(
    [...byDriver].map(async ([driver, items]) => {
      const outcomes = await driver.apply(
        items.map(({ target, actual, plan }) => ({ target, actual, plan })),
      );
      items.forEach((item, i) => {
        const outcome = outcomes[i] ?? { status: 'failed', error: 'the driver gave no outcome' };
        if (settle(item, outcome) === 'again') lost.push(item);
      });
    }),
  );
  if (lost.length === 0) return;
  const again = await Promise.all(lost.map((item) => replan(item, run)));
  const retry = lost.filter((_, i) => again[i]);
  if (retry.length > 0) await applyGroup(retry, run);
}
