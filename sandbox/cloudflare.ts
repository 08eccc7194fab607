/**
 * A Cloudflare API v4 emulator: DNS records (incl. /batch), Load Balancer pools, Rules IP lists with their
 * asynchronous bulk operations, and token verification, spoken over the real wire protocol so the real
 * `cloudflare` SDK can be pointed at it (`baseURL: emulator.baseUrl`). It shares no code with lib/.
 *
 * Contracts come from ../shared/reference/CLOUDFLARE.md and reference/cloudflare/*.json. Where those are
 * silent, this is what was chosen and why (sources: public issues and docs, found with the search tool):
 *
 * Auth
 * - No `Authorization` header: 400 `1001 Missing "Authorization" header` (CLOUDFLARE.md §4; status assumed).
 * - A header that is not `Bearer <token>` with a token of at least 40 chars of [A-Za-z0-9_-]: 400 6003 with
 *   error_chain 6111. Real tokens are 40 chars; a 37-char Global API Key sent as a token gets 6111
 *   (kissgyorgy/cloudflare-dyndns#40). Newer prefixed tokens are longer, hence "at least". `addToken` refuses
 *   a token the API would call malformed, so a test cannot depend on one.
 * - A body sent without `Content-Type: application/json`: 400 6003 with error_chain 6105 (observed in
 *   mcblum/ddclient-cloudflare-ubuntu#2).
 * - Unknown, disabled or expired token: 403 10000 "Authentication error" on every resource. On
 *   `GET /user/tokens/verify` an unknown token gets 401 `1000 Invalid API Token` (widely observed), and a
 *   disabled or expired one gets 200 with `status: disabled|expired` (the SDK's TokenVerifyResponse enum).
 * - A token without a grant, or with `read` on a write: zone routes answer 403 10000 "Authentication error"
 *   (terraform-provider-cloudflare#913/#1533); account routes (pools, lists, bulk operations) answer 403 9109
 *   "Unauthorized to access requested resource" (octodns-cloudflare#60 and others saw 9109).
 * - Malformed ids in the path (zone, account, record, pool, list, operation: 32 lower-case hex): 400 7003 +
 *   7000. The 7003 message carries the full path incl. /client/v4, as recent reports show
 *   (anomalyco/sst#5853). A path or method with no route gets the same answer.
 *
 * DNS records
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
 *   N tags, exceeding the quota of 0." (external-dns#3706). Non-boolean `proxied` → 400 9003.
 * - `comment` is omitted when there is none, `tags` is always an array, `comment_modified_on` /
 *   `tags_modified_on` are omitted when there is no comment / tag (SDK RecordResponse doc comments).
 * - Records per zone: Free 200, paid 3,500 → 400 81045 "Record quota exceeded." (js-org/js.org#2873).
 * - List: unknown query keys are ignored; `type` and `proxied` take part in `match=any` like the other
 *   filters; tag filters are combined by `tag_match` first. Default order is type, name, content (then
 *   creation), ascending. `per_page` 1–5,000,000 (OAS24); `result_info.total_pages` is at least 1 (as
 *   observed in joshuaavalon/docker-cloudflare#76).
 * - Batch: every failure (incl. an unknown id, 81044) answers HTTP 400 with the first error, nothing applied.
 *   Operations count towards the limit across all four arrays. A fault with `concurrentModification` on the
 *   batch route makes "another writer" delete the first record the batch references (→ 81044), or, for a
 *   posts-only batch, create the first posted record first (→ 81058). On a single POST it creates the same
 *   record first (→ 81058); on PATCH/PUT/DELETE it deletes the target record first (→ 404 81044).
 *
 * Load Balancer pools
 * - Validation errors are 400 `1002 "<what>: validation failed"` (hashicorp/terraform#17948,
 *   cloudflare-docs#2850). Checked: 1–20 origins, name and address required, weight 0–1, `header` only `Host`
 *   with at most one value, origin names and (address, port, virtual network) unique (cloudflare-docs#31583),
 *   private/reserved addresses need `virtual_network_id` (SDK Origin.address doc), pool name [A-Za-z0-9_-],
 *   `minimum_origins` a non-negative integer (cloudflare-go#1338 shows 0 is meaningful; no upper bound is
 *   documented, so a pool may be left with fewer origins than its minimum, as in production).
 * - `concurrentModification` on pools.patch/put: another writer appends an origin named `concurrent-writer`
 *   just before; the request then overwrites it, the lost update the real API (no etag) allows.
 *
 * Rules lists
 * - IP items (docs waf/tools/lists/custom-lists, newest version; terraform-provider-cloudflare#7036): IPv4
 *   address or CIDR /8–/32, IPv6 address or CIDR /12–/128. The API stores them normalized: host bits masked,
 *   /32 and /128 dropped, IPv6 compressed lower-case. OAS24's "/64 or wider" is older than those sources.
 *   Appending an IP already in the list updates that item instead of adding a second one
 *   (terraform-provider-cloudflare#5854).
 * - A write while another bulk operation of the account is pending answers HTTP 429 (docs
 *   waf/tools/lists/lists-api: "you will receive a 429 HTTP status code"); the SDK retries 429, so tests use
 *   `maxRetries: 0`. A `concurrentModification` fault on a write route starts such a foreign operation first.
 * - Items change only when a poll of the operation reports `completed`, after `bulkOperationPolls` polls
 *   answered `pending` (first) or `running`, or when a write refused for it (429) shows time passing: real
 *   operations finish in seconds whether or not their client is still there to poll them. Operations fail
 *   with "This list is at the maximum number of items" past 10,000 items per account (plans/index.json) or
 *   with the message given to `failNextBulkOperation`. Unknown item ids in a DELETE are ignored when the
 *   operation applies.
 * - Cursor pagination: default `per_page` 25 (not documented; small so clients must follow cursors), max 500.
 *
 * Codes nobody has published are taken from the 99xxx block below, so no client mistakes them for real
 * ones: branch on the HTTP status, not on those codes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { domainToASCII } from 'node:url';
import {
  Emulator,
  route,
  type EmulatorOptions,
  type Reply,
  type Route,
  type RouteContext,
  type TlsIdentity,
} from './emulator';

export interface CloudflareEmulatorOptions extends EmulatorOptions {
  tls?: TlsIdentity;
}

export type Grant = 'read' | 'edit';
export type Plan = 'free' | 'pro' | 'business' | 'enterprise';
export type TokenStatus = 'active' | 'disabled' | 'expired';

export interface TokenGrants {
  zones?: Record<string, Grant>;
  accounts?: Record<string, { loadBalancers?: Grant; lists?: Grant }>;
  status?: TokenStatus;
}

type Json = Record<string, unknown>;

interface CfError {
  code: number;
  message: string;
  error_chain?: CfError[];
}

const PREFIX = '/client/v4';

const UNOBSERVED = {
  recordType: 99001,
  recordName: 99002,
  recordContent: 99003,
  commentNewline: 99004,
  tagFormat: 99005,
  query: 99006,
  batchSize: 99007,
  listItem: 99008,
  listNotFound: 99009,
  bulkOperationPending: 99010,
  operationNotFound: 99011,
  poolNotFound: 99012,
  recordPriority: 99013,
} as const;

const HEX32 = /^[0-9a-f]{32}$/;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{40,}$/;
const EMULATED_TYPES = new Set(['A', 'AAAA', 'CNAME', 'TXT', 'MX']);
/** Types the real API accepts that this emulator does not model. */
const OTHER_TYPES = new Set(
  'CAA CERT DNSKEY DS HTTPS LOC NAPTR NS OPENPGPKEY PTR SMIMEA SRV SSHFP SVCB TLSA URI'.split(' '),
);
const PROXIABLE = new Set(['A', 'AAAA', 'CNAME']);
const MAX_LIST_ITEMS_PER_ACCOUNT = 10_000;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: CfError[],
  ) {
    super(errors.map((e) => `${e.code} ${e.message}`).join('; '));
  }
}

