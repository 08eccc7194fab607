/**
 * DNS records of a zone (`/zones/{zone_id}/dns_records`): list, get, create, patch, overwrite, delete, and the
 * atomic `/batch`, as the `cloudflare` SDK calls them (cloudflare/cloudflare-typescript v7 `src/resources/dns/
 * records.ts`: `client.dns.records.list/get/create/edit/update/delete/batch`).
 *
 * Sources: the SDK (records.ts and its doc comments; `src/core/pagination.ts`), the API schemas
 * (cloudflare/api-schemas `openapi.json`: `dns-records_*`), the docs (cloudflare/cloudflare-docs `dns/manage-dns-records/
 * how-to/batch-record-changes.mdx`, `…/troubleshooting/records-with-same-name.mdx`, `…/reference/ttl.mdx`,
 * `…/reference/record-attributes.mdx`, `src/content/plans/index.json`) and error bodies quoted in public issues.
 * Where those are silent, this is what was chosen and why:
 *
 * - A name is normalized to a lower-case FQDN: `@` is the apex, one trailing dot is dropped, and a name that
 *   does not end in the zone name is RELATIVE: the zone is appended (`www` → `www.example.com`,
 *   `api.other.net` → `api.other.net.example.com`). The brief asked for an error on names outside the zone,
 *   but the real API appends the zone instead (NewFuture/DDNS#21, michaelkourlas/node-cloudflare-dynamic-dns#7,
 *   joshuaavalon/docker-cloudflare#55), so a client that sends a name from another zone gets the same
 *   silently-wrong record here as in production. Unicode names are stored in punycode.
 * - Content: A must be a dotted-quad IPv4 (400 9005 "Content for A record must be a valid IPv4 address.",
 *   timothymiller/cloudflare-ddns#230), AAAA an IPv6 (400 9006 "…valid IPv6 address.", stored compressed and
 *   lower-case), CNAME a hostname (400 9007 "Content for CNAME record is invalid."). Types emulated: A, AAAA,
 *   CNAME, TXT, MX (MX needs `priority`); other types answer 400 with an emulator-specific code.
 * - TTL: 1 or 60–86400 (30 on Enterprise), else 400 1004 "DNS Validation Error" + error_chain 9021 (observed
 *   timothymiller/cloudflare-ddns#179). A proxied record is stored with ttl 1 whatever was sent (docs ttl.mdx:
 *   proxied TTL is always Auto), so a client that writes ttl 300 on a proxied record sees drift on read-back.
 * - Comment: Free 100 chars, paid 500 → 1004 + 9313 "DNS record comment exceeds the maximum length of N
 *   characters." (STRRL/cloudflare-tunnel-ingress-controller#139). Tags on Free → 1004 + 9300 "DNS record has
 *   N tags, exceeding the quota of 0." (external-dns#3706). Non-boolean `proxied` → 400 9003. Limits per plan:
 *   docs plans/index.json `dns.record_comments` / `dns.record_tags`.
 * - `comment` is omitted when there is none, `tags` is always an array, `comment_modified_on` /
 *   `tags_modified_on` are omitted when there is no comment / tag (SDK RecordResponse doc comments).
 * - Same name: A/AAAA cannot share a name with a CNAME, several A/AAAA may (round robin) (docs
 *   records-with-same-name.mdx). An identical record is 400 81058 "An identical record already exists."
 *   (jeessy2/ddns-go#1378); an A/AAAA where a CNAME is, 400 81054 (favonia/cloudflare-ddns#990); a CNAME where an
 *   A/AAAA/CNAME is, 400 81053 (HermanMartinus/bearblog#105). An unknown record id is 81044 "Record does not
 *   exist." (zanjie1999/cloudflare-api-v4-ddns#5; the 404 status is inferred).
 * - Records per zone: Free 200 (zones created on or after 2024-09-01; older Free zones 1,000: seed `recordQuota`), paid
 *   3,500 (plans/index.json `dns.record_management`) → 400 81045 "Record quota
 *   exceeded." (js-org/js.org#2873).
 * - List: the SDK sends dotted query keys (`name.exact=`, `tag.present=`) and auto-paginates until a page whose
 *   `result` is `[]`, ignoring total_pages (SDK `src/core/pagination.ts`), so a page past the end answers `[]`.
 *   Unknown query keys are ignored; `type` and `proxied` take part in `match=any` like the other filters; tag
 *   filters are combined by `tag_match` first; all filters are case-insensitive. Default order is type, name,
 *   content (then creation), ascending. `per_page` 1–5,000,000 (api-schemas); `result_info.total_pages` is at
 *   least 1 (as observed in joshuaavalon/docker-cloudflare#76).
 * - Batch (docs batch-record-changes.mdx; SDK records.ts `batch`): deletes → patches → puts → posts, in one
 *   transaction. Every failure (incl. an unknown id, 81044) answers HTTP 400 with the first error, nothing applied.
 *   Operations count towards the per-batch limit (Free 200, paid 3,500) across all four arrays.
 * - Zone details (`GET /zones/{zone_id}`, SDK `src/resources/zones/zones.ts` `client.zones.get`, interface Zone):
 *   id, name, status, paused, type, name_servers, account, owner, meta, created/modified/activated_on and `plan`
 *   ({id, name, price, currency, frequency, is_subscribed, can_subscribe, legacy_id, legacy_discount,
 *   externally_managed}; legacy_id free|pro|business|enterprise, names "Free Website"… as the dashboard shows them).
 *   Any grant on the zone may read it (certbot-dns-cloudflare documents DNS:Edit alone as enough to look zones up;
 *   whether a DNS-only token may GET the zone itself is not documented: the lenient reading, so a client must not
 *   depend on it either — treat a refused zone read as "plan unknown").
 * - A fault with `concurrentModification` on the batch route makes "another writer" delete the first record the
 *   batch references (→ 81044), or, for a posts-only batch, create the first posted record first (→ 81058). On a
 *   single POST it creates the same record first (→ 81058); on PATCH/PUT/DELETE it deletes the target record first
 *   (→ 404 81044).
 */
