import fc from 'fast-check';
import type { AppServiceAccessRestrictionTarget } from '../../lib/targets/appServiceAccessRestriction/schema';
import type { DnsRecordsTarget } from '../../lib/targets/dnsRecords/schema';
import type { IpGroupTarget } from '../../lib/targets/ipGroup/schema';
import type { IpListTarget } from '../../lib/targets/ipList/schema';
import type { PoolOriginsTarget } from '../../lib/targets/poolOrigins/schema';
import type { SafetyConfig, TargetConfig } from '../../lib/config/schema';
import type { AllowlistWrite } from '../../lib/plan/allowlist';
import { entryKey, parsePrefix } from '../../lib/net/addresses';
import type { Observation } from '../../lib/source/observation';
import type { TargetState } from '../../lib/state/store';
import { AppServiceDriver } from '../../lib/targets/appServiceAccessRestriction/driver';
import {
  type AppServiceActual,
  type AppServiceWrite,
  type Restriction,
} from '../../lib/targets/appServiceAccessRestriction/plan';
import { IpGroupDriver } from '../../lib/targets/ipGroup/driver';
import { type IpGroupActual } from '../../lib/targets/ipGroup/plan';
import { CloudflareDnsDriver } from '../../lib/targets/common/dnsZoneDriver';
import { planDnsRecords } from '../../lib/targets/dnsRecords/plan';
import { CloudflareIpListDriver } from '../../lib/targets/ipList/driver';
import { ipListResource, type IpListWrite, type ListItem } from '../../lib/targets/ipList/plan';
import { CloudflarePoolOriginsDriver } from '../../lib/targets/poolOrigins/driver';
import {
  poolResource,
  type PoolActual,
  type PoolOrigin,
  type PoolWrite,
} from '../../lib/targets/poolOrigins/plan';
import type { DnsRecord, DnsWrite } from '../../lib/targets/common/dnsRecordSet';
import { COMMENT_MARK, OWNER_TAG } from '../../lib/plan/marks';
import { type ApplyItem, type ApplyOutcome, type TargetDriver } from '../../lib/targets/target';
import { type PlanContext, type TargetPlan } from '../../lib/plan/types';

/**
 * Property-test support: every target type's contents as plain data, what a write does to them (the model of
 * the real service's semantics, from docs/ and the emulators), in-memory drivers that plan with the REAL
 * drivers' planners, and fast-check generators that shrink to small, readable counterexamples.
 */

// ---------------------------------------------------------------------------------------------------------------
// Addresses: a small pool, so that collisions (the interesting cases) are frequent. Each entry lists the ways a
// target may spell the same address; the first is the canonical text.

export const V4_HOSTS: readonly string[][] = [
  ['20.1.1.1', '20.1.1.1/32'],
  ['20.2.2.2', '20.2.2.2/32'],
  ['20.3.3.3', '20.3.3.3/32'],
  ['40.4.4.4', '40.4.4.4/32'],
];
export const V6_HOSTS: readonly string[][] = [
  ['2603:1000::1', '2603:1000:0:0:0:0:0:1', '2603:1000::0001', '2603:1000::1/128'],
  ['2a01:111:f100::abcd', '2A01:111:F100::ABCD', '2a01:0111:f100:0000:0000:0000:0000:abcd/128'],
];
/** NAT prefixes as APIM reports outbound addresses; the second spelling has host bits set. */
export const V4_PREFIXES: readonly string[][] = [
  ['60.0.0.0/31', '60.0.0.1/31'],
  ['52.10.0.0/28', '52.10.0.7/28'],
];
export const V6_PREFIXES: readonly string[][] = [['2603:1000:4::/124', '2603:1000:4:0:0::/124']];
/** Prefixes broader than the default minPrefixLength (28 / 124), and some narrower, for the BroadPrefix guard. */
export const BROAD: readonly string[] = [
  '20.0.0.0/8',
  '20.1.0.0/16',
  '20.1.1.0/24',
  '20.1.1.0/27',
  '20.1.1.0/28',
  '20.1.1.0/30',
  '2603:1000::/32',
  '2603:1000::/64',
  '2603:1000:4::/120',
  '2603:1000:4::/126',
];