function fail(status: number, code: number, message: string, chain?: CfError[]): ApiError {
  return new ApiError(status, [{ code, message, ...(chain ? { error_chain: chain } : {}) }]);
}

function dnsValidation(code: number, message: string): ApiError {
  return fail(400, 1004, 'DNS Validation Error', [{ code, message }]);
}

function badBody(): ApiError {
  return fail(400, 9207, 'Request body is invalid.');
}

function couldNotRoute(path: string): ApiError {
  return new ApiError(400, [
    { code: 7003, message: `Could not route to ${path}, perhaps your object identifier is invalid?` },
    { code: 7000, message: 'No route for that URI' },
  ]);
}

function ok(result: unknown, resultInfo?: Json): Reply {
  const body: Json = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return { status: 200, body };
}

function errorReply(error: ApiError): Reply {
  return { status: error.status, body: { success: false, errors: error.errors, messages: [], result: null } };
}

function newId(): string {
  return randomBytes(16).toString('hex');
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

// ---------------------------------------------------------------------------------------------------------
// IP addresses (independent of lib/net on purpose)

function parseIPv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

function formatIPv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

function parseIPv6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split('::').length > 2) return undefined;
  const [head = '', tail] = text.split('::');
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (v4 === undefined) return undefined;
        out.push(Math.floor(v4 / 65536), v4 % 65536);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return undefined;
    }
    return out;
  };
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  if (!left || !right) return undefined;
  const missing = 8 - left.length - right.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  return [...left, ...new Array<number>(tail === undefined ? 0 : missing).fill(0), ...right].reduce(
    (acc, group) => (acc << 16n) | BigInt(group),
    0n,
  );
}