import { domainToASCII } from 'node:url';
import type { Reply, RouteContext } from '../emulator';
import { formatIPv6, isHostname, parseIPv4, parseIPv6 } from './addresses';
import {
  ApiError,
  CloudflareModule,
  UNOBSERVED,
  assertId,
  badBody,
  clone,
  couldNotRoute,
  fail,
  intParam,
  isObject,
  newId,
  ok,
  pathId,
  type CloudflareRoute,
  type Grant,
  type Json,
} from './core';

export type Plan = 'free' | 'pro' | 'business' | 'enterprise';

const EMULATED_TYPES = new Set(['A', 'AAAA', 'CNAME', 'TXT', 'MX']);
/** Types the real API accepts that this emulator does not model. */
const OTHER_TYPES = new Set(
  'CAA CERT DNSKEY DS HTTPS LOC NAPTR NS OPENPGPKEY PTR SMIMEA SRV SSHFP SVCB TLSA URI'.split(' '),
);
const PROXIABLE = new Set(['A', 'AAAA', 'CNAME']);

function dnsValidation(code: number, message: string): ApiError {
  return fail(400, 1004, 'DNS Validation Error', [{ code, message }]);
}

// ---------------------------------------------------------------------------------------------------------
// The module

export class DnsRecords extends CloudflareModule {
  private readonly zones = new Map<string, ZoneState>();

