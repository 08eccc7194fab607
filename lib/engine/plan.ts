import { formatDuration } from '../config/duration';
import { cidrText, entryKey, isExplicitEntry, type Prefix } from '../net/addresses';
import type { TargetState } from '../state/store';
import {
  OWNER_MARK,
  type Deferred,
  type PlanContext,
  type PlannedChange,
  type TargetPlan,
} from '../targets/target';

/**
 * The shared diff of every allowlist target (NSG rule, IP Group, firewall rule...): a pure function from
 * desired addresses, the list as it stands, and what the reconciler owns, to the list it should write.
 */

export interface AllowlistActual {
  /** The rule or group exists (a missing NSG rule can be created). */
  exists: boolean;
  /** It carries the ownership mark (description or tag). */
  marked: boolean;
  /** Its entries as written, in order. */
  entries: string[];
  /** What the list matches besides explicit addresses (`*`, a service tag, an application security group). */
  wildcards?: string[];
  /** Azure reports the last write to it ended `Failed`; writing it again repairs it. */
  failed?: boolean;
}

export interface AllowlistOptions {
  adopt: boolean;
  /** How to name the container in messages: `rule allow-apim`, `IP group apim-egress`. */
  label: string;
  /** Where the mark goes: `description`, `tag`. */
  markPlace: string;
  targetName: string;
  /** What to do when the list matches more than explicit addresses. */
  wildcardHint: string;
}

export interface AllowlistWrite {
  create: boolean;
  /** Write the ownership mark (creating or adopting). */
  mark: boolean;
  entries: string[];
}

/** Owned keys that are still present, and which of them have left the source: removable now or later. */
function retirement(
  ownedPresent: Set<string>,
  desiredKeys: Set<string>,
  context: PlanContext,
): { due: Map<string, string>; departed: Record<string, string>; deferred: Map<string, string> } {
  const now = context.now.getTime();
  const departed: Record<string, string> = {};
  const due = new Map<string, string>();
  const deferred = new Map<string, string>();
  for (const key of ownedPresent) {
    if (desiredKeys.has(key)) continue;
    const since = context.state?.departed[key] ?? context.now.toISOString();
    departed[key] = since;
    const retiresAt = Date.parse(since) + context.retireAfterMs;
    if (retiresAt <= now && !context.holdRemovals) due.set(key, since);
    else deferred.set(key, new Date(retiresAt).toISOString());
  }
  return { due, departed, deferred };
}

