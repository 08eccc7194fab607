import { formatDuration } from '../config/duration';
import { cidrText, entryKey, isExplicitEntry, type Prefix } from '../net/addresses';
import type { TargetState } from '../state/store';
import { blockedPlan } from './blocked';
import { OWNER_MARK } from './marks';
import { retirement } from './retirement';
import type { Deferred, PlanContext, PlannedChange, TargetPlan } from './types';

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
    return blockedPlan(
      {
        reason: 'NotOwned',
        detail: `${options.label} matches ${wildcards.join(', ')}; the reconciler only manages explicit address lists: ${options.wildcardHint}`,
      },
      stateFor({ owned: state?.owned ?? [], departed: state?.departed ?? {} }),
      'allowlist-add',
    );
  }

  if (!actual.marked && !options.adopt) {
    return blockedPlan(
      {
        reason: 'NotOwned',
        detail:
          `${options.label} exists without the mark "${OWNER_MARK}" in its ${options.markPlace}; ` +
          `set "adopt": true on target ${options.targetName} to take it over (entries other than the ` +
          `source's addresses stay untouched), or add the mark yourself`,
      },
      stateFor({ owned: [], departed: {} }),
      'allowlist-add',
    );
  }

  const adopting = !actual.marked;
  // Marked, but the state remembers nothing of it (a new storage account, a renamed target, the CLI on a fresh
  // agent): the entries equal to the source's addresses are owned again, as at adoption, so that they still retire
  // when the source moves on. Anything else in the list stays untouched for good.
  const stateLost = actual.marked && !state;
  // What the reconciler owns: what it recorded, and what it announced it was about to add (`pending`, saved
  // before the write) and is there: a write whose answer was lost, or whose process was killed, still counts.
  const remembered = [...new Set([...(state?.owned ?? []), ...(state?.pending ?? [])])];
  const ownedBefore =
    adopting || stateLost
      ? [...present.keys()].filter((k) => desiredKeys.has(k))
      : remembered.filter((k) => present.has(k));
  const owned = new Set(ownedBefore);
  const { due, waiting, departed } = retirement(
    [...owned].filter((k) => !desiredKeys.has(k)),
    { ...context, state },
  );

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
  const deferredList: Deferred[] = [...waiting].flatMap(([key, wait]) =>
    (present.get(key) ?? []).map((entry) => ({ entry, ...wait })),
  );

  return {
    changes,
    additions,
    removals,
    ...(stateLost && ownedBefore.length > 0 ? { reowned: ownedBefore } : {}),
    deferred: deferredList,
    nextState: stateFor({ owned: nextOwned, departed }),
    phase: additions.length > 0 || adopting ? 'allowlist-add' : 'allowlist-remove',
    write: changes.length > 0 ? { create: false, mark: adopting, entries } : undefined,
  };
}