  routes(): CloudflareRoute[] {
    const records = '/zones/{zone}/dns_records';
    return [
      { name: 'zones.get', method: 'GET', template: '/zones/{zone}', handle: (c) => this.getZone(c) },
      { name: 'dnsRecords.list', method: 'GET', template: records, handle: (c) => this.list(c) },
      {
        name: 'dnsRecords.create',
        method: 'POST',
        template: records,
        handle: (c) => this.write(c, (tx) => tx.create(c.body)),
      },
      {
        name: 'dnsRecords.batch',
        method: 'POST',
        template: `${records}/batch`,
        handle: (c) => this.batch(c),
      },
      { name: 'dnsRecords.get', method: 'GET', template: `${records}/{id}`, handle: (c) => this.get(c) },
      {
        name: 'dnsRecords.patch',
        method: 'PATCH',
        template: `${records}/{id}`,
        handle: (c) => this.write(c, (tx) => tx.patch(c.params.id, c.body)),
      },
      {
        name: 'dnsRecords.put',
        method: 'PUT',
        template: `${records}/{id}`,
        handle: (c) => this.write(c, (tx) => tx.put(c.params.id, c.body)),
      },
      {
        name: 'dnsRecords.delete',
        method: 'DELETE',
        template: `${records}/{id}`,
        handle: (c) => this.delete(c),
      },
    ];
  }

  // --- seeding and inspection ---------------------------------------------------------------------------

  addZone(zone: { id: string; name: string; plan?: Plan; accountId?: string; recordQuota?: number }): void {
    assertId(zone.id, 'zone id');
    if (zone.accountId !== undefined) assertId(zone.accountId, 'account id');
    const name = zone.name.toLowerCase().replace(/\.$/, '');
    this.zones.set(zone.id, {
      id: zone.id,
      name,
      plan: zone.plan ?? 'free',
      accountId: zone.accountId,
      ...(zone.recordQuota !== undefined ? { recordQuota: zone.recordQuota } : {}),
      records: new Map(),
    });
  }

  addRecord(
    zoneId: string,
    record: {
      type: string;
      name: string;
      content: string;
      proxied?: boolean;
      ttl?: number;
      comment?: string;
      tags?: string[];
      priority?: number;
    },
  ): Record<string, unknown> {
    const zone = this.zones.get(zoneId);
    if (!zone) throw new Error(`no zone ${zoneId}; call addZone first`);
    const tx = this.transaction(zone);
    const created = tx.create(record);
    tx.commit();
    return recordToApi(created);
  }

  records(zoneId: string, filter: { name?: string; type?: string } = {}): Array<Record<string, unknown>> {
    const zone = this.zones.get(zoneId);
    if (!zone) return [];
    const name = filter.name === undefined ? undefined : normalizeName(zone.name, filter.name);
    return [...zone.records.values()]
      .filter((r) => name === undefined || r.name === name)
      .filter((r) => filter.type === undefined || r.type === filter.type.toUpperCase())
      .sort((a, b) => a.seq - b.seq)
      .map(recordToApi);
  }

  // --- handlers ------------------------------------------------------------------------------------------

  private zoneFor(ctx: RouteContext, access: Grant): ZoneState {
    const zone = this.zones.get(this.core.authorizeZone(ctx, access));
    if (!zone) throw couldNotRoute(ctx.url.pathname);
    return zone;
  }