const HOSTS = [...V4_HOSTS, ...V6_HOSTS];
const ALL = [...HOSTS, ...V4_PREFIXES, ...V6_PREFIXES];

/** Entries of allowlists that are not explicit addresses: the planner must refuse to manage such lists. */
export const WILDCARDS = ['*', 'Internet', 'AzureCloud.WestEurope', 'VirtualNetwork'];
/** Explicit entries nobody gives the reconciler: a range, a private network, a documentation address. */
export const FOREIGN_ONLY = ['20.1.1.1-20.1.1.9', '10.0.0.0/8', '198.51.100.10'];

export const keyOf = (text: string): string => entryKey(text);
const spelling = (variants: readonly string[][]) =>
  fc.constantFrom(...variants).chain((v) => fc.constantFrom(...v));
const plainSpellings = (variants: readonly string[][]) =>
  variants.map((v) => v.filter((s) => !s.includes('/')));

/** A source's addresses, canonical text, de-duplicated by parseAll later as the engine does. */
export const hostsArb = fc.subarray(
  HOSTS.map((v) => v[0]!),
  { maxLength: 3 },
);
export const addressesArb = fc.subarray(
  ALL.map((v) => v[0]!),
  { maxLength: 4 },
);
export const broadAddressesArb = fc
  .tuple(fc.subarray([...BROAD], { minLength: 1, maxLength: 3 }), addressesArb)
  .map(([broad, narrow]) => [...broad, ...narrow]);

// ---------------------------------------------------------------------------------------------------------------
// Time: everything is relative to NOW, in whole minutes so that boundaries (exactly retireAfter ago) are hit.

export const NOW = new Date('2026-11-27T10:00:00.000Z');
export const MINUTE = 60_000;
export const minutesFromNow = (m: number) => new Date(NOW.getTime() + m * MINUTE).toISOString();

export const retireAfterArb = fc.constantFrom(0, 0, 30, 60, 120).map((m) => m * MINUTE);

export interface StateSeed {
  sameResource: boolean;
  owned: string[];
  /** key → minutes relative to NOW (negative: in the past). */
  departed: Array<[string, number]>;
}

/** What the state store remembers of a target: owned keys and departure times, for this resource or another. */
export const stateSeedArb: fc.Arbitrary<StateSeed | undefined> = fc.option(
  fc.record({
    sameResource: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, fc.constant(false)),
    owned: fc.subarray(ALL.map((v) => keyOf(v[0]!))),
    departed: fc.array(
      fc.tuple(fc.constantFrom(...ALL.map((v) => keyOf(v[0]!))), fc.integer({ min: -180, max: 10 })),
      { maxLength: 4 },
    ),
  }),
  { freq: 6, nil: undefined },
);

/** What the state remembers of one entry of a target: owned (allowlists), and since when it left the source. */
export interface Remembered {
  owned: boolean;
  /** Minutes relative to NOW, or null. */
  departed: number | null;
}

export const rememberedArb: fc.Arbitrary<Remembered> = fc.record({
  owned: fc.boolean(),
  departed: fc.option(fc.integer({ min: -180, max: 10 }), { nil: null, freq: 2 }),
});

/**
 * The state of a target: the seed's own keys, plus what it remembers of the entries the target holds (so that
 * owned and departed entries are actually present, the interesting case).
 */
export function stateFrom(
  seed: StateSeed | undefined,
  resource: string,
  entries: ReadonlyArray<{ key: string; memory: Remembered }> = [],
): TargetState | undefined {
  if (!seed) return undefined;
  const departed: Array<[string, number]> = [
    ...seed.departed,
    ...entries.flatMap(({ key, memory }): Array<[string, number]> =>
      memory.departed === null ? [] : [[key, memory.departed]],
    ),
  ];
  return {
    resource: seed.sameResource ? resource : `${resource}-before`,
    owned: [...new Set([...seed.owned, ...entries.filter((e) => e.memory.owned).map((e) => e.key)])],
    departed: Object.fromEntries(departed.map(([k, m]) => [k, minutesFromNow(m)])),
  };
}

