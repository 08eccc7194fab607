import type { Prefix } from '../net/addresses';
import { retirement } from './retirement';
import type { HoldReason, PlanContext } from './types';

/**
 * The diff of a list whose entries carry their own owner (a comment, a name prefix): Cloudflare IP list
 * items, pool origins, App Service access restrictions. Only owned entries are ever changed or removed.
 */

export interface MarkedEntry<E> {
  key: string;
  owned: boolean;
  entry: E;
}

export interface MarkedOptions {
  adopt: boolean;
  /** What a foreign entry already holding a desired address means: enough, add ours beside it, or a conflict. */
  onForeignMatch: 'satisfied' | 'add' | 'conflict';
  /** Removals wait for retireAfter (allowlists) or happen at once (pool origins follow the source like DNS). */
  retire: boolean;
}

export interface MarkedDiff<E> {
  /** Desired addresses with no entry yet. */
  add: Prefix[];
  /** Foreign entries to take over (adopt). */
  adopt: Array<MarkedEntry<E>>;
  /** Owned entries to remove now, with when they left the source. */
  remove: Array<{ entry: MarkedEntry<E>; since: string }>;
  /** Foreign entries that hold a desired address when `onForeignMatch` is 'conflict' and adopt is off. */
  conflicts: Array<MarkedEntry<E>>;
  deferred: Array<{ entry: MarkedEntry<E>; retiresAt: string; heldBy?: HoldReason }>;
  departed: Record<string, string>;
}

export function diffMarkedEntries<E>(
  entries: ReadonlyArray<MarkedEntry<E>>,
  context: PlanContext,
  options: MarkedOptions,
): MarkedDiff<E> {
  const desiredKeys = new Set(context.desired.map((p) => p.key));
  const ownedKeys = new Set(entries.filter((e) => e.owned).map((e) => e.key));
  const adopt: Array<MarkedEntry<E>> = [];
  const conflicts: Array<MarkedEntry<E>> = [];
  const covered = new Set(ownedKeys);
  for (const e of entries) {
    if (e.owned || !desiredKeys.has(e.key) || covered.has(e.key)) continue;
    if (options.adopt) {
      adopt.push(e);
      covered.add(e.key);
    } else if (options.onForeignMatch === 'satisfied') covered.add(e.key);
    else if (options.onForeignMatch === 'conflict') conflicts.push(e);
  }

  // Keys, not entries, retire: two entries at one address leave together.
  const departing = new Set(entries.filter((e) => e.owned && !desiredKeys.has(e.key)).map((e) => e.key));
  const { due, waiting, departed } = retirement(departing, context, { immediate: !options.retire });
  const remove: MarkedDiff<E>['remove'] = [];
  const deferred: MarkedDiff<E>['deferred'] = [];
  for (const e of entries) {
    if (!e.owned || desiredKeys.has(e.key)) continue;
    const since = due.get(e.key);
    const wait = waiting.get(e.key);
    if (since !== undefined) remove.push({ entry: e, since });
    else if (wait) deferred.push({ entry: e, ...wait });
  }
  return {
    add: context.desired.filter((p) => !covered.has(p.key)),
    adopt,
    remove,
    conflicts,
    deferred,
    departed,
  };
}