  private getZone(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'read');
    const created = '2014-01-01T05:20:00.12345Z';
    const title = `${zone.plan[0]!.toUpperCase()}${zone.plan.slice(1)} Website`;
    return ok({
      id: zone.id,
      account: { id: zone.accountId ?? '023e105f4ecef8ad9ca31a8372d0c353', name: 'Example Account Name' },
      activated_on: created,
      created_on: created,
      development_mode: 0,
      meta: {
        cdn_only: false,
        custom_certificate_quota: 0,
        dns_only: false,
        foundation_dns: false,
        page_rule_quota: 3,
        phishing_detected: false,
        step: 2,
      },
      modified_on: created,
      name: zone.name,
      name_servers: ['bob.ns.cloudflare.com', 'lola.ns.cloudflare.com'],
      original_dnshost: null,
      original_name_servers: null,
      original_registrar: null,
      owner: { id: null, name: null, type: 'user' },
      plan: {
        id: `${zone.plan}-plan-id`,
        can_subscribe: false,
        currency: 'USD',
        externally_managed: false,
        frequency: zone.plan === 'free' ? '' : 'monthly',
        is_subscribed: true,
        legacy_discount: false,
        legacy_id: zone.plan,
        name: title,
        price: 0,
      },
      paused: false,
      status: 'active',
      type: 'full',
    });
  }

  private transaction(zone: ZoneState): RecordTransaction {
    return new RecordTransaction(zone, () => this.core.nextSeq(), this.core.now());
  }

  private list(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'read');
    const q = ctx.url.searchParams;
    const page = intParam(q, 'page', 1, Number.MAX_SAFE_INTEGER);
    const perPage = intParam(q, 'per_page', 100, 5_000_000);
    const matching = [...zone.records.values()].filter(recordFilter(q)).sort(recordSorter(q));
    const slice = matching.slice((page - 1) * perPage, page * perPage);
    return ok(slice.map(recordToApi), {
      page,
      per_page: perPage,
      count: slice.length,
      total_count: matching.length,
      total_pages: Math.max(1, Math.ceil(matching.length / perPage)),
    });
  }

  private get(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'read');
    const id = pathId(ctx, 'id');
    const record = zone.records.get(id);
    if (!record) throw fail(404, 81044, 'Record does not exist.');
    return ok(recordToApi(record));
  }

  private write(ctx: RouteContext, change: (tx: RecordTransaction) => DnsRecord): Reply {
    const zone = this.zoneFor(ctx, 'edit');
    if (ctx.method === 'POST') {
      if (ctx.concurrentModification) this.preempt(zone, ctx.body);
    } else {
      const id = pathId(ctx, 'id');
      if (ctx.concurrentModification) zone.records.delete(id);
    }
    const tx = this.transaction(zone);
    const record = change(tx);
    tx.commit();
    return ok(recordToApi(record));
  }

  private delete(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'edit');
    const id = pathId(ctx, 'id');
    if (ctx.concurrentModification) zone.records.delete(id);
    const tx = this.transaction(zone);
    tx.delete(id);
    tx.commit();
    return ok({ id });
  }

  private batch(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'edit');
    const batch = readBatch(ctx.body);
    const size = batch.deletes.length + batch.patches.length + batch.puts.length + batch.posts.length;
    const limit = zone.plan === 'free' ? 200 : 3500;
    if (size > limit) {
      throw fail(
        400,
        UNOBSERVED.batchSize,
        `A batch may hold at most ${limit} operations on this plan; got ${size}.`,
      );
    }
    if (ctx.concurrentModification) this.interfereWithBatch(zone, batch);
    const tx = this.transaction(zone);
    try {
      const deletes = batch.deletes.map((d) => recordToApi(tx.delete(idOf(d))));
      const patches = batch.patches.map((p) => recordToApi(tx.patch(idOf(p), p)));
      const puts = batch.puts.map((p) => recordToApi(tx.put(idOf(p), p)));
      const posts = batch.posts.map((p) => recordToApi(tx.create(p)));
      tx.commit();
      return ok({ deletes, patches, puts, posts });
    } catch (error) {
      if (error instanceof ApiError) throw new ApiError(400, error.errors);
      throw error;
    }
  }

  /** Another writer commits just before the batch: deletes a record it references, or posts its first post. */
  private interfereWithBatch(zone: ZoneState, batch: BatchBody): void {
    const referenced = [...batch.deletes, ...batch.patches, ...batch.puts]
      .map(idOf)
      .find((id): id is string => typeof id === 'string' && zone.records.has(id));
    if (referenced) {
      zone.records.delete(referenced);
      return;
    }
    if (batch.posts.length > 0) this.preempt(zone, batch.posts[0]);
  }

  /** Another writer creates the record `body` describes just before this request does. */
  private preempt(zone: ZoneState, body: unknown): void {
    const tx = this.transaction(zone);
    try {
      tx.create(body);
      tx.commit();
    } catch {
      // The body is invalid on its own; the request will fail on it anyway.
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Records: validation, the wire shape and transactions

interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  proxied: boolean;
  ttl: number;
  comment?: string;
  tags: string[];
  settings: Json;
  priority?: number;
  created_on: string;
  modified_on: string;
  comment_modified_on?: string;
  tags_modified_on?: string;
  /** Creation order, for stable sorting; not part of the API shape. */
  seq: number;
}

/** What a request body may set on a record; `undefined` = not given, `comment: null` = clear it. */
interface RecordDraft {
  type?: unknown;
  name?: unknown;
  content?: unknown;
  ttl?: unknown;
  proxied?: unknown;
  comment?: unknown;
  tags?: unknown;
  settings?: unknown;
  priority?: unknown;
}

interface ZoneState {
  id: string;
  name: string;
  plan: Plan;
  accountId?: string;
  /** Records the zone may hold, when not the plan's (an older Free zone: 1,000). */
  recordQuota?: number;
  records: Map<string, DnsRecord>;
}

const DRAFT_KEYS = [
  'type',
  'name',
  'content',
  'ttl',
  'proxied',
  'comment',
  'tags',
  'settings',
  'priority',
] as const;

function readDraft(body: unknown): RecordDraft {
  if (!isObject(body)) throw badBody();
  const draft: RecordDraft = {};
  for (const key of DRAFT_KEYS) if (body[key] !== undefined) draft[key] = body[key];
  return draft;
}

function recordToApi(record: DnsRecord): Json {
  const out: Json = {
    id: record.id,
    name: record.name,
    type: record.type,
    content: record.content,
    proxiable: PROXIABLE.has(record.type),
    proxied: record.proxied,
    ttl: record.ttl,
    settings: clone(record.settings),
    meta: {},
  };
  if (record.priority !== undefined) out.priority = record.priority;
  if (record.comment !== undefined) out.comment = record.comment;
  out.tags = [...record.tags];
  out.created_on = record.created_on;
  out.modified_on = record.modified_on;
  if (record.comment_modified_on) out.comment_modified_on = record.comment_modified_on;
  if (record.tags_modified_on) out.tags_modified_on = record.tags_modified_on;
  return out;
}

function normalizeType(value: unknown): string {
  const type = typeof value === 'string' ? value.toUpperCase() : '';
  if (EMULATED_TYPES.has(type)) return type;
  if (OTHER_TYPES.has(type)) {
    throw dnsValidation(
      UNOBSERVED.recordType,
      `Record type ${type} is valid but not emulated by the sandbox.`,
    );
  }
  throw dnsValidation(UNOBSERVED.recordType, 'DNS record type is invalid.');
}

function normalizeName(zoneName: string, value: unknown): string {
  const invalid = () => dnsValidation(UNOBSERVED.recordName, 'DNS name is invalid.');
  if (typeof value !== 'string') throw invalid();
  let name = value.trim().toLowerCase();
  if (name === '@') return zoneName;
  if (name.endsWith('.')) name = name.slice(0, -1);
  if (/[^\x20-\x7e]/.test(name)) name = domainToASCII(name);
  if (name === '') throw invalid();
  if (name !== zoneName && !name.endsWith(`.${zoneName}`)) name = `${name}.${zoneName}`;
  const labels = name.split('.');
  const labelOk = (label: string, i: number) =>
    (i === 0 && label === '*') || /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label);
  if (name.length > 253 || !labels.every(labelOk)) throw invalid();
  return name;
}