export const SAFETY: SafetyConfig = {
  retireAfter: 'PT1H',
  maxRemovalsPerTarget: 4,
  runBudget: 'PT8M',
  dnsWaitForAllowlists: 'PT30S',
  minPrefixLength: { ipv4: 28, ipv6: 124 },
};

export const GATEWAY = 'contoso.azure-api.net';

export function observationOf(addresses: string[]): Observation {
  return {
    source: 'prod',
    resourceId: APIM,
    serviceName: 'contoso',
    provisioningState: 'Succeeded',
    sku: 'Premium',
    gatewayHost: GATEWAY,
    regions: [
      {
        location: 'West Europe',
        primary: true,
        gatewayDisabled: false,
        inbound: addresses,
        outbound: [],
        private: [],
      },
    ],
  };
}

export interface ClockSeed {
  retireAfterMs: number;
  holdRemovals: boolean;
}

/** holdRemovals: the engine's second plan when TooManyRemovals held the removals. */
export const clockArb: fc.Arbitrary<ClockSeed> = fc.record({
  retireAfterMs: retireAfterArb,
  holdRemovals: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
});

export function planContext(
  desired: PlanContext['desired'],
  state: TargetState | undefined,
  clock: ClockSeed,
): PlanContext {
  return {
    desired,
    observation: observationOf(desired.map((p) => p.key)),
    state,
    now: NOW,
    safety: SAFETY,
    retireAfterMs: clock.retireAfterMs,
    ...(clock.holdRemovals ? { holdRemovals: true } : {}),
  };
}

/** When an owned key that left the source may go: now or later (retireAfter after it left, not held). */
export function isDue(key: string, state: TargetState | undefined, clock: ClockSeed, retire = true): boolean {
  if (clock.holdRemovals) return false;
  if (!retire) return true;
  const since = Date.parse(state?.departed[key] ?? NOW.toISOString());
  return since + clock.retireAfterMs <= NOW.getTime();
}

// ---------------------------------------------------------------------------------------------------------------
// Resources of the targets.