/** RFC 5952 text: lower case, no leading zeros, the longest run of two or more zero groups as `::`. */
function formatIPv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

function inRange4(value: number, cidr: string): boolean {
  const [base = '', bits = '32'] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const start = parseIPv4(base) ?? -1;
  return value >= start && value < start + size;
}

const RESERVED_V4 = [
  '0.0.0.0/8',
  '10.0.0.0/8',
  '100.64.0.0/10',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

function isReservedAddress(address: string): boolean {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return RESERVED_V4.some((cidr) => inRange4(v4, cidr));
  const v6 = parseIPv6(address);
  if (v6 === undefined) return false;
  const top = Number(v6 >> 112n);
  return v6 <= 1n || (top & 0xfe00) === 0xfc00 || (top & 0xffc0) === 0xfe80 || (top & 0xff00) === 0xff00;
}

function isHostname(text: string): boolean {
  if (text.length === 0 || text.length > 253 || parseIPv4(text) !== undefined) return false;
  if (/^\d+(\.\d+)*$/.test(text)) return false;
  return text.split('.').every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label));
}

/** A Rules-list IP item as the API stores it, or undefined when the API would refuse it. */
function normalizeListIp(text: string): string | undefined {
  const [address = '', prefix, extra] = text.trim().split('/');
  if (extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) return undefined;
  const v4 = parseIPv4(address);
  if (v4 !== undefined) {
    const bits = prefix === undefined ? 32 : Number(prefix);
    if (bits < 8 || bits > 32) return undefined;
    const size = 2 ** (32 - bits);
    const base = formatIPv4(Math.floor(v4 / size) * size);
    return bits === 32 ? base : `${base}/${bits}`;
  }
  const v6 = parseIPv6(address);
  if (v6 === undefined) return undefined;
  const bits = prefix === undefined ? 128 : Number(prefix);
  if (bits < 12 || bits > 128) return undefined;
  const mask = ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
  const base = formatIPv6(v6 & mask);
  return bits === 128 ? base : `${base}/${bits}`;
}

// ---------------------------------------------------------------------------------------------------------
// DNS records

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
    const quota = this.zone.plan === 'free' ? 200 : 3500;
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

function intParam(q: URLSearchParams, key: string, fallback: number, max: number): number {
  const raw = q.get(key);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw fail(400, UNOBSERVED.query, `${key} must be an integer between 1 and ${max}`);
  }
  return value;
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

// ---------------------------------------------------------------------------------------------------------
// Load Balancer pools

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

// ---------------------------------------------------------------------------------------------------------
// Rules lists

interface ListItem {
  id: string;
  ip: string;
  comment?: string;
  created_on: string;
  modified_on: string;
  seq: number;
}

interface ListState {
  id: string;
  name: string;
  kind: 'ip';
  items: Map<string, ListItem>;
}

type ItemsChange = (items: Map<string, ListItem>, now: string) => Map<string, ListItem>;

interface BulkOperation {
  id: string;
  status: 'pending' | 'running' | 'completed' | 'failed';
  pollsBeforeCompletion: number;
  polls: number;
  completed?: string;
  error?: string;
  forcedFailure?: string;
  list?: ListState;
  change?: ItemsChange;
  /** Started by "another writer" (a concurrentModification fault); completes without being polled. */
  background?: boolean;
}

interface NewItem {
  ip: string;
  comment?: string;
}

function listItemToApi(item: ListItem): Json {
  const out: Json = { id: item.id, ip: item.ip };
  if (item.comment !== undefined) out.comment = item.comment;
  out.created_on = item.created_on;
  out.modified_on = item.modified_on;
  return out;
}

function listItemInvalid(message: string): ApiError {
  return fail(400, UNOBSERVED.listItem, message);
}

function readNewItem(raw: unknown, index: number): NewItem {
  if (!isObject(raw)) throw listItemInvalid(`item ${index}: must be an object`);
  for (const other of ['hostname', 'asn', 'redirect']) {
    if (raw[other] !== undefined) {
      throw listItemInvalid(`item ${index}: "${other}" items cannot go in an IP list`);
    }
  }
  if (typeof raw.ip !== 'string') throw listItemInvalid(`item ${index}: "ip" is required`);
  const ip = normalizeListIp(raw.ip);
  if (ip === undefined) {
    throw listItemInvalid(
      `item ${index}: "${raw.ip}" is not an IPv4 address, an IPv4 CIDR /8-/32, an IPv6 address or an IPv6 CIDR /12-/128`,
    );
  }
  if (raw.comment !== undefined && raw.comment !== null && typeof raw.comment !== 'string') {
    throw listItemInvalid(`item ${index}: "comment" must be a string`);
  }
  return typeof raw.comment === 'string' && raw.comment !== '' ? { ip, comment: raw.comment } : { ip };
}