function normalizeContent(type: string, value: unknown): string {
  const text = typeof value === 'string' ? value.trim() : '';
  switch (type) {
    case 'A':
      if (parseIPv4(text) === undefined) {
        throw fail(400, 9005, 'Content for A record must be a valid IPv4 address.');
      }
      return text;
    case 'AAAA': {
      const v6 = parseIPv6(text);
      if (v6 === undefined) throw fail(400, 9006, 'Content for AAAA record must be a valid IPv6 address.');
      return formatIPv6(v6);
    }
    case 'CNAME':
    case 'MX': {
      const host = text.toLowerCase().replace(/\.$/, '');
      if (!isHostname(host)) {
        throw fail(400, type === 'CNAME' ? 9007 : 9008, `Content for ${type} record is invalid.`);
      }
      return host;
    }
    default:
      if (text === '') {
        throw dnsValidation(UNOBSERVED.recordContent, `Content for ${type} record is invalid.`);
      }
      return value as string;
  }
}

function normalizeTtl(plan: Plan, value: unknown): number {
  const min = plan === 'enterprise' ? 30 : 60;
  const ttl = value ?? 1;
  if (ttl === 1) return 1;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < min || ttl > 86400) {
    throw dnsValidation(9021, `TTL must be between ${min} and 86400 seconds, or 1 for Automatic.`);
  }
  return ttl;
}