export const SUB = '00000000-0000-0000-0000-0000000000c0';
export const APIM = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso`;
export const IP_GROUP = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/ipGroups/apim-egress`;
export const SITE = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/backend`;
export const ACCOUNT = 'a'.repeat(32);
export const LIST = 'b'.repeat(32);
export const POOL = 'c'.repeat(32);
export const ZONE = 'z'.repeat(32);
export const RECORD = 'api.contoso.com';

// ---------------------------------------------------------------------------------------------------------------
// Allowlist (NSG rule / IP group / firewall rule) contents.

export interface AllowlistEntrySeed {
  text: string;
  kind: 'address' | 'wildcard' | 'foreign';
  memory: Remembered;
}

export const allowlistEntryArb: fc.Arbitrary<AllowlistEntrySeed> = fc
  .record({
    memory: rememberedArb,
    entry: fc.oneof(
      { weight: 16, arbitrary: spelling(ALL).map((text) => ({ text, kind: 'address' as const })) },
      {
        weight: 3,
        arbitrary: fc.constantFrom(...FOREIGN_ONLY).map((text) => ({ text, kind: 'foreign' as const })),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...WILDCARDS).map((text) => ({ text, kind: 'wildcard' as const })),
      },
    ),
  })
  .map(({ memory, entry }) => ({ ...entry, memory }));

/** The keys a target holds with what the state remembers of each, for stateFrom. */
export const remembered = <T extends { memory: Remembered }>(seeds: T[], text: (seed: T) => string) =>
  seeds.map((seed) => ({ key: keyOf(text(seed)), memory: seed.memory }));

// ---------------------------------------------------------------------------------------------------------------
// Cloudflare DNS records at one name.

export const MARK_COMMENTS = [COMMENT_MARK, `${COMMENT_MARK} api gateway`];
export const FOREIGN_COMMENTS = ['', 'made by hand', ` ${COMMENT_MARK}`];

export interface DnsSeed {
  type: 'A' | 'AAAA' | 'CNAME' | 'TXT' | 'MX';
  content: string;
  marked: boolean;
  comment: number;
  proxied: boolean;
  ttl: number;
}

const dnsContent = (type: DnsSeed['type']): fc.Arbitrary<string> => {
  switch (type) {
    case 'A':
      return spelling(plainSpellings(V4_HOSTS));
    case 'AAAA':
      return spelling(plainSpellings(V6_HOSTS));
    case 'CNAME':
      return fc.constantFrom('contoso.azure-api.net', 'old-gateway.example.net');
    case 'TXT':
      return fc.constantFrom('"v=spf1 -all"', '"ownership-check=contoso"');
    case 'MX':
      return fc.constant('mail.contoso.com');
  }
};

export const dnsSeedArb: fc.Arbitrary<DnsSeed> = fc
  .constantFrom<DnsSeed['type']>('A', 'AAAA', 'A', 'AAAA', 'CNAME', 'TXT', 'MX')
  .chain((type) =>
    fc.record({
      type: fc.constant(type),
      content: dnsContent(type),
      marked: fc.boolean(),
      comment: fc.nat(1),
      proxied: fc.boolean(),
      ttl: fc.constantFrom(1, 300, 3600),
    }),
  );

/** Records as Cloudflare holds them: unique ids, proxied ones with automatic TTL, at most one CNAME. */
export function dnsRecordsFrom(seeds: DnsSeed[]): DnsRecord[] {
  let cname = false;
  return seeds.flatMap((s, i) => {
    if (s.type === 'CNAME' && cname) return [];
    if (s.type === 'CNAME') cname = true;
    const proxiable = s.type === 'A' || s.type === 'AAAA' || s.type === 'CNAME';
    const proxied = proxiable && s.proxied;
    return [
      {
        id: `rec${i}`,
        type: s.type,
        name: RECORD,
        content: s.content,
        proxied,
        ttl: proxied ? 1 : s.ttl,
        comment: (s.marked ? MARK_COMMENTS : FOREIGN_COMMENTS)[s.comment % 2]!,
      },
    ];
  });
}

export const dnsTargetArb = fc.record({
  adopt: fc.boolean(),
  proxied: fc.option(fc.boolean(), { nil: undefined }),
  ttl: fc.option(fc.constantFrom(1, 60, 300), { nil: undefined }),
});

export function dnsTarget(seed: { adopt: boolean; proxied?: boolean; ttl?: number }): DnsRecordsTarget {
  return {
    name: 'api-dns',
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: ZONE,
    recordName: RECORD,
    adopt: seed.adopt,
    ...(seed.proxied === undefined ? {} : { proxied: seed.proxied }),
    ...(seed.ttl === undefined ? {} : { ttl: seed.ttl }),
  };
}

/** A zone batch as Cloudflare runs it: deletes, then patches, then posts, all or nothing. */
export function applyDnsWrite(records: DnsRecord[], write: DnsWrite, ids: () => string): DnsRecord[] {
  const deleted = new Set(write.deletes.map((d) => d.id));
  const patches = new Map(write.patches.map((p) => [p.id, p]));
  const next = records
    .filter((r) => !deleted.has(r.id))
    .map((r) => {
      const patch = patches.get(r.id);
      return patch ? { ...r, ...patch } : r;
    });
  for (const post of write.posts) next.push({ id: ids(), ...post });
  return next;
}

// ---------------------------------------------------------------------------------------------------------------
// Cloudflare IP list items: one item per address (the API keeps IPs unique), spelled in any accepted way.

export interface ItemSeed {
  ip: string;
  marked: boolean;
  comment: number;
  memory: Remembered;
}

export const itemSeedArb: fc.Arbitrary<ItemSeed> = fc.record({
  ip: fc.oneof({ weight: 6, arbitrary: spelling(ALL) }, { weight: 1, arbitrary: fc.constantFrom(...BROAD) }),
  marked: fc.boolean(),
  comment: fc.nat(1),
  memory: rememberedArb,
});

export function listItemsFrom(seeds: ItemSeed[]): ListItem[] {
  const seen = new Set<string>();
  return seeds.flatMap((s, i) => {
    const key = keyOf(s.ip);
    if (seen.has(key)) return [];
    seen.add(key);
    return [
      { id: `item${i}`, ip: s.ip, comment: (s.marked ? MARK_COMMENTS : FOREIGN_COMMENTS)[s.comment % 2]! },
    ];
  });
}

export function ipListTarget(adopt: boolean): IpListTarget {
  return { name: 'waf', type: 'cloudflare.ipList', source: 'prod', accountId: ACCOUNT, listId: LIST, adopt };
}

/** Append (an IP already listed has its comment rewritten), then delete by id: Cloudflare's bulk operations. */
export function applyIpListWrite(items: ListItem[], write: IpListWrite, ids: () => string): ListItem[] {
  const next = items.map((i) => ({ ...i }));
  for (const post of write.post) {
    const existing = next.find((i) => keyOf(i.ip) === keyOf(post.ip));
    if (existing) existing.comment = post.comment;
    else next.push({ id: ids(), ip: post.ip, comment: post.comment });
  }
  const deleted = new Set(write.delete.map((d) => d.id));
  return next.filter((i) => !deleted.has(i.id));
}

// ---------------------------------------------------------------------------------------------------------------
// Cloudflare pool origins: addresses and names unique in a pool, as the API requires.

export interface OriginSeed {
  address: string;
  named: 'ours' | 'ours-stale' | 'foreign';
  enabled: boolean;
  weight: number;
  header: 'none' | 'gateway' | 'other';
}

export const originSeedArb: fc.Arbitrary<OriginSeed> = fc.record({
  address: fc.oneof(
    { weight: 6, arbitrary: spelling(plainSpellings(HOSTS)) },
    { weight: 1, arbitrary: fc.constant('backend.contoso.com') },
  ),
  named: fc.constantFrom('ours', 'ours-stale', 'foreign'),
  enabled: fc.boolean(),
  weight: fc.constantFrom(1, 0.5, 0),
  header: fc.constantFrom('none', 'gateway', 'other'),
});

export function originsFrom(seeds: OriginSeed[]): Array<Record<string, unknown>> {
  const seen = new Set<string>();
  return seeds.flatMap((s, i) => {
    const key = keyOf(s.address);
    const name =
      s.named === 'ours' ? `apim-${s.address}` : s.named === 'ours-stale' ? `apim-old-${i}` : `origin-${i}`;
    if (seen.has(key) || seen.has(name)) return [];
    seen.add(key);
    seen.add(name);
    const header =
      s.header === 'gateway'
        ? { Host: [GATEWAY] }
        : s.header === 'other'
          ? { Host: ['other.example'] }
          : undefined;
    return [
      {
        name,
        address: s.address,
        enabled: s.enabled,
        weight: s.weight,
        ...(header ? { header } : {}),
      },
    ];
  });
}

export function poolTarget(adopt: boolean): PoolOriginsTarget {
  return {
    name: 'pool',
    type: 'cloudflare.poolOrigins',
    source: 'prod',
    accountId: ACCOUNT,
    poolId: POOL,
    adopt,
  };
}

export interface PoolContent {
  minimumOrigins: number;
  origins: Array<Record<string, unknown>>;
}

/** The pool as the driver reads it (the same reading as lib/targets/cloudflarePoolOrigins.ts). */
export function poolActual(pool: PoolContent): PoolActual {
  return {
    name: 'primary',
    minimumOrigins: pool.minimumOrigins,
    origins: pool.origins.map((body): PoolOrigin => ({
      name: typeof body.name === 'string' ? body.name : '',
      address: typeof body.address === 'string' ? body.address : '',
      enabled: body.enabled !== false,
      weight: typeof body.weight === 'number' ? body.weight : 1,
      header: body.header === undefined || body.header === null ? '' : JSON.stringify(body.header),
      body,
    })),
  };
}

export const originKey = (o: Record<string, unknown>): string => {
  const address = String(o.address ?? '');
  return parsePrefix(address)?.key ?? `host:${address.trim().toLowerCase()}`;
};

// ---------------------------------------------------------------------------------------------------------------
// App Service access restrictions.

export interface RestrictionSeed {
  kind: 'address' | 'serviceTag' | 'subnet';
  ip: string;
  named: 'ours' | 'foreign' | 'none';
  action: 'Allow' | 'Deny';
  priority: number;
  memory: Remembered;
}

export const restrictionSeedArb: fc.Arbitrary<RestrictionSeed> = fc.record({
  kind: fc.constantFrom('address', 'address', 'address', 'serviceTag', 'subnet'),
  ip: spelling(ALL),
  named: fc.constantFrom('ours', 'foreign', 'none'),
  action: fc.constantFrom('Allow', 'Allow', 'Deny'),
  priority: fc.oneof(fc.integer({ min: 300, max: 303 }), fc.constantFrom(100, 200, 500)),
  memory: rememberedArb,
});

export function restrictionsFrom(seeds: RestrictionSeed[]): Restriction[] {
  return seeds.map((s, i) => {
    const name =
      s.named === 'ours' ? `apim-${s.ip.split('/')[0]}` : s.named === 'foreign' ? `rule-${i}` : undefined;
    const base = { action: s.action, priority: s.priority, ...(name ? { name } : {}) };
    switch (s.kind) {
      case 'address':
        return { ...base, ipAddress: s.ip, tag: 'Default' };
      case 'serviceTag':
        return { ...base, ipAddress: 'AzureFrontDoor.Backend', tag: 'ServiceTag' };
      case 'subnet':
        return { ...base, vnetSubnetResourceId: `${SITE}-vnet/subnets/s${i}`, tag: 'Default' };
    }
  });
}

export const appTargetArb = fc.record({
  adopt: fc.boolean(),
  scm: fc.boolean(),
  scmUseMain: fc.boolean(),
  range: fc.constantFrom<[number, number]>([300, 399], [300, 303], [300, 301]),
});

export function appTarget(seed: { adopt: boolean; scm: boolean; range: [number, number] }) {
  const target: AppServiceAccessRestrictionTarget = {
    name: 'app',
    type: 'azure.appServiceAccessRestriction',
    source: 'prod',
    siteId: SITE,
    adopt: seed.adopt,
    priorityRange: seed.range,
    scm: seed.scm,
    closeOpenSite: false,
  };
  return target;
}

export const restrictionKey = (r: Restriction): string => entryKey(String(r.ipAddress ?? ''));
export const isOursRestriction = (r: Restriction): boolean =>
  typeof r.name === 'string' && r.name.startsWith('apim-');

// ---------------------------------------------------------------------------------------------------------------
// The real drivers, for their (pure) planners. Their clients are never used by plan().

export const drivers = {
  ipGroup: new IpGroupDriver(
    () => {
      throw new Error('in-memory: no client');
    },
    { pollIntervalMs: 0, maxWaitMs: 0 },
  ),
  dns: new CloudflareDnsDriver(undefined as never).serve<DnsRecordsTarget>('cloudflare.dnsRecords', {
    plan: planDnsRecords,
    needsAddresses: true,
  }),
  ipList: new CloudflareIpListDriver(undefined as never, { pollIntervalMs: 0, timeoutMs: 0 }),
  pool: new CloudflarePoolOriginsDriver(undefined as never),
  app: new AppServiceDriver(undefined as never),
};

// ---------------------------------------------------------------------------------------------------------------
// The modelled world: every target's contents, and in-memory drivers over it that plan with the real planners.

export interface IpGroupContent {
  tags: Record<string, string>;
  ipAddresses: string[];
}

export interface Contents {
  ipGroup: IpGroupContent;
  dns: DnsRecord[];
  ipList: ListItem[];
  pool: PoolContent;
  app: AppServiceActual;
}

export interface Journal {
  writes: string[];
  /** Targets whose read fails, by name. */
  failingReads: Set<string>;
}

let idSeq = 0;
const newId = () => `new${++idSeq}`;

abstract class MemoryDriver<T extends TargetConfig, A, W> implements TargetDriver<T, A, W> {
  abstract readonly type: T['type'];
  constructor(
    protected readonly contents: Contents,
    protected readonly journal: Journal,
    private readonly real: TargetDriver<T, A, W>,
  ) {}
  resource(target: T): string {
    return this.real.resource(target);
  }
  needsAddresses(target: T): boolean {
    return this.real.needsAddresses?.(target) ?? true;
  }
  async read(target: T): Promise<A> {
    if (this.journal.failingReads.has(target.name)) {
      throw Object.assign(new Error('The client does not have authorization'), {
        statusCode: 403,
        code: 'AuthorizationFailed',
      });
    }
    return structuredClone(this.actual());
  }
  plan(target: T, actual: A, context: PlanContext): TargetPlan<W> {
    return this.real.plan(target, actual, context);
  }
  async apply(items: ApplyItem<T, A, W>[]): Promise<ApplyOutcome[]> {
    return items.map(({ target, plan }) => {
      this.journal.writes.push(`${plan.phase}:${target.name}`);
      this.write(plan.write!);
      return { status: 'applied' };
    });
  }
  protected abstract actual(): A;
  protected abstract write(write: W): void;
}

class MemoryIpGroup extends MemoryDriver<IpGroupTarget, IpGroupActual, AllowlistWrite> {
  readonly type = 'azure.ipGroup' as const;
  protected actual(): IpGroupActual {
    const { tags, ipAddresses } = this.contents.ipGroup;
    return { group: { location: 'westeurope', etag: 'W/"1"', tags, ipAddresses } };
  }
  protected write(write: AllowlistWrite): void {
    const group = this.contents.ipGroup;
    group.ipAddresses = [...write.entries];
    if (write.mark) group.tags = { ...group.tags, [OWNER_TAG.name]: OWNER_TAG.value };
  }
}

class MemoryDns extends MemoryDriver<DnsRecordsTarget, { records: DnsRecord[] }, DnsWrite> {
  readonly type = 'cloudflare.dnsRecords' as const;
  protected actual() {
    return { records: this.contents.dns };
  }
  protected write(write: DnsWrite): void {
    this.contents.dns = applyDnsWrite(this.contents.dns, write, newId);
  }
}

class MemoryIpList extends MemoryDriver<IpListTarget, { items: ListItem[] }, IpListWrite> {
  readonly type = 'cloudflare.ipList' as const;
  protected actual() {
    return { items: this.contents.ipList };
  }
  protected write(write: IpListWrite): void {
    this.contents.ipList = applyIpListWrite(this.contents.ipList, write, newId);
  }
}

class MemoryPool extends MemoryDriver<PoolOriginsTarget, PoolActual, PoolWrite> {
  readonly type = 'cloudflare.poolOrigins' as const;
  protected actual() {
    return poolActual(this.contents.pool);
  }
  protected write(write: PoolWrite): void {
    this.contents.pool.origins = structuredClone(write.origins);
  }
}

class MemoryApp extends MemoryDriver<AppServiceAccessRestrictionTarget, AppServiceActual, AppServiceWrite> {
  readonly type = 'azure.appServiceAccessRestriction' as const;
  protected actual() {
    return this.contents.app;
  }
  protected write(write: AppServiceWrite): void {
    this.contents.app.main = structuredClone(write.main);
    if (write.scm) this.contents.app.scm = structuredClone(write.scm);
  }
}

/** In-memory drivers of every type the world models, over `contents`. */
export function memoryDrivers(contents: Contents, journal: Journal) {
  return {
    'azure.ipGroup': new MemoryIpGroup(contents, journal, drivers.ipGroup),
    'cloudflare.dnsRecords': new MemoryDns(contents, journal, drivers.dns as never),
    'cloudflare.ipList': new MemoryIpList(contents, journal, drivers.ipList),
    'cloudflare.poolOrigins': new MemoryPool(contents, journal, drivers.pool),
    'azure.appServiceAccessRestriction': new MemoryApp(contents, journal, drivers.app),
  };
}

export const RESOURCES = {
  egress: IP_GROUP,
  'api-dns': RECORD,
  waf: ipListResource({ accountId: ACCOUNT, listId: LIST }),
  pool: poolResource({ accountId: ACCOUNT, poolId: POOL }),
  app: SITE,
} as const;

export type TargetName = keyof typeof RESOURCES;
