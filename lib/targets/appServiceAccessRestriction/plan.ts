import { createHash } from 'node:crypto';
import { formatDuration } from '../../config/duration';
import { cidrText, displayText, entryKey, maskLength, parsePrefix, type Prefix } from '../../net/addresses';
import { blockedPlan } from '../../plan/blocked';
import { diffMarkedEntries, type MarkedEntry } from '../../plan/markedEntries';
import type { PlanContext, PlannedChange, TargetPlan } from '../../plan/types';
import { TargetError } from '../target';
import type { AppServiceAccessRestrictionTarget } from './schema';

/**
 * `azure.appServiceAccessRestriction`: the `ipSecurityRestrictions` entries named `apim-<ip>` of a web app (or
 * slot) equal the selected addresses; every other entry, and its priority, stays as it is. The whole list is
 * written back (read-modify-write of `config/web`), with the implicit "Allow all"/"Deny all" entry left out.
 * Pure: the driver reads and writes.
 */

export const NAME_PREFIX = 'apim-';

export type Restriction = Record<string, unknown>;

export interface AppServiceActual {
  main: Restriction[];
  scm: Restriction[];
  scmUseMain: boolean;
  /**
   * The list has no rule of its own and unmatched traffic is allowed: the site is open to every client, and a first
   * Allow entry would apply the implicit deny to everyone else.
   */
  mainOpen?: boolean;
  scmOpen?: boolean;
}

export interface AppServiceWrite {
  main: Restriction[];
  scm?: Restriction[];
}

const ownedBy = (r: Restriction) => typeof r.name === 'string' && r.name.startsWith(NAME_PREFIX);

/** An entry's address as a comparison key: CIDR, or an IPv4 address with its `subnetMask` (`10.0.0.0` + /24). */
export function restrictionKey(r: Restriction): string {
  const ip = String(r.ipAddress ?? '').trim();
  const length = typeof r.subnetMask === 'string' ? maskLength(r.subnetMask) : undefined;
  if (length !== undefined && !ip.includes('/')) return parsePrefix(`${ip}/${length}`)?.key ?? entryKey(ip);
  return entryKey(ip);
}

/** The longest rule name kept: App Service documents no limit, and the portal's field is believed to take 32. */
const NAME_LIMIT = 32;

/** `apim-20.2.2.2`; an address too long for the limit (IPv6) is shortened, with a hash to keep it distinct. */
export function ruleName(p: Prefix): string {
  const name = `${NAME_PREFIX}${displayText(p)}`;
  if (name.length <= NAME_LIMIT) return name;
  const hash = createHash('sha256').update(p.key).digest('hex').slice(0, 8);
  return `${name.slice(0, NAME_LIMIT - hash.length - 1)}~${hash}`;
}

/** The lowest priorities in the range that no entry of the list uses. */
function freePriorities(
  list: Restriction[],
  [from, to]: readonly [number, number],
  count: number,
): number[] | undefined {
  const used = new Set(list.map((r) => r.priority));
  const free: number[] = [];
  for (let p = from; p <= to && free.length < count; p++) if (!used.has(p)) free.push(p);
  return free.length === count ? free : undefined;
}