export function planAllowlist(
  actual: AllowlistActual,
  context: PlanContext,
  options: AllowlistOptions,
  resource: string,
): TargetPlan<AllowlistWrite> {
  const desiredKeys = new Set(context.desired.map((p) => p.key));
  const sameResource = context.state?.resource === resource;
  const state = sameResource ? context.state : undefined;
  const stateFor = (next: Omit<TargetState, 'resource'>): TargetState => ({ resource, ...next });

  if (!actual.exists) {
    const entries = context.desired.map(cidrText);
    return {
      changes: [{ action: 'create', before: '', after: entries.join(', '), note: options.label }],
      additions: context.desired,
      removals: 0,
      deferred: [],
      nextState: stateFor({ owned: context.desired.map((p) => p.key), departed: {} }),
      phase: 'allowlist-add',
      write: { create: true, mark: true, entries },
    };
  }

  const present = new Map<string, string[]>();
  for (const entry of actual.entries) {
    const key = entryKey(entry);
    present.set(key, [...(present.get(key) ?? []), entry]);
  }

  const wildcards = [...(actual.wildcards ?? []), ...actual.entries.filter((e) => !isExplicitEntry(e))];
  if (wildcards.length > 0) {
    // An entry like `*` or a service tag already lets in far more than APIM: not a list to keep in step.
    return {
      changes: [],
      additions: [],
      removals: 0,
      blocked: {
        reason: 'NotOwned',
        detail: `${options.label} matches ${wildcards.join(', ')}; the reconciler only manages explicit address lists: ${options.wildcardHint}`,
      },
      deferred: [],
      nextState: stateFor({ owned: state?.owned ?? [], departed: state?.departed ?? {} }),
      phase: 'allowlist-add',
    };
  }

  if (!actual.marked && !options.adopt) {
    return {
      changes: [],
      additions: [],
      removals: 0,
      blocked: {
        reason: 'NotOwned',
        detail:
          `${options.label} exists without the mark "${OWNER_MARK}" in its ${options.markPlace}; ` +
          `set "adopt": true on target ${options.targetName} to take it over (entries other than the ` +
          `source's addresses stay untouched), or add the mark yourself`,
      },
      deferred: [],
      nextState: stateFor({ owned: [], departed: {} }),
      phase: 'allowlist-add',
    };
  }

  const adopting = !actual.marked;
  // What the reconciler owns: what it recorded, and what it announced it was about to add (`pending`, saved
  // before the write) and is there: a write whose answer was lost, or whose process was killed, still counts.
  const remembered = [...new Set([...(state?.owned ?? []), ...(state?.pending ?? [])])];
  const ownedBefore = adopting
    ? [...present.keys()].filter((k) => desiredKeys.has(k))
    : remembered.filter((k) => present.has(k));
  const owned = new Set(ownedBefore);
  const { due, departed, deferred } = retirement(owned, desiredKeys, { ...context, state });
  const now = context.now.getTime();

  const additions: Prefix[] = context.desired.filter((p) => !present.has(p.key));
  const changes: PlannedChange[] = [];
  if (adopting) {
    changes.push({
      action: 'adopt',
      before: '',
      after: OWNER_MARK,
      note: `${options.label}: takes over ${owned.size} matching ${owned.size === 1 ? 'entry' : 'entries'}`,
    });
  }
  for (const p of additions) changes.push({ action: 'add', before: '', after: cidrText(p) });
  let removals = 0;
  for (const [key, since] of due) {
    for (const entry of present.get(key) ?? []) {
      removals++;
      const ago = formatDuration(context.now.getTime() - Date.parse(since));
      changes.push({ action: 'remove', before: entry, after: '', note: `left the source ${ago} ago` });
    }
  }
  if (actual.failed && changes.length === 0) {
    changes.push({
      action: 'update',
      subject: options.label,
      before: 'Failed',
      after: 'Succeeded',
      note: 'its last write ended Failed; written again, as Azure advises',
    });
  }

  const entries = [...actual.entries.filter((e) => !due.has(entryKey(e))), ...additions.map(cidrText)];
  const nextOwned = [...[...owned].filter((k) => !due.has(k)), ...additions.map((p) => p.key)];
  for (const key of due.keys()) delete departed[key];
  const deferredList: Deferred[] = [...deferred].flatMap(([key, retiresAt]) =>
    (present.get(key) ?? []).map((entry) =>
      Date.parse(retiresAt) <= now
        ? { entry, retiresAt, heldBy: 'TooManyRemovals' as const }
        : { entry, retiresAt },
    ),
  );

  return {
    changes,
    additions,
    removals,
    deferred: deferredList,
    nextState: stateFor({ owned: nextOwned, departed }),
    phase: additions.length > 0 || adopting ? 'allowlist-add' : 'allowlist-remove',
    write: changes.length > 0 ? { create: false, mark: adopting, entries } : undefined,
  };
}

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
  deferred: Array<{ entry: MarkedEntry<E>; retiresAt: string; heldBy?: 'TooManyRemovals' }>;
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

  const now = context.now.getTime();
  const departed: Record<string, string> = {};
  const remove: MarkedDiff<E>['remove'] = [];
  const deferred: MarkedDiff<E>['deferred'] = [];
  for (const e of entries) {
    if (!e.owned || desiredKeys.has(e.key)) continue;
    const since = context.state?.departed[e.key] ?? context.now.toISOString();
    const retiresAt = options.retire ? Date.parse(since) + context.retireAfterMs : now;
    if (retiresAt > now) {
      departed[e.key] = since;
      deferred.push({ entry: e, retiresAt: new Date(retiresAt).toISOString() });
    } else if (context.holdRemovals) {
      departed[e.key] = since;
      deferred.push({ entry: e, retiresAt: new Date(retiresAt).toISOString(), heldBy: 'TooManyRemovals' });
    } else {
      remove.push({ entry: e, since });
    }
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