function normalizeProxied(type: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw fail(400, 9003, "Invalid 'proxied' value, must be a boolean");
  if (value && !PROXIABLE.has(type)) {
    throw dnsValidation(9041, 'Invalid proxied mode. Record cannot be proxied');
  }
  return value;
}

function normalizeComment(plan: Plan, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badBody();
  if (/[\r\n]/.test(value)) {
    throw dnsValidation(UNOBSERVED.commentNewline, 'DNS record comment must not contain newlines.');
  }
  const limit = plan === 'free' ? 100 : 500;
  if (value.length > limit) {
    throw dnsValidation(9313, `DNS record comment exceeds the maximum length of ${limit} characters.`);
  }
  return value;
}

function normalizeTags(plan: Plan, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((t) => typeof t !== 'string')) throw badBody();
  const quota = plan === 'free' ? 0 : 20;
  if (value.length > quota) {
    throw dnsValidation(9300, `DNS record has ${value.length} tags, exceeding the quota of ${quota}.`);
  }
  for (const tag of value as string[]) {
    if (!/^[A-Za-z0-9_-]{1,32}:.{0,100}$/.test(tag)) {
      throw dnsValidation(
        UNOBSERVED.tagFormat,
        `Tag "${tag}" must be <name>:<value> (name ≤ 32 of [A-Za-z0-9_-]).`,
      );
    }
  }
  return [...(value as string[])];
}

function normalizeSettings(type: string, value: unknown): Json {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw badBody();
  const allowed = type === 'CNAME' ? ['flatten_cname', 'ipv4_only', 'ipv6_only'] : ['ipv4_only', 'ipv6_only'];
  const out: Json = {};
  for (const key of allowed) if (typeof value[key] === 'boolean') out[key] = value[key];
  return out;
}

function normalizePriority(type: string, value: unknown): number | undefined {
  if (type !== 'MX') return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw dnsValidation(UNOBSERVED.recordPriority, 'MX records need a priority between 0 and 65535.');
  }
  return value;
}

