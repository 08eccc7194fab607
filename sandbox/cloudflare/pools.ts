/**
 * Load Balancer pools of an account (`/accounts/{account_id}/load_balancers/pools`): list, get, PATCH (overwrites
 * the properties it names; `origins` replaces the whole array) and PUT (`name` and `origins` required, the rest
 * reset), as the `cloudflare` SDK calls them (cloudflare/cloudflare-typescript v7 `src/resources/load-balancers/
 * pools/pools.ts`: `client.loadBalancers.pools.list/get/edit/update`; the Origin fields in
 * `src/resources/load-balancers/load-balancers.ts`). Defaults and field shapes: cloudflare/api-schemas `openapi.json`
 * (`load-balancing_*`).
 *
 * - Validation errors are 400 `1002 "<what>: validation failed"` (hashicorp/terraform#17948,
 *   cloudflare-docs#2850). Checked: 1–20 origins, name and address required, weight 0–1, `header` only `Host`
 *   with at most one value, origin names and (address, port, virtual network) unique (cloudflare-docs#31583),
 *   private/reserved addresses need `virtual_network_id` (SDK Origin.address doc), pool name [A-Za-z0-9_-],
 *   `minimum_origins` a non-negative integer (cloudflare-go#1338 shows 0 is meaningful; no upper bound is
 *   documented, so a pool may be left with fewer origins than its minimum, as in production). An unknown pool is
 *   404 with an emulator-specific code.
 * - `concurrentModification` on pools.patch/put: another writer appends an origin named `concurrent-writer`
 *   just before; the request then overwrites it, the lost update the real API (no etag) allows.
 */
import type { Reply, RouteContext } from '../emulator';
import { isHostname, isReservedAddress, parseIPv4, parseIPv6 } from './addresses';
import {
  CloudflareModule,
  UNOBSERVED,
  assertId,
  badBody,
  clone,
  fail,
  isObject,
  newId,
  ok,
  pathId,
  type ApiError,
  type CloudflareRoute,
  type Grant,
  type Json,
} from './core';

export class LoadBalancerPools extends CloudflareModule {
  private readonly pools = new Map<string, Map<string, Json>>();

  routes(): CloudflareRoute[] {
    const pools = '/accounts/{account}/load_balancers/pools';
    return [
      { name: 'pools.list', method: 'GET', template: pools, handle: (c) => this.list(c) },
      {
        name: 'pools.get',
        method: 'GET',
        template: `${pools}/{pool}`,
        handle: (c) => ok(clone(this.find(c, 'read').pool)),
      },
      {
        name: 'pools.patch',
        method: 'PATCH',
        template: `${pools}/{pool}`,
        handle: (c) => this.write(c, 'patch'),
      },
      { name: 'pools.put', method: 'PUT', template: `${pools}/{pool}`, handle: (c) => this.write(c, 'put') },
    ];
  }

  // --- seeding and inspection ---------------------------------------------------------------------------

  addPool(accountId: string, pool: Record<string, unknown>): Record<string, unknown> {
    assertId(accountId, 'account id');
    const id = typeof pool.id === 'string' ? pool.id : newId();
    assertId(id, 'pool id');
    const now = this.core.now();
    const base: Json = { id, created_on: now, modified_on: now, ...poolDefaults() };
    const stored = applyPoolChanges(base, editableFields(pool), now);
    this.poolsOf(accountId).set(id, stored);
    return clone(stored);
  }

  pool(accountId: string, poolId: string): Record<string, unknown> | undefined {
    const pool = this.pools.get(accountId)?.get(poolId);
    return pool ? clone(pool) : undefined;
  }

  // --- handlers ------------------------------------------------------------------------------------------

  private poolsOf(accountId: string): Map<string, Json> {
    let pools = this.pools.get(accountId);
    if (!pools) this.pools.set(accountId, (pools = new Map()));
    return pools;
  }

  private list(ctx: RouteContext): Reply {
    const accountId = this.core.authorizeAccount(ctx, 'loadBalancers', 'read');
    const pools = [...this.poolsOf(accountId).values()].map(clone);
    return ok(pools, { page: 1, per_page: pools.length, count: pools.length, total_count: pools.length });
  }

  private find(ctx: RouteContext, access: Grant): { pools: Map<string, Json>; pool: Json } {
    const pools = this.poolsOf(this.core.authorizeAccount(ctx, 'loadBalancers', access));
    const pool = pools.get(pathId(ctx, 'pool'));
    if (!pool) throw fail(404, UNOBSERVED.poolNotFound, 'Pool not found');
    return { pools, pool };
  }

  private write(ctx: RouteContext, mode: 'patch' | 'put'): Reply {
    const { pools, pool } = this.find(ctx, 'edit');
    if (!isObject(ctx.body)) throw badBody();
    if (ctx.concurrentModification) this.interfere(pool);
    const changes = editableFields(ctx.body);
    if (mode === 'put' && (changes.name === undefined || changes.origins === undefined)) {
      throw poolInvalid('name and origins are required');
    }
    // PUT resets what it does not name; the old origins only serve to keep `disabled_at`.
    const base: Json =
      mode === 'put'
        ? { id: pool.id, created_on: pool.created_on, ...poolDefaults(), origins: pool.origins }
        : pool;
    const next = applyPoolChanges(base, changes, this.core.now());
    pools.set(String(pool.id), next);
    return ok(clone(next));
  }