function readNewItems(body: unknown): NewItem[] {
  if (!Array.isArray(body)) throw listItemInvalid('the request body must be a JSON array of items');
  return body.map(readNewItem);
}

function readItemIds(body: unknown): string[] {
  const items = isObject(body) ? body.items : undefined;
  if (!Array.isArray(items) || items.length === 0) {
    throw listItemInvalid('"items" must list the ids to delete');
  }
  return items.map((item, i) => {
    const id = isObject(item) ? item.id : undefined;
    if (typeof id !== 'string' || !HEX32.test(id)) {
      throw listItemInvalid(`items[${i}].id is not a list item id`);
    }
    return id;
  });
}

function upsertItems(items: Map<string, ListItem>, added: NewItem[], now: string, seq: () => number) {
  const next = new Map(items);
  for (const item of added) {
    const existing = [...next.values()].find((i) => i.ip === item.ip);
    if (existing) {
      next.set(existing.id, { ...existing, comment: item.comment, modified_on: now });
    } else {
      const id = newId();
      next.set(id, { id, ...item, created_on: now, modified_on: now, seq: seq() });
    }
  }
  return next;
}

function encodeCursor(direction: 'after' | 'before', seq: number): string {
  return Buffer.from(`${direction}:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): { direction: 'after' | 'before'; seq: number } {
  const [direction, seq] = Buffer.from(cursor, 'base64url').toString().split(':');
  if ((direction !== 'after' && direction !== 'before') || !/^\d+$/.test(seq ?? '')) {
    throw fail(400, UNOBSERVED.query, 'cursor is invalid');
  }
  return { direction, seq: Number(seq) };
}

// ---------------------------------------------------------------------------------------------------------

interface TokenState {
  id: string;
  grants: TokenGrants;
  status: TokenStatus;
}

export class CloudflareEmulator extends Emulator {
  /** Polls of a bulk operation answered `pending`/`running` before one answers `completed` (or `failed`). */
  bulkOperationPolls = 1;

  private readonly tokens = new Map<string, TokenState>();
  private readonly zones = new Map<string, ZoneState>();
  private readonly pools = new Map<string, Map<string, Json>>();
  private readonly lists = new Map<string, Map<string, ListState>>();
  private readonly operations = new Map<string, Map<string, BulkOperation>>();
  private readonly routeTable: Route[];
  private nextFailure: string | undefined;
  private seq = 0;

  private constructor(options: CloudflareEmulatorOptions) {
    super(options);
    this.routeTable = this.buildRoutes();
  }

  static async start(options: CloudflareEmulatorOptions = {}): Promise<CloudflareEmulator> {
    const emulator = new CloudflareEmulator(options);
    await emulator.listen();
    return emulator;
  }

  /** What the SDK's `baseURL` is set to. */
  get baseUrl(): string {
    return `${this.url}${PREFIX}`;
  }

  // --- seeding and inspection ---------------------------------------------------------------------------

  addToken(token: string, grants: TokenGrants): void {
    if (!TOKEN_FORMAT.test(token)) {
      throw new Error(
        'Cloudflare API tokens are at least 40 characters of [A-Za-z0-9_-]; the API answers 6003/6111 otherwise',
      );
    }
    this.tokens.set(token, { id: newId(), grants: clone(grants), status: grants.status ?? 'active' });
  }

  addZone(zone: { id: string; name: string; plan?: Plan; accountId?: string }): void {
    assertId(zone.id, 'zone id');
    if (zone.accountId !== undefined) assertId(zone.accountId, 'account id');
    const name = zone.name.toLowerCase().replace(/\.$/, '');
    this.zones.set(zone.id, {
      id: zone.id,
      name,
      plan: zone.plan ?? 'free',
      accountId: zone.accountId,
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

  addPool(accountId: string, pool: Record<string, unknown>): Record<string, unknown> {
    assertId(accountId, 'account id');
    const id = typeof pool.id === 'string' ? pool.id : newId();
    assertId(id, 'pool id');
    const now = this.now();
    const base: Json = { id, created_on: now, modified_on: now, ...poolDefaults() };
    const stored = applyPoolChanges(base, editableFields(pool), now);
    this.poolsOf(accountId).set(id, stored);
    return clone(stored);
  }

  pool(accountId: string, poolId: string): Record<string, unknown> | undefined {
    const pool = this.pools.get(accountId)?.get(poolId);
    return pool ? clone(pool) : undefined;
  }

  addList(accountId: string, list: { id: string; name: string; kind?: 'ip' }): void {
    assertId(accountId, 'account id');
    assertId(list.id, 'list id');
    this.listsOf(accountId).set(list.id, {
      id: list.id,
      name: list.name,
      kind: list.kind ?? 'ip',
      items: new Map(),
    });
  }

  addListItem(
    accountId: string,
    listId: string,
    item: { ip: string; comment?: string },
  ): Record<string, unknown> {
    const list = this.lists.get(accountId)?.get(listId);
    if (!list) throw new Error(`no list ${listId} in account ${accountId}; call addList first`);
    const added = readNewItem(item, 0);
    list.items = upsertItems(list.items, [added], this.now(), () => ++this.seq);
    return listItemToApi([...list.items.values()].find((i) => i.ip === added.ip) as ListItem);
  }

  listItems(accountId: string, listId: string): Array<Record<string, unknown>> {
    const list = this.lists.get(accountId)?.get(listId);
    return list ? [...list.items.values()].sort((a, b) => a.seq - b.seq).map(listItemToApi) : [];
  }

  /** The next bulk operation created ends `failed` with this error, changing nothing. */
  failNextBulkOperation(error: string): void {
    this.nextFailure = error;
  }

  /** 429 with code 971 and `retry-after` (seconds) for the next `times` requests on `route` (`*` = all). */
  throttle(routeName: string, retryAfterSeconds: number, times = 1): void {
    this.inject({
      route: routeName,
      times,
      status: 429,
      headers: {
        'retry-after': String(Math.ceil(retryAfterSeconds)),
        ratelimit: `"default";r=0;t=${Math.ceil(retryAfterSeconds)}`,
        'ratelimit-policy': '"default";q=1200;w=300',
      },
      body: {
        success: false,
        errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
        messages: [],
        result: null,
      },
    });
  }

  // --- Emulator hooks ------------------------------------------------------------------------------------

  protected routes(): Route[] {
    return this.routeTable;
  }

  protected notFound(_method: string, path: string): Reply {
    return errorReply(couldNotRoute(path));
  }

  protected badJson(): Reply {
    return errorReply(badBody());
  }

  protected override commonHeaders(): Record<string, string> {
    return { 'Content-Type': 'application/json' };
  }

  protected override authenticate(req: IncomingMessage): Reply | undefined {
    const header = req.headers.authorization;
    if (header === undefined) return errorReply(fail(400, 1001, 'Missing "Authorization" header'));
    const match = /^Bearer (.*)$/i.exec(header);
    if (!match || !TOKEN_FORMAT.test(match[1] as string)) {
      return errorReply(
        fail(400, 6003, 'Invalid request headers', [
          { code: 6111, message: 'Invalid format for Authorization header' },
        ]),
      );
    }
    const hasBody =
      Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
    const type = req.headers['content-type'] ?? '';
    if (hasBody && !/^(application\/json|multipart\/form-data)\b/i.test(type)) {
      return errorReply(
        fail(400, 6003, 'Invalid request headers', [
          {
            code: 6105,
            message: 'Invalid Content-Type header, valid values are application/json,multipart/form-data',
          },
        ]),
      );
    }
    return undefined;
  }

  private buildRoutes(): Route[] {
    const r = (name: string, method: string, template: string, handle: (ctx: RouteContext) => Reply): Route =>
      route(name, method, `${PREFIX}${template}`, (ctx) => guard(ctx, handle));
    const records = '/zones/{zone}/dns_records';
    const pools = '/accounts/{account}/load_balancers/pools';
    const items = '/accounts/{account}/rules/lists/{list}/items';
    return [
      r('tokens.verify', 'GET', '/user/tokens/verify', (c) => this.verifyToken(c)),
      r('dnsRecords.list', 'GET', records, (c) => this.listRecords(c)),
      r('dnsRecords.create', 'POST', records, (c) => this.writeRecord(c, (tx) => tx.create(c.body))),
      r('dnsRecords.batch', 'POST', `${records}/batch`, (c) => this.batchRecords(c)),
      r('dnsRecords.get', 'GET', `${records}/{id}`, (c) => this.getRecord(c)),
      r('dnsRecords.patch', 'PATCH', `${records}/{id}`, (c) =>
        this.writeRecord(c, (tx) => tx.patch(c.params.id, c.body)),
      ),
      r('dnsRecords.put', 'PUT', `${records}/{id}`, (c) =>
        this.writeRecord(c, (tx) => tx.put(c.params.id, c.body)),
      ),
      r('dnsRecords.delete', 'DELETE', `${records}/{id}`, (c) => this.deleteRecord(c)),
      r('pools.list', 'GET', pools, (c) => this.listPools(c)),
      r('pools.get', 'GET', `${pools}/{pool}`, (c) => ok(clone(this.findPool(c, 'read').pool))),
      r('pools.patch', 'PATCH', `${pools}/{pool}`, (c) => this.writePool(c, 'patch')),
      r('pools.put', 'PUT', `${pools}/{pool}`, (c) => this.writePool(c, 'put')),
      r('listItems.list', 'GET', items, (c) => this.listListItems(c)),
      r('listItems.create', 'POST', items, (c) => this.writeListItems(c, 'append')),
      r('listItems.replace', 'PUT', items, (c) => this.writeListItems(c, 'replace')),
      r('listItems.delete', 'DELETE', items, (c) => this.writeListItems(c, 'delete')),
      r('bulkOperations.get', 'GET', '/accounts/{account}/rules/lists/bulk_operations/{operation}', (c) =>
        this.getBulkOperation(c),
      ),
    ];
  }

  // --- auth ----------------------------------------------------------------------------------------------

  private tokenOf(ctx: RouteContext): TokenState | undefined {
    const token = /^Bearer (.*)$/i.exec(ctx.req.headers.authorization ?? '')?.[1];
    return token === undefined ? undefined : this.tokens.get(token);
  }

  private verifyToken(ctx: RouteContext): Reply {
    const token = this.tokenOf(ctx);
    if (!token) throw fail(401, 1000, 'Invalid API Token');
    const result: Json = { id: token.id, status: token.status };
    if (token.status === 'expired') result.expires_on = new Date(Date.now() - 86_400_000).toISOString();
    const messages =
      token.status === 'active'
        ? [{ code: 10000, message: 'This API Token is valid and active', type: null }]
        : [];
    return { status: 200, body: { result, success: true, errors: [], messages } };
  }

  private zoneFor(ctx: RouteContext, access: Grant): ZoneState {
    const zoneId = ctx.params.zone ?? '';
    if (!HEX32.test(zoneId)) throw couldNotRoute(ctx.url.pathname);
    const token = this.tokenOf(ctx);
    const grant = token?.status === 'active' ? token.grants.zones?.[zoneId] : undefined;
    if (!grant || (access === 'edit' && grant !== 'edit')) throw fail(403, 10000, 'Authentication error');
    const zone = this.zones.get(zoneId);
    if (!zone) throw couldNotRoute(ctx.url.pathname);
    return zone;
  }

  private accountFor(ctx: RouteContext, product: 'loadBalancers' | 'lists', access: Grant): string {
    const accountId = ctx.params.account ?? '';
    if (!HEX32.test(accountId)) throw couldNotRoute(ctx.url.pathname);
    const token = this.tokenOf(ctx);
    if (token?.status !== 'active') throw fail(403, 10000, 'Authentication error');
    const grant = token.grants.accounts?.[accountId]?.[product];
    if (!grant || (access === 'edit' && grant !== 'edit')) {
      throw fail(403, 9109, 'Unauthorized to access requested resource');
    }
    return accountId;
  }

  // --- DNS records ---------------------------------------------------------------------------------------

  private now(): string {
    return new Date().toISOString();
  }

  private transaction(zone: ZoneState): RecordTransaction {
    return new RecordTransaction(zone, () => ++this.seq, this.now());
  }

  private listRecords(ctx: RouteContext): Reply {
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

  private getRecord(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'read');
    const id = this.recordId(ctx);
    const record = zone.records.get(id);
    if (!record) throw fail(404, 81044, 'Record does not exist.');
    return ok(recordToApi(record));
  }

  private recordId(ctx: RouteContext): string {
    const id = ctx.params.id ?? '';
    if (!HEX32.test(id)) throw couldNotRoute(ctx.url.pathname);
    return id;
  }

  private writeRecord(ctx: RouteContext, change: (tx: RecordTransaction) => DnsRecord): Reply {
    const zone = this.zoneFor(ctx, 'edit');
    if (ctx.method === 'POST') {
      if (ctx.concurrentModification) this.preempt(zone, ctx.body);
    } else {
      const id = this.recordId(ctx);
      if (ctx.concurrentModification) zone.records.delete(id);
    }
    const tx = this.transaction(zone);
    const record = change(tx);
    tx.commit();
    return ok(recordToApi(record));
  }

  private deleteRecord(ctx: RouteContext): Reply {
    const zone = this.zoneFor(ctx, 'edit');
    const id = this.recordId(ctx);
    if (ctx.concurrentModification) zone.records.delete(id);
    const tx = this.transaction(zone);
    tx.delete(id);
    tx.commit();
    return ok({ id });
  }

  private batchRecords(ctx: RouteContext): Reply {
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

  // --- pools ---------------------------------------------------------------------------------------------

  private poolsOf(accountId: string): Map<string, Json> {
    let pools = this.pools.get(accountId);
    if (!pools) this.pools.set(accountId, (pools = new Map()));
    return pools;
  }

  private listPools(ctx: RouteContext): Reply {
    const accountId = this.accountFor(ctx, 'loadBalancers', 'read');
    const pools = [...this.poolsOf(accountId).values()].map(clone);
    return ok(pools, { page: 1, per_page: pools.length, count: pools.length, total_count: pools.length });
  }

  private findPool(ctx: RouteContext, access: Grant): { pools: Map<string, Json>; pool: Json } {
    const pools = this.poolsOf(this.accountFor(ctx, 'loadBalancers', access));
    const poolId = ctx.params.pool ?? '';
    if (!HEX32.test(poolId)) throw couldNotRoute(ctx.url.pathname);
    const pool = pools.get(poolId);
    if (!pool) throw fail(404, UNOBSERVED.poolNotFound, 'Pool not found');
    return { pools, pool };
  }

  private writePool(ctx: RouteContext, mode: 'patch' | 'put'): Reply {
    const { pools, pool } = this.findPool(ctx, 'edit');
    if (!isObject(ctx.body)) throw badBody();
    if (ctx.concurrentModification) this.interfereWithPool(pool);
    const changes = editableFields(ctx.body);
    if (mode === 'put' && (changes.name === undefined || changes.origins === undefined)) {
      throw poolInvalid('name and origins are required');
    }
    // PUT resets what it does not name; the old origins only serve to keep `disabled_at`.
    const base: Json =
      mode === 'put'
        ? { id: pool.id, created_on: pool.created_on, ...poolDefaults(), origins: pool.origins }
        : pool;
    const next = applyPoolChanges(base, changes, this.now());
    pools.set(String(pool.id), next);
    return ok(clone(next));
  }

  private interfereWithPool(pool: Json): void {
    const origins = Array.isArray(pool.origins) ? (pool.origins as Json[]) : [];
    const origin = {
      name: 'concurrent-writer',
      address: 'concurrent-writer.example.net',
      enabled: true,
      weight: 1,
    };
    pool.origins = [...origins.filter((o) => o.name !== origin.name), origin];
    pool.modified_on = this.now();
  }

  // --- rules lists ---------------------------------------------------------------------------------------

  private listsOf(accountId: string): Map<string, ListState> {
    let lists = this.lists.get(accountId);
    if (!lists) this.lists.set(accountId, (lists = new Map()));
    return lists;
  }

  private operationsOf(accountId: string): Map<string, BulkOperation> {
    let ops = this.operations.get(accountId);
    if (!ops) this.operations.set(accountId, (ops = new Map()));
    return ops;
  }

  private findList(ctx: RouteContext, access: Grant): { accountId: string; list: ListState } {
    const accountId = this.accountFor(ctx, 'lists', access);
    const listId = ctx.params.list ?? '';
    if (!HEX32.test(listId)) throw couldNotRoute(ctx.url.pathname);
    const list = this.listsOf(accountId).get(listId);
    if (!list) throw fail(404, UNOBSERVED.listNotFound, 'List not found');
    return { accountId, list };
  }

  private listListItems(ctx: RouteContext): Reply {
    const { list } = this.findList(ctx, 'read');
    const q = ctx.url.searchParams;
    const perPage = intParam(q, 'per_page', 25, 500);
    const search = q.get('search')?.toLowerCase();
    const all = [...list.items.values()]
      .filter((item) => !search || item.ip.startsWith(search))
      .sort((a, b) => a.seq - b.seq);
    const page = pageOfItems(all, q.get('cursor'), perPage);
    const cursors: Json = {};
    const first = page[0];
    const last = page[page.length - 1];
    if (first && all[0] !== first) cursors.before = encodeCursor('before', first.seq);
    if (last && all[all.length - 1] !== last) cursors.after = encodeCursor('after', last.seq);
    return ok(page.map(listItemToApi), { cursors });
  }

  private writeListItems(ctx: RouteContext, mode: 'append' | 'replace' | 'delete'): Reply {
    const { accountId, list } = this.findList(ctx, 'edit');
    if (ctx.concurrentModification) this.createOperation(accountId, { background: true });
    this.assertNoPendingOperation(accountId);
    const seq = () => ++this.seq;
    let change: ItemsChange;
    if (mode === 'delete') {
      const ids = new Set(readItemIds(ctx.body));
      change = (items) => new Map([...items].filter(([id]) => !ids.has(id)));
    } else {
      const added = readNewItems(ctx.body);
      change =
        mode === 'append'
          ? (items, now) => upsertItems(items, added, now, seq)
          : (_items, now) => upsertItems(new Map(), added, now, seq);
    }
    const operation = this.createOperation(accountId, { list, change });
    return ok({ operation_id: operation.id });
  }

  private assertNoPendingOperation(accountId: string): void {
    const pending = [...this.operationsOf(accountId).values()].filter(
      (op) => op.status === 'pending' || op.status === 'running',
    );
    if (pending.length > 0) {
      // Operations finish on their own within seconds, polled or not (the client that started one may be gone):
      // each finishes while this request is being refused, so the refused writer's next try can go through.
      // Another writer's operation (background) changes nothing here.
      for (const op of pending) {
        if (op.background) op.status = 'completed';
        else this.finish(accountId, op);
      }
      throw fail(
        429,
        UNOBSERVED.bulkOperationPending,
        'A bulk operation is already in progress for this account. Wait until it completes before retrying.',
      );
    }
  }

  private createOperation(
    accountId: string,
    work: { list?: ListState; change?: ItemsChange; background?: boolean },
  ): BulkOperation {
    const operation: BulkOperation = {
      id: newId(),
      status: 'pending',
      pollsBeforeCompletion: this.bulkOperationPolls,
      polls: 0,
      ...work,
    };
    if (work.change && this.nextFailure !== undefined) {
      operation.forcedFailure = this.nextFailure;
      this.nextFailure = undefined;
    }
    this.operationsOf(accountId).set(operation.id, operation);
    return operation;
  }

  private getBulkOperation(ctx: RouteContext): Reply {
    const accountId = this.accountFor(ctx, 'lists', 'read');
    const id = ctx.params.operation ?? '';
    if (!HEX32.test(id)) throw couldNotRoute(ctx.url.pathname);
    const operation = this.operationsOf(accountId).get(id);
    if (!operation) throw fail(404, UNOBSERVED.operationNotFound, 'Bulk operation not found');
    this.advance(accountId, operation);
    const result: Json = { id: operation.id, status: operation.status };
    if (operation.completed) result.completed = operation.completed;
    if (operation.error) result.error = operation.error;
    return ok(result);
  }

  private advance(accountId: string, operation: BulkOperation): void {
    if (operation.status === 'completed' || operation.status === 'failed') return;
    if (operation.polls < operation.pollsBeforeCompletion) {
      operation.status = operation.polls === 0 ? 'pending' : 'running';
      operation.polls++;
      return;
    }
    this.finish(accountId, operation);
  }

  /** The operation ends: its change applies (or it fails) now. */
  private finish(accountId: string, operation: BulkOperation): void {
    const now = this.now();
    operation.completed = now;
    const error = operation.forcedFailure ?? this.applyOperation(accountId, operation, now);
    operation.status = error === undefined ? 'completed' : 'failed';
    if (error !== undefined) operation.error = error;
  }

  /** Applies the operation's change; returns the failure message instead when the account would overflow. */
  private applyOperation(accountId: string, operation: BulkOperation, now: string): string | undefined {
    const { list, change } = operation;
    if (!list || !change) return undefined;
    const items = change(list.items, now);
    const others = [...this.listsOf(accountId).values()].filter((l) => l !== list);
    const total = others.reduce((n, l) => n + l.items.size, items.size);
    if (total > MAX_LIST_ITEMS_PER_ACCOUNT) return 'This list is at the maximum number of items';
    list.items = items;
    return undefined;
  }
}

function pageOfItems(all: ListItem[], cursor: string | null, perPage: number): ListItem[] {
  if (!cursor) return all.slice(0, perPage);
  const { direction, seq } = decodeCursor(cursor);
  if (direction === 'after') return all.filter((i) => i.seq > seq).slice(0, perPage);
  const before = all.filter((i) => i.seq < seq);
  return before.slice(Math.max(0, before.length - perPage));
}

function guard(ctx: RouteContext, handle: (ctx: RouteContext) => Reply): Reply {
  try {
    return handle(ctx);
  } catch (error) {
    if (error instanceof ApiError) return errorReply(error);
    throw error;
  }
}

function assertId(id: string, what: string): void {
  if (!HEX32.test(id)) {
    throw new Error(`${what} "${id}" must be 32 lower-case hex characters, as Cloudflare's are`);
  }
}
