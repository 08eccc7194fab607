import type { HoldReason, PlanContext } from './types';

/**
 * The one retirement rule (docs/design/product.md §5, make before break): an owned entry whose address left the
 * source is removed once it has been gone for `retireAfter`, counted from when a run first saw it gone (kept in
 * the state as `departed`). An entry that follows the source at once (pool origins) retires immediately. A removal
 * that is due while TooManyRemovals holds removals waits, marked as held.
 */

export interface Waiting {
  /** When the entry may be removed (ISO 8601). */
  retiresAt: string;
  /** Due, but held. */
  heldBy?: HoldReason;
}

export interface Retirement {
  /** Keys to remove now, with when they left the source. */
  due: Map<string, string>;
  /** Keys that stay for now. */
  waiting: Map<string, Waiting>;
  /** Key → when it left the source, for every waiting key: what the state keeps for the next run. */
  departed: Record<string, string>;
}

const heldBy = (hold: PlanContext['holdRemovals']): HoldReason =>
  hold === 'UnreadableTarget' ? 'UnreadableTarget' : 'TooManyRemovals';

export function retirement(
  departing: Iterable<string>,
  context: Pick<PlanContext, 'state' | 'now' | 'retireAfterMs' | 'holdRemovals'>,
  options: { immediate?: boolean } = {},
): Retirement {
  const now = context.now.getTime();
  const result: Retirement = { due: new Map(), waiting: new Map(), departed: {} };
  for (const key of departing) {
    const since = context.state?.departed[key] ?? context.now.toISOString();
    const retiresAt = options.immediate ? now : Date.parse(since) + context.retireAfterMs;
    if (retiresAt <= now && !context.holdRemovals) {
      result.due.set(key, since);
      continue;
    }
    result.departed[key] = since;
    result.waiting.set(key, {
      retiresAt: new Date(retiresAt).toISOString(),
      ...(retiresAt <= now ? { heldBy: heldBy(context.holdRemovals) } : {}),
    });
  }
  return result;
}
