import type { AppServiceAccessRestrictionTarget } from '../config/schema';
import { diffMarkedEntries, type MarkedEntry } from '../engine/plan';
import { cidrText, entryKey } from '../net/addresses';
import type { ArmRestClient } from '../azure/armRest';
import { formatDuration } from '../config/duration';
import { isNotFound, readError, writeOutcome } from './azureCommon';
import {
  TargetError,
  type ApplyItem,
  type ApplyOutcome,
  type PlanContext,
  type PlannedChange,
  type TargetDriver,
  type TargetPlan,
} from './target';

/**
 * `azure.appServiceAccessRestriction`: the `ipSecurityRestrictions` entries named `apim-<ip>` of a web app (or
 * slot) equal the selected addresses; every other entry, and its priority, stays as it is. The whole list is
 * written back (read-modify-write of `config/web`), with the implicit "Allow all"/"Deny all" entry left out.
 * The resource has no etag, so the list is read again just before the write and any change is a lost race.
 */

export const API_VERSION = '2024-11-01';
export const NAME_PREFIX = 'apim-';

export type Restriction = Record<string, unknown>;

export interface AppServiceActual {
  main: Restriction[];
  scm: Restriction[];
  scmUseMain: boolean;
}

export interface AppServiceWrite {
  main: Restriction[];
  scm?: Restriction[];
}

/** The entry App Service shows when a list has no rules of its own ("Allow all" / "Deny all"). */
const isImplicit = (r: Restriction) => String(r.ipAddress ?? '').toLowerCase() === 'any';

const ownedBy = (r: Restriction) => typeof r.name === 'string' && r.name.startsWith(NAME_PREFIX);

function configPath(siteId: string): string {
  return `${siteId.replace(/\/+$/, '')}/config/web`;
}

function restrictions(value: unknown): Restriction[] {
  return Array.isArray(value)
    ? value.filter(
        (r): r is Restriction => typeof r === 'object' && r !== null && !isImplicit(r as Restriction),
      )
    : [];
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
    key: entryKey(String(r.ipAddress ?? '')),
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
  let next = list
    .filter((r) => !removed.has(r))
    .map((r) => {
      if (!adopted.has(r)) return r;
      changes.push({
        action: 'adopt',
        before: String(r.name ?? ''),
        after: `${NAME_PREFIX}${r.ipAddress}`,
        note: `access restriction${where}`,
      });
      return { ...r, name: `${NAME_PREFIX}${String(r.ipAddress).replace(/\/(32|128)$/, '')}` };
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
      name: `${NAME_PREFIX}${p.address}`,
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

export class AppServiceDriver implements TargetDriver<
  AppServiceAccessRestrictionTarget,
  AppServiceActual,
  AppServiceWrite
> {
  readonly type = 'azure.appServiceAccessRestriction' as const;

  constructor(private readonly client: ArmRestClient) {}

  resource(target: AppServiceAccessRestrictionTarget): string {
    return target.siteId;
  }

  async read(target: AppServiceAccessRestrictionTarget): Promise<AppServiceActual> {
    try {
      const { body } = await this.client.send('GET', configPath(target.siteId), { apiVersion: API_VERSION });
      const properties = ((body as Record<string, unknown> | undefined)?.properties ?? {}) as Record<
        string,
        unknown
      >;
      return {
        main: restrictions(properties.ipSecurityRestrictions),
        scm: restrictions(properties.scmIpSecurityRestrictions),
        scmUseMain: properties.scmIpSecurityRestrictionsUseMain === true,
      };
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `web app ${target.siteId.split('/sites/')[1]} not found`,
          `check siteId of target ${target.name}`,
        );
      }
      throw readError(error, `the access restrictions of ${target.siteId.split('/sites/')[1]}`);
    }
  }

  plan(
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

  async apply(
    items: ApplyItem<AppServiceAccessRestrictionTarget, AppServiceActual, AppServiceWrite>[],
  ): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(async ({ target, actual, plan }): Promise<ApplyOutcome> => {
        try {
          // No etag on config/web: a change since our read would be silently overwritten, so look once more.
          const now = await this.read(target);
          if (JSON.stringify(now) !== JSON.stringify(actual)) {
            return { status: 'lost-race', error: 'the access restrictions changed since they were read' };
          }
          const write = plan.write!;
          await this.client.send('PUT', configPath(target.siteId), {
            apiVersion: API_VERSION,
            body: {
              properties: {
                ipSecurityRestrictions: write.main,
                ...(write.scm ? { scmIpSecurityRestrictions: write.scm } : {}),
              },
            },
          });
          return { status: 'applied' };
        } catch (error) {
          return writeOutcome(error);
        }
      }),
    );
  }
}