function sameTags(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Validates a draft and builds the record the API would store. */
function buildRecord(
  zone: ZoneState,
  draft: RecordDraft,
  id: string,
  seq: number,
  now: string,
  previous?: DnsRecord,
) {
  const type = normalizeType(draft.type);
  const name = normalizeName(zone.name, draft.name);
  const content = normalizeContent(type, draft.content);
  const proxied = normalizeProxied(type, draft.proxied);
  const ttl = normalizeTtl(zone.plan, draft.ttl);
  const comment = normalizeComment(zone.plan, draft.comment);
  const tags = normalizeTags(zone.plan, draft.tags);
  const record: DnsRecord = {
    id,
    type,
    name,
    content,
    proxied,
    ttl: proxied ? 1 : ttl,
    tags,
    settings: normalizeSettings(type, draft.settings),
    created_on: previous?.created_on ?? now,
    modified_on: now,
    seq,
  };
  const priority = normalizePriority(type, draft.priority);
  if (priority !== undefined) record.priority = priority;
  if (comment !== undefined) {
    record.comment = comment;
    record.comment_modified_on = comment === previous?.comment ? (previous.comment_modified_on ?? now) : now;
  }
  if (tags.length > 0) {
    record.tags_modified_on =
      previous && sameTags(tags, previous.tags) ? (previous.tags_modified_on ?? now) : now;
  }
  return record;
}

function checkSameName(records: Map<string, DnsRecord>, record: DnsRecord): void {
  const others = [...records.values()].filter((r) => r.id !== record.id && r.name === record.name);
  const identical = others.some(
    (r) => r.type === record.type && r.content === record.content && r.priority === record.priority,
  );
  if (identical) throw fail(400, 81058, 'An identical record already exists.');
  if ((record.type === 'A' || record.type === 'AAAA') && others.some((r) => r.type === 'CNAME')) {
    throw fail(
      400,
      81054,
      'A CNAME record with that host already exists. For more details, refer to ' +
        '<https://developers.cloudflare.com/dns/manage-dns-records/troubleshooting/records-with-same-name/>.',
    );
  }
  if (record.type === 'CNAME' && others.some((r) => PROXIABLE.has(r.type))) {
    throw fail(400, 81053, 'An A, AAAA, or CNAME record with that host already exists.');
  }
}

/** A zone's records being changed: a copy, committed only when every operation succeeded. */
class RecordTransaction {
  readonly records: Map<string, DnsRecord>;

  constructor(
    readonly zone: ZoneState,
    private readonly nextSeq: () => number,
    readonly now: string,
  ) {
    this.records = new Map(zone.records);
  }

  commit(): void {
    this.zone.records = this.records;
  }

  existing(id: unknown): DnsRecord {
    const record = typeof id === 'string' ? this.records.get(id) : undefined;
    if (!record) throw fail(404, 81044, 'Record does not exist.');
    return record;
  }

  create(body: unknown): DnsRecord {
    const quota = this.zone.recordQuota ?? (this.zone.plan === 'free' ? 200 : 3500);
    const record = buildRecord(this.zone, readDraft(body), newId(), this.nextSeq(), this.now);
    checkSameName(this.records, record);
    if (this.records.size >= quota) throw fail(400, 81045, 'Record quota exceeded.');
    this.records.set(record.id, record);
    return record;
  }

  patch(id: unknown, body: unknown): DnsRecord {
    const before = this.existing(id);
    const draft = readDraft(body);
    const merged: RecordDraft = { ...before, ...draft };
    return this.store(buildRecord(this.zone, merged, before.id, before.seq, this.now, before));
  }

  put(id: unknown, body: unknown): DnsRecord {
    const before = this.existing(id);
    return this.store(buildRecord(this.zone, readDraft(body), before.id, before.seq, this.now, before));
  }

  delete(id: unknown): DnsRecord {
    const record = this.existing(id);
    this.records.delete(record.id);
    return record;
  }

  private store(record: DnsRecord): DnsRecord {
    checkSameName(this.records, record);
    this.records.set(record.id, record);
    return record;
  }
}

// --- list filters -----------------------------------------------------------------------------------------

type Predicate = (record: DnsRecord) => boolean;
type TextOp = 'exact' | 'contains' | 'startswith' | 'endswith';

const TEXT_OPS: Record<TextOp, (value: string, wanted: string) => boolean> = {
  exact: (v, w) => v === w,
  contains: (v, w) => v.includes(w),
  startswith: (v, w) => v.startsWith(w),
  endswith: (v, w) => v.endsWith(w),
};

function textPredicates(q: URLSearchParams, field: 'name' | 'content' | 'comment'): Predicate[] {
  const get = (r: DnsRecord) => r[field]?.toLowerCase();
  const out: Predicate[] = [];
  const add = (op: TextOp, wanted: string) => {
    const w = wanted.toLowerCase();
    out.push((r) => {
      const v = get(r);
      return v !== undefined && TEXT_OPS[op](v, w);
    });
  };
  for (const op of Object.keys(TEXT_OPS) as TextOp[]) for (const w of q.getAll(`${field}.${op}`)) add(op, w);
  for (const w of q.getAll(field)) add('exact', w);
  if (field === 'comment') {
    if (q.has('comment.present')) out.push((r) => r.comment !== undefined);
    if (q.has('comment.absent')) out.push((r) => r.comment === undefined);
  }
  return out;
}

function splitTag(tag: string): [string, string] {
  const i = tag.indexOf(':');
  return i < 0 ? [tag.toLowerCase(), ''] : [tag.slice(0, i).toLowerCase(), tag.slice(i + 1).toLowerCase()];
}

function tagPredicates(q: URLSearchParams): Predicate[] {
  const out: Predicate[] = [];
  const tagsOf = (r: DnsRecord) => r.tags.map(splitTag);
  for (const name of q.getAll('tag.present')) {
    out.push((r) => tagsOf(r).some(([n]) => n === name.toLowerCase()));
  }
  for (const name of q.getAll('tag.absent')) {
    out.push((r) => !tagsOf(r).some(([n]) => n === name.toLowerCase()));
  }
  for (const op of Object.keys(TEXT_OPS) as TextOp[]) {
    for (const wanted of q.getAll(`tag.${op}`)) {
      const [name, value] = splitTag(wanted);
      out.push((r) => tagsOf(r).some(([n, v]) => n === name && TEXT_OPS[op](v, value)));
    }
  }
  return out;
}

function combine(predicates: Predicate[], mode: string | null): Predicate {
  if (predicates.length === 0) return () => true;
  return mode === 'any' ? (r) => predicates.some((p) => p(r)) : (r) => predicates.every((p) => p(r));
}

function recordFilter(q: URLSearchParams): Predicate {
  const predicates = [
    ...textPredicates(q, 'name'),
    ...textPredicates(q, 'content'),
    ...textPredicates(q, 'comment'),
  ];
  const type = q.get('type');
  if (type) predicates.push((r) => r.type === type.toUpperCase());
  const proxied = q.get('proxied');
  if (proxied === 'true' || proxied === 'false') predicates.push((r) => r.proxied === (proxied === 'true'));
  const search = q.get('search')?.toLowerCase();
  if (search) {
    predicates.push((r) =>
      [r.name, r.content, r.comment ?? ''].some((v) => v.toLowerCase().includes(search)),
    );
  }
  const tags = tagPredicates(q);
  if (tags.length > 0) predicates.push(combine(tags, q.get('tag_match')));
  return combine(predicates, q.get('match'));
}

const SORT_KEYS = ['type', 'name', 'content', 'ttl', 'proxied'] as const;
type SortKey = (typeof SORT_KEYS)[number];

function compareBy(key: SortKey, a: DnsRecord, b: DnsRecord): number {
  const x = a[key];
  const y = b[key];
  return x === y ? 0 : x < y ? -1 : 1;
}

function recordSorter(q: URLSearchParams): (a: DnsRecord, b: DnsRecord) => number {
  const order = q.get('order');
  if (order !== null && !(SORT_KEYS as readonly string[]).includes(order)) {
    throw fail(400, UNOBSERVED.query, `order must be one of ${SORT_KEYS.join(', ')}`);
  }
  const keys: SortKey[] = order ? [order as SortKey, 'type', 'name', 'content'] : ['type', 'name', 'content'];
  const sign = q.get('direction') === 'desc' ? -1 : 1;
  return (a, b) => {
    for (const key of keys) {
      const c = compareBy(key, a, b);
      if (c !== 0) return sign * c;
    }
    return a.seq - b.seq;
  };
}

interface BatchBody {
  deletes: unknown[];
  patches: unknown[];
  puts: unknown[];
  posts: unknown[];
}

function readBatch(body: unknown): BatchBody {
  if (!isObject(body)) throw badBody();
  const list = (key: keyof BatchBody): unknown[] => {
    const value = body[key];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((v) => !isObject(v))) throw badBody();
    return value;
  };
  return { deletes: list('deletes'), patches: list('patches'), puts: list('puts'), posts: list('posts') };
}

function idOf(entry: unknown): unknown {
  return isObject(entry) ? entry.id : undefined;
}