/** Plans one list (main or scm); undefined entries mean "unchanged". */
function planList(
  list: Restriction[],
  target: AppServiceAccessRestrictionTarget,
  context: PlanContext,
  which: 'main' | 'scm',
): {
  list?: Restriction[];
  changes: PlannedChange[];
  removals: number;
  error?: string;
  diff: ReturnType<typeof diffMarkedEntries<Restriction>>;
} {
  const entries: Array<MarkedEntry<Restriction>> = list.map((r) => ({
    key: restrictionKey(r),
    owned: ownedBy(r),
    entry: r,
  }));
  const diff = diffMarkedEntries(entries, context, {
    adopt: target.adopt,
    onForeignMatch: 'add',
    retire: true,
  });
  const where = which === 'scm' ? ' (scm)' : '';
  const changes: PlannedChange[] = [];
  const removed = new Set(diff.remove.map((r) => r.entry.entry));
  const adopted = new Map(diff.adopt.map((a) => [a.entry, a]));
  const desired = new Map(context.desired.map((p) => [p.key, p]));
  let next = list
    .filter((r) => !removed.has(r))
    .map((r) => {
      const p = adopted.has(r) ? desired.get(restrictionKey(r)) : undefined;
      if (!p) return r;
      const name = ruleName(p);
      changes.push({
        action: 'adopt',
        before: String(r.name ?? ''),
        after: name,
        note: `access restriction${where}`,
      });
      return { ...r, name };
    });
  const priorities = freePriorities(next, target.priorityRange, diff.add.length);
  if (!priorities) {
    return {
      changes: [],
      removals: 0,
      diff,
      error: `no free priority left in priorityRange [${target.priorityRange.join(', ')}] for ${diff.add.length} new entr${diff.add.length === 1 ? 'y' : 'ies'}${where}`,
    };
  }
  diff.add.forEach((p, i) => {
    next.push({
      ipAddress: cidrText(p),
      action: 'Allow',
      tag: 'Default',
      priority: priorities[i],
      name: ruleName(p),
      description: 'managed-by=apim-ip-reconciler',
    });
    changes.push({
      action: 'add',
      before: '',
      after: cidrText(p),
      note: where ? `scm, priority ${priorities[i]}` : `priority ${priorities[i]}`,
    });
  });
  for (const { entry, since } of diff.remove) {
    const ago = formatDuration(context.now.getTime() - Date.parse(since));
    changes.push({
      action: 'remove',
      before: String(entry.entry.ipAddress),
      after: '',
      note: `${where ? 'scm, ' : ''}left the source ${ago} ago`,
    });
  }
  if (changes.length === 0) next = list;
  return { list: changes.length > 0 ? next : undefined, changes, removals: diff.remove.length, diff };
}

export function planAccessRestrictions(
  target: AppServiceAccessRestrictionTarget,
  actual: AppServiceActual,
  given: PlanContext,
): TargetPlan<AppServiceWrite> {
  // What was recorded for another site (siteId changed) says nothing about this one.
  const context = given.state?.resource === target.siteId ? given : { ...given, state: undefined };
  const main = planList(actual.main, target, context, 'main');
  // scm restrictions are touched only when configured, and not when the scm site follows the main list.
  const scm = target.scm && !actual.scmUseMain ? planList(actual.scm, target, context, 'scm') : undefined;
  const nextState = {
    resource: target.siteId,
    owned: [],
    departed: { ...main.diff.departed, ...(scm?.diff.departed ?? {}) },
  };
  const deferred = [...main.diff.deferred, ...(scm?.diff.deferred ?? [])].map((d) => ({
    entry: String(d.entry.entry.ipAddress),
    retiresAt: d.retiresAt,
    ...(d.heldBy ? { heldBy: d.heldBy } : {}),
  }));
  const error = main.error ?? scm?.error;
  if (error) throw new TargetError(error, `widen priorityRange of target ${target.name}`);
  const closes =
    !target.closeOpenSite &&
    ((actual.mainOpen === true && main.diff.add.length > 0) ||
      (actual.scmOpen === true && (scm?.diff.add.length ?? 0) > 0));
  if (closes) {
    const site = target.siteId.split('/sites/')[1] ?? target.siteId;
    const scmToo = actual.scmUseMain ? ' (and its scm site, which follows the main list)' : '';
    return blockedPlan(
      {
        reason: 'OpenSite',
        detail: `site ${site} has no access restrictions: it is open to every client, and a first Allow entry applies the implicit deny, shutting out every client but APIM${scmToo}; add your own restrictions first, or set "closeOpenSite": true on target ${target.name} to close it to all but APIM`,
      },
      { ...nextState, departed: context.state?.departed ?? {} },
      'allowlist-add',
    );
  }
  const changes = [...main.changes, ...(scm?.changes ?? [])];
  const additions = [...main.diff.add, ...(scm?.diff.add ?? [])];
  const base = { additions, removals: main.removals + (scm?.removals ?? 0), deferred, nextState };
  const write =
    main.list || scm?.list
      ? { main: main.list ?? actual.main, ...(scm?.list ? { scm: scm.list } : {}) }
      : undefined;
  return {
    ...base,
    changes,
    phase:
      additions.length > 0 || changes.some((c) => c.action === 'adopt')
        ? 'allowlist-add'
        : 'allowlist-remove',
    write,
  };
}
