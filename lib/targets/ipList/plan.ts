import { formatDuration } from '../../config/duration';
import { COMMENT_MARK, markedComment } from '../../plan/marks';
import { diffMarkedEntries, type MarkedEntry } from '../../plan/markedEntries';
import type { PlanContext, PlannedChange, TargetPlan } from '../../plan/types';
import { displayText, parsePrefix, type Prefix } from '../../net/addresses';
import type { IpListTarget } from './schema';

/**
 * `cloudflare.ipList`: the items of a Rules IP list whose comment carries our mark equal the selected
 * addresses. An allowlist: additions first (make before break), removals after retireAfter. Pure: no SDK.
 */

export interface ListItem {
  id: string;
  /** As the API stores it: `20.1.2.3`, `20.1.2.0/24`, `2001:db8::/64`. */
  ip: string;
  comment: string;
}

export interface IpListActual {
  items: ListItem[];
}

export interface ItemPost {
  ip: string;
  comment: string;
  /** The id of the foreign item this post takes over (posting an existing IP rewrites its comment). */
  adopts?: string;
}

/** One target's bulk operations: the POST (append) runs before the DELETE. */
export interface IpListWrite {
  accountId: string;
  listId: string;
  post: ItemPost[];
  delete: Array<{ id: string; ip: string }>;
}

export function ipListResource(target: Pick<IpListTarget, 'accountId' | 'listId'>): string {
  return `accounts/${target.accountId}/rules/lists/${target.listId}`;
}

export const isMarkedItem = (item: Pick<ListItem, 'comment'>): boolean =>
  item.comment.startsWith(COMMENT_MARK);

/** Narrowest prefixes an IP list accepts (Cloudflare: IPv4 /8–/32, IPv6 /12–/128). */
const LIST_MIN_LENGTH = { ipv4: 8, ipv6: 12 } as const;

export function planIpList(
  target: IpListTarget,
  actual: IpListActual,
  context: PlanContext,
): TargetPlan<IpListWrite> {
  const resource = ipListResource(target);
  const state = context.state?.resource === resource ? context.state : undefined;
  const unfit = context.desired.filter((p) => p.length < LIST_MIN_LENGTH[p.family]);
  if (unfit.length > 0) {
    return {
      changes: [],
      additions: [],
      removals: 0,
      deferred: [],
      nextState: { resource, owned: state?.owned ?? [], departed: state?.departed ?? {} },
      phase: 'allowlist-add',
      blocked: {
        reason: 'BroadPrefix',
        detail: `Cloudflare IP lists hold IPv4 /8–/32 and IPv6 /12–/128, but the source gives ${unfit.map((p) => p.key).join(', ')}; narrow the source's addresses or use another target type for target ${target.name}`,
      },
    };
  }

  const entries: Array<MarkedEntry<ListItem>> = actual.items.flatMap((item) => {
    const prefix = parsePrefix(item.ip);
    return prefix ? [{ key: prefix.key, owned: isMarkedItem(item), entry: item }] : [];
  });
  const diff = diffMarkedEntries(
    entries,
    { ...context, state },
    { adopt: target.adopt, onForeignMatch: 'satisfied', retire: true },
  );

  const changes: PlannedChange[] = [
    ...diff.adopt.map(({ entry }) => ({
      action: 'adopt' as const,
      subject: 'item',
      before: entry.ip,
      after: entry.ip,
      note: `writes the comment mark ${COMMENT_MARK}`,
    })),
    ...diff.add.map((p) => ({ action: 'add' as const, before: '', after: displayText(p) })),
    ...diff.remove.map(({ entry, since }) => ({
      action: 'remove' as const,
      before: entry.entry.ip,
      after: '',
      note: `left the source ${formatDuration(context.now.getTime() - Date.parse(since))} ago`,
    })),
  ];

  const removed = new Set(diff.remove.map((r) => r.entry.key));
  const owned = [
    ...entries.filter((e) => e.owned && !removed.has(e.key)).map((e) => e.key),
    ...diff.adopt.map((e) => e.key),
    ...diff.add.map((p: Prefix) => p.key),
  ];
  const write: IpListWrite = {
    accountId: target.accountId,
    listId: target.listId,
    post: [
      ...diff.adopt.map(({ entry }) => ({
        ip: entry.ip,
        comment: markedComment(entry.comment),
        adopts: entry.id,
      })),
      ...diff.add.map((p) => ({ ip: displayText(p), comment: COMMENT_MARK })),
    ],
    delete: diff.remove.map(({ entry }) => ({ id: entry.entry.id, ip: entry.entry.ip })),
  };

  return {
    changes,
    additions: diff.add,
    removals: diff.remove.length,
    deferred: diff.deferred.map(({ entry, retiresAt, heldBy }) => ({
      entry: entry.entry.ip,
      retiresAt,
      ...(heldBy ? { heldBy } : {}),
    })),
    nextState: { resource, owned: [...new Set(owned)], departed: diff.departed },
    phase: write.post.length > 0 ? 'allowlist-add' : 'allowlist-remove',
    write: changes.length > 0 ? write : undefined,
  };
}

/**
 * Whether a write planned from an older read is still safe on the list as it is now: no foreign item has
 * appeared at an address we would post (posting would steal it), and no item we would delete lost our mark.
 */
export function stillSafe(write: Pick<IpListWrite, 'post' | 'delete'>, items: readonly ListItem[]): boolean {
  const byKey = new Map<string, ListItem>();
  for (const item of items) {
    const key = parsePrefix(item.ip)?.key;
    if (key !== undefined) byKey.set(key, item);
  }
  const byId = new Map(items.map((i) => [i.id, i]));
  const postSafe = write.post.every((p) => {
    const key = parsePrefix(p.ip)?.key;
    const there = key === undefined ? undefined : byKey.get(key);
    return !there || isMarkedItem(there) || there.id === p.adopts;
  });
  const deleteSafe = write.delete.every((d) => {
    const there = byId.get(d.id);
    return !there || isMarkedItem(there);
  });
  return postSafe && deleteSafe;
}
