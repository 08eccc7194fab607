import { diffMarkedEntries, type MarkedEntry } from '../../plan/markedEntries';
import type { PlanContext, PlannedChange, TargetPlan } from '../../plan/types';
import { displayText, isHost, parsePrefix, type Prefix } from '../../net/addresses';
import type { PoolOriginsTarget } from './schema';

/**
 * `cloudflare.poolOrigins`: the origins of a Load Balancer pool named `apim-<ip>` equal the selected IPs.
 * Origins follow the source at once, like DNS. Every other origin, its weight and place, and every other
 * setting of the pool stay as they are. Pure: no SDK.
 */

export const ORIGIN_PREFIX = 'apim-';

export interface PoolOrigin {
  name: string;
  address: string;
  enabled: boolean;
  weight: number;
  /** The JSON of `header` as read ('' when absent), to compare with the one we want. */
  header: string;
  /** The origin as read, every field kept, so the full-array PATCH leaves what we do not own as it was. */
  body: Record<string, unknown>;
}

export interface PoolActual {
  name: string;
  minimumOrigins: number;
  origins: PoolOrigin[];
}

export interface PoolWrite {
  accountId: string;
  poolId: string;
  /** The whole origins array, as PATCH replaces it. */
  origins: Array<Record<string, unknown>>;
}

export function poolResource(target: Pick<PoolOriginsTarget, 'accountId' | 'poolId'>): string {
  return `accounts/${target.accountId}/load_balancers/pools/${target.poolId}`;
}

export const originName = (p: Prefix): string => `${ORIGIN_PREFIX}${displayText(p)}`;

/** Read-only fields the API sets itself; they are not sent back. */
function writable(body: Record<string, unknown>): Record<string, unknown> {
  const { disabled_at: _disabledAt, ...rest } = body;
  return rest;
}

function originKey(address: string): string {
  return parsePrefix(address)?.key ?? `host:${address.trim().toLowerCase()}`;
}

const settingsOf = (o: { name: string; enabled: boolean; header: string }): string =>
  `${o.name}, ${o.enabled ? 'enabled' : 'disabled'}, header ${o.header || 'none'}`;

export function planPoolOrigins(
  target: PoolOriginsTarget,
  actual: PoolActual,
  context: PlanContext,
): TargetPlan<PoolWrite> {
  const resource = poolResource(target);
  const base = {
    changes: [],
    additions: [],
    removals: 0,
    deferred: [],
    nextState: { resource, owned: [], departed: {} },
    phase: 'dns' as const,
  };
  const prefixes = context.desired.filter((p) => !isHost(p));
  if (prefixes.length > 0) {
    return {
      ...base,
      blocked: {
        reason: 'BroadPrefix',
        detail: `pool origins hold single addresses but the source gives ${prefixes.map((p) => p.key).join(', ')}; select "inbound" addresses for target ${target.name}`,
      },
    };
  }
  const host = target.hostHeader ?? context.observation.gatewayHost;
  if (!host) {
    return {
      ...base,
      blocked: {
        reason: 'EmptySource',
        detail: `${context.observation.serviceName} reports no gateway host (gatewayUrl) for the origins' Host header; set "hostHeader" on target ${target.name}`,
      },
    };
  }
  const hostHeader = { Host: [host] };
  const wantedHeader = JSON.stringify(hostHeader);

  const state = context.state?.resource === resource ? context.state : undefined;
  const entries: Array<MarkedEntry<PoolOrigin>> = actual.origins.map((o) => ({
    key: originKey(o.address),
    owned: o.name.startsWith(ORIGIN_PREFIX),
    entry: o,
  }));
  const diff = diffMarkedEntries(
    entries,
    { ...context, state },
    { adopt: target.adopt, onForeignMatch: 'conflict', retire: false },
  );
  if (diff.conflicts.length > 0) {
    const list = diff.conflicts.map((c) => `"${c.entry.name}" (${c.entry.address})`).join(', ');
    return {
      ...base,
      blocked: {
        reason: 'NotOwned',
        detail: `pool ${actual.name} has origin ${list} at an address the source gives, without the "${ORIGIN_PREFIX}" name prefix, and Cloudflare refuses two origins at one address; set "adopt": true on target ${target.name} to rename it ${ORIGIN_PREFIX}<ip> and manage it, or remove that origin`,
      },
    };
  }

  const desired = new Map(context.desired.map((p) => [p.key, p]));
  const removed = new Set(diff.remove.map((r) => r.entry.entry));
  const adopted = new Set(diff.adopt.map((e) => e.entry));
  const changes: PlannedChange[] = [];
  const origins: Array<Record<string, unknown>> = [];
  const owned: string[] = [];
  const ours = (o: PoolOrigin, p: Prefix) => ({
    ...writable(o.body),
    name: originName(p),
    address: o.address,
    enabled: true,
    weight: o.weight,
    header: hostHeader,
  });

  for (const e of entries) {
    const o = e.entry;
    const p = desired.get(e.key);
    if (removed.has(o)) {
      changes.push({ action: 'remove', before: o.address, after: '', note: `origin ${o.name}` });
    } else if (p && adopted.has(o)) {
      origins.push(ours(o, p));
      owned.push(e.key);
      changes.push({
        action: 'adopt',
        subject: `origin ${o.name}`,
        before: o.address,
        after: o.address,
        note: `renamed ${originName(p)}, Host ${host}`,
      });
    } else if (p && e.owned) {
      const next = ours(o, p);
      origins.push(next);
      owned.push(e.key);
      if (o.name !== next.name || !o.enabled || o.header !== wantedHeader) {
        changes.push({
          action: 'update',
          subject: `origin ${o.address}`,
          before: settingsOf(o),
          after: settingsOf({ name: next.name, enabled: true, header: wantedHeader }),
        });
      }
    } else {
      origins.push(writable(o.body));
      if (e.owned) owned.push(e.key);
    }
  }
  for (const p of diff.add) {
    origins.push({
      name: originName(p),
      address: displayText(p),
      enabled: true,
      weight: 1,
      header: hostHeader,
    });
    owned.push(p.key);
    changes.push({
      action: 'add',
      before: '',
      after: displayText(p),
      note: `origin ${originName(p)}, Host ${host}`,
    });
  }

  const plan: TargetPlan<PoolWrite> = {
    changes,
    additions: diff.add,
    removals: diff.remove.length,
    deferred: diff.deferred.map(({ entry, retiresAt, heldBy }) => ({
      entry: `${entry.entry.name} (${entry.entry.address})`,
      retiresAt,
      ...(heldBy ? { heldBy } : {}),
    })),
    nextState: { resource, owned: [...new Set(owned)], departed: diff.departed },
    phase: 'dns',
    write: changes.length > 0 ? { accountId: target.accountId, poolId: target.poolId, origins } : undefined,
  };

  const enabled = origins.filter((o) => o.enabled !== false).length;
  if (diff.remove.length > 0 && enabled < actual.minimumOrigins) {
    // Coded TooManyRemovals so the engine still sends the additions (it re-plans with holdRemovals); the
    // block is the plan's own, so --force does not lift it.
    return {
      ...plan,
      write: undefined,
      blocked: {
        reason: 'TooManyRemovals',
        detail: `removing ${diff.remove.map((r) => r.entry.entry.name).join(', ')} would leave ${enabled} enabled ${enabled === 1 ? 'origin' : 'origins'} in pool ${actual.name}, below its minimum_origins (${actual.minimumOrigins}); the removals are held (--force does not lift this): lower minimum_origins or add enabled origins to the pool`,
      },
    };
  }
  return plan;
}
