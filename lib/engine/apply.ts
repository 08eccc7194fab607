import { inPhases } from './order';
import { settle } from './settle';
import type { PrepareContext } from './prepare';
import type { Planned } from './work';

/**
 * Stage 4, apply: make before break (lib/engine/order.ts), phase by phase. Within a phase every driver gets all
 * its plans at once, so a driver that can batch (Cloudflare DNS: one batch per zone) does; each outcome is then
 * settled (stage 5).
 */
export async function applyInPhases(writing: Planned[], run: PrepareContext): Promise<void> {
  for (const [, group] of inPhases(writing.map((item) => ({ item, phase: item.plan.phase })))) {
    await applyGroup(
      group.map((g) => g.item),
      run,
    );
  }
}

export async function applyGroup(group: Planned[], run: PrepareContext): Promise<void> {
  const byDriver = new Map<Planned['driver'], Planned[]>();
  for (const item of group) byDriver.set(item.driver, [...(byDriver.get(item.driver) ?? []), item]);
  await Promise.all(
    [...byDriver].map(async ([driver, items]) => {
      const outcomes = await driver.apply(
        items.map(({ target, actual, plan }) => ({ target, actual, plan })),
      );
      await Promise.all(
        items.map((item, i) =>
          settle(
            item,
            outcomes[i] ?? { status: 'failed', error: 'the driver gave no outcome' },
            run,
            (again) => applyGroup([again], run),
          ),
        ),
      );
    }),
  );
}