  private interfere(pool: Json): void {
    const origins = Array.isArray(pool.origins) ? (pool.origins as Json[]) : [];
    const origin = {
      name: 'concurrent-writer',
      address: 'concurrent-writer.example.net',
      enabled: true,
      weight: 1,
    };
    pool.origins = [...origins.filter((o) => o.name !== origin.name), origin];
    pool.modified_on = this.core.now();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pools: defaults, validation and the stored shape

const POOL_FIELDS = [
  'name',
  'description',
  'enabled',
  'minimum_origins',
  'monitor',
  'monitor_group',
  'check_regions',
  'health_sources',
  'latitude',
  'longitude',
  'load_shedding',
  'notification_email',
  'notification_filter',
  'origin_steering',
  'networks',
  'origins',
] as const;

function poolDefaults(): Json {
  return {
    description: '',
    enabled: true,
    minimum_origins: 1,
    monitor: null,
    check_regions: null,
    load_shedding: {
      default_percent: 0,
      default_policy: 'random',
      session_percent: 0,
      session_policy: 'hash',
    },
    notification_filter: null,
    origin_steering: { policy: 'random' },
  };
}

function poolInvalid(what: string): ApiError {
  return fail(400, 1002, `${what}: validation failed`);
}

function normalizeHeader(value: unknown, where: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw poolInvalid(`${where}.header must be an object`);
  const keys = Object.keys(value);
  if (keys.some((k) => k !== 'Host')) throw poolInvalid(`${where}.header: only the Host header is supported`);
  const host = value.Host;
  if (host === undefined) return {};
  if (!Array.isArray(host) || host.some((h) => typeof h !== 'string' || h === '')) {
    throw poolInvalid(`${where}.header.Host must be an array of host names`);
  }
  if (host.length > 1) throw poolInvalid(`${where}.header.Host: at most one Host header override is allowed`);
  return { Host: [...(host as string[])] };
}

function normalizeOrigin(raw: unknown, index: number, previous: Json[], now: string): Json {
  const where = `origins[${index}]`;
  if (!isObject(raw)) throw poolInvalid(`${where} must be an object`);
  const { name, address, weight = 1, enabled = true, port, virtual_network_id: vnet } = raw;
  if (typeof name !== 'string' || name === '') throw poolInvalid(`${where}.name is required`);
  if (typeof address !== 'string' || address === '') throw poolInvalid(`${where}.address is required`);
  const isIp = parseIPv4(address) !== undefined || parseIPv6(address) !== undefined;
  if (!isIp && !isHostname(address)) {
    throw poolInvalid(`${where}.address "${address}" is not an IP address or hostname`);
  }
  if (vnet !== undefined && typeof vnet !== 'string') {
    throw poolInvalid(`${where}.virtual_network_id must be a string`);
  }
  if (isIp && isReservedAddress(address) && !vnet) {
    throw poolInvalid(
      `${where}.address ${address} is a private or reserved address; virtual_network_id must be set`,
    );
  }
  if (typeof weight !== 'number' || weight < 0 || weight > 1) {
    throw poolInvalid(`${where}.weight must be in range [0, 1]`);
  }
  if (typeof enabled !== 'boolean') throw poolInvalid(`${where}.enabled must be a boolean`);
  if (
    port !== undefined &&
    (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
  ) {
    throw poolInvalid(`${where}.port must be in range [0, 65535]`);
  }
  const origin: Json = { name, address, enabled, weight };
  const header = normalizeHeader(raw.header, where);
  if (header) origin.header = header;
  if (port !== undefined) origin.port = port;
  if (vnet) origin.virtual_network_id = vnet;
  if (typeof raw.flatten_cname === 'boolean') origin.flatten_cname = raw.flatten_cname;
  if (!enabled) {
    origin.disabled_at = previous.find((p) => p.name === name && p.disabled_at)?.disabled_at ?? now;
  }
  return origin;
}

function normalizeOrigins(value: unknown, previous: Json[], now: string): Json[] {
  if (!Array.isArray(value)) throw poolInvalid('origins must be an array');
  if (value.length < 1 || value.length > 20) {
    throw poolInvalid('the origin list length must be in range [1, 20]');
  }
  const origins = value.map((raw, i) => normalizeOrigin(raw, i, previous, now));
  const names = new Set<string>();
  const endpoints = new Set<string>();
  for (const o of origins) {
    const endpoint = `${String(o.address)}|${String(o.port ?? 0)}|${String(o.virtual_network_id ?? '')}`;
    if (names.has(String(o.name))) {
      throw poolInvalid(`origin name "${String(o.name)}" is used more than once`);
    }
    if (endpoints.has(endpoint)) {
      throw poolInvalid(`origin address ${String(o.address)} is used more than once`);
    }
    names.add(String(o.name));
    endpoints.add(endpoint);
  }
  return origins;
}

/** Applies `changes` (already restricted to editable fields) to `pool`, validating the result. */
function applyPoolChanges(pool: Json, changes: Json, now: string): Json {
  const next: Json = { ...pool, ...changes };
  if (typeof next.name !== 'string' || !/^[A-Za-z0-9_-]+$/.test(next.name)) {
    throw poolInvalid('name is required and may contain only alphanumerics, "-" and "_"');
  }
  if (next.description !== undefined && typeof next.description !== 'string') {
    throw poolInvalid('description must be a string');
  }
  if (typeof next.enabled !== 'boolean') throw poolInvalid('enabled must be a boolean');
  const min = next.minimum_origins;
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 0) {
    throw poolInvalid('minimum_origins must be a non-negative integer');
  }
  const previous = Array.isArray(pool.origins) ? (pool.origins as Json[]) : [];
  next.origins = normalizeOrigins(changes.origins ?? pool.origins, previous, now);
  next.modified_on = now;
  return next;
}

function editableFields(body: Json): Json {
  const out: Json = {};
  for (const key of POOL_FIELDS) if (body[key] !== undefined) out[key] = body[key];
  return out;
}
