/**
 * The Cloudflare emulator's core: the API v4 server (`/client/v4`), authentication and token grants, the response
 * envelopes and errors, rate limiting and the pagination helpers every subject module (dns.ts, pools.ts, lists.ts,
 * tokens.ts) uses. The modules register with the emulator (index.ts); this file knows none of them.
 *
 * Contracts come from the `cloudflare` SDK (cloudflare/cloudflare-typescript, read at v7.1.0), the API schemas
 * (cloudflare/api-schemas `openapi.json`, 2024-08-06), the docs (cloudflare/cloudflare-docs) and error bodies quoted
 * in public issues. Where those are silent, this is what was chosen and why:
 *
 * Envelopes
 * - Success `{success:true, errors:[], messages:[], result, result_info?}`; failure `{success:false,
 *   errors:[{code, message, error_chain?}], messages:[], result:null}` (api-schemas `…_api-response-common` and
 *   `…-failure`). Every answer is `Content-Type: application/json`: the SDK parses a body as JSON only when it says so
 *   (SDK `src/internal/parse.ts`) and throws only for non-2xx statuses (`src/client.ts` makeRequest).
 * - Malformed ids in the path (zone, account, record, pool, list, operation: 32 lower-case hex): 400 7003 +
 *   7000 (cloudflare/cloudflare-go#118). The 7003 message carries the full path incl. /client/v4, as recent reports
 *   show (anomalyco/sst#5853). A path or method with no route gets the same answer.
 *
 * Auth
 * - No `Authorization` header: 400 `1001 Missing "Authorization" header` (no public source was found for this text;
 *   the status is assumed).
 * - A header that is not `Bearer <token>` with a token of at least 40 chars of [A-Za-z0-9_-]: 400 6003 with
 *   error_chain 6111 (jeessy2/ddns-go#658). Real tokens are 40 chars; a 37-char Global API Key sent as a token gets
 *   6111 (kissgyorgy/cloudflare-dyndns#40). Newer prefixed tokens are longer, hence "at least". `addToken` refuses
 *   a token the API would call malformed, so a test cannot depend on one.
 * - A body sent without `Content-Type: application/json`: 400 6003 with error_chain 6105 (observed in
 *   mcblum/ddclient-cloudflare-ubuntu#2).
 * - Unknown, disabled or expired token: 403 10000 "Authentication error" on every resource
 *   (terraform-provider-cloudflare#913/#1533). Token verification answers differently (tokens.ts).
 * - A token without a grant, or with `read` on a write: zone routes answer 403 10000 "Authentication error"
 *   (terraform-provider-cloudflare#913/#1533); account routes (pools, lists, bulk operations) answer 403 9109
 *   "Unauthorized to access requested resource" (octodns-cloudflare#60 and others saw 9109).
 *
 * Rate limiting
 * - throttle() answers 429 with code 971 "Please wait and consider throttling your request speed"
 *   (lablabs/cloudflare-exporter#74), `retry-after` in whole seconds and the `Ratelimit` / `Ratelimit-Policy` headers
 *   (docs `fundamentals/api/reference/limits`). The SDK retries 429 and obeys any Retry-After without a cap since v6
 *   (SDK `src/client.ts` retryRequest), so tests use `maxRetries: 0` or a small retry-after.
 *
 * Codes nobody has published are taken from the 99xxx block below, so no client mistakes them for real
 * ones: branch on the HTTP status, not on those codes.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  Emulator,
  route,
  type EmulatorOptions,
  type Reply,
  type Route,
  type RouteContext,
  type TlsIdentity,
} from '../emulator';

export interface CloudflareEmulatorOptions extends EmulatorOptions {
  tls?: TlsIdentity;
}

export type Grant = 'read' | 'edit';
export type TokenStatus = 'active' | 'disabled' | 'expired';

export interface TokenGrants {
  zones?: Record<string, Grant>;
  accounts?: Record<string, { loadBalancers?: Grant; lists?: Grant }>;
  status?: TokenStatus;
}

export type Json = Record<string, unknown>;

export interface CfError {
  code: number;
  message: string;
  error_chain?: CfError[];
}

const PREFIX = '/client/v4';

/** Error codes of refusals nobody has published, one per kind, so no client mistakes them for real ones. */
export const UNOBSERVED = {
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

export const HEX32 = /^[0-9a-f]{32}$/;
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{40,}$/;

// ---------------------------------------------------------------------------------------------------------
// Envelopes and errors

/** A Cloudflare error answer; thrown inside handlers and turned into a reply at the route boundary. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errors: CfError[],
  ) {
    super(errors.map((e) => `${e.code} ${e.message}`).join('; '));
  }
}

export function fail(status: number, code: number, message: string, chain?: CfError[]): ApiError {
  return new ApiError(status, [{ code, message, ...(chain ? { error_chain: chain } : {}) }]);
}

export function badBody(): ApiError {
  return fail(400, 9207, 'Request body is invalid.');
}

export function couldNotRoute(path: string): ApiError {
  return new ApiError(400, [
    { code: 7003, message: `Could not route to ${path}, perhaps your object identifier is invalid?` },
    { code: 7000, message: 'No route for that URI' },
  ]);
}

export function ok(result: unknown, resultInfo?: Json): Reply {
  const body: Json = { success: true, errors: [], messages: [], result };
  if (resultInfo) body.result_info = resultInfo;
  return { status: 200, body };
}

function errorReply(error: ApiError): Reply {
  return { status: error.status, body: { success: false, errors: error.errors, messages: [], result: null } };
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

export function newId(): string {
  return randomBytes(16).toString('hex');
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Seeds name ids as Cloudflare spells them. */
export function assertId(id: string, what: string): void {
  if (!HEX32.test(id)) {
    throw new Error(`${what} "${id}" must be 32 lower-case hex characters, as Cloudflare's are`);
  }
}

/** The 32-hex id in path parameter `param`, or 7003 for the whole path. */
export function pathId(ctx: RouteContext, param: string): string {
  const id = ctx.params[param] ?? '';
  if (!HEX32.test(id)) throw couldNotRoute(ctx.url.pathname);
  return id;
}

// ---------------------------------------------------------------------------------------------------------
// Pagination helpers

/** A positive integer query parameter (`page`, `per_page`) with its default and maximum. */
export function intParam(q: URLSearchParams, key: string, fallback: number, max: number): number {
  const raw = q.get(key);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw fail(400, UNOBSERVED.query, `${key} must be an integer between 1 and ${max}`);
  }
  return value;
}

/** An opaque cursor naming a position (a creation sequence number) and a direction. */
export function encodeCursor(direction: 'after' | 'before', seq: number): string {
  return Buffer.from(`${direction}:${seq}`).toString('base64url');
}

function decodeCursor(cursor: string): { direction: 'after' | 'before'; seq: number } {
  const [direction, seq] = Buffer.from(cursor, 'base64url').toString().split(':');
  if ((direction !== 'after' && direction !== 'before') || !/^\d+$/.test(seq ?? '')) {
    throw fail(400, UNOBSERVED.query, 'cursor is invalid');
  }
  return { direction, seq: Number(seq) };
}

/** The page of `all` (in sequence order) a cursor asks for: the first page without one. */
export function pageAtCursor<T extends { seq: number }>(
  all: T[],
  cursor: string | null,
  perPage: number,
): T[] {
  if (!cursor) return all.slice(0, perPage);
  const { direction, seq } = decodeCursor(cursor);
  if (direction === 'after') return all.filter((i) => i.seq > seq).slice(0, perPage);
  const before = all.filter((i) => i.seq < seq);
  return before.slice(Math.max(0, before.length - perPage));
}

// ---------------------------------------------------------------------------------------------------------
// The module contract

/** A route a module serves, under /client/v4. Handlers throw ApiError to answer with an error. */
export interface CloudflareRoute {
  /** As requests are counted and faults and throttle() name it, e.g. `dnsRecords.batch`. */
  name: string;
  method: string;
  /** Path template under /client/v4, e.g. `/zones/{zone}/dns_records/{id}`. */
  template: string;
  handle(ctx: RouteContext): Reply;
}

/** One subject of the API (DNS records, pools, lists, tokens): its routes, seeds, validation and wire shapes. */
export abstract class CloudflareModule {
  constructor(protected readonly core: CloudflareCore) {}

  abstract routes(): CloudflareRoute[];
}

export type ModuleClass = new (core: CloudflareCore) => CloudflareModule;

// ---------------------------------------------------------------------------------------------------------
// The core

export interface TokenState {
  id: string;
  grants: TokenGrants;
  status: TokenStatus;
}

export abstract class CloudflareCore extends Emulator {
  private readonly tokens = new Map<string, TokenState>();
  private readonly modules: CloudflareModule[];
  private readonly routeTable: Route[];
  private seq = 0;

  protected constructor(options: CloudflareEmulatorOptions, modules: ModuleClass[]) {
    super(options);
    this.modules = modules.map((Module) => new Module(this));
    this.routeTable = this.modules
      .flatMap((m) => m.routes())
      .map((r) => route(r.name, r.method, `${PREFIX}${r.template}`, (ctx) => guard(ctx, r.handle)));
  }

  /** The registered module of this class. */
  module<M extends CloudflareModule>(kind: abstract new (...args: never[]) => M): M {
    const found = this.modules.find((m) => m instanceof kind);
    if (!found) throw new Error(`no ${kind.name} is registered with this emulator`);
    return found as M;
  }

  /** What the SDK's `baseURL` is set to. */
  get baseUrl(): string {
    return `${this.url}${PREFIX}`;
  }

  // --- seeding ---------------------------------------------------------------------------------------------

  addToken(token: string, grants: TokenGrants): void {
    if (!TOKEN_FORMAT.test(token)) {
      throw new Error(
        'Cloudflare API tokens are at least 40 characters of [A-Za-z0-9_-]; the API answers 6003/6111 otherwise',
      );
    }
    this.tokens.set(token, { id: newId(), grants: clone(grants), status: grants.status ?? 'active' });
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

  // --- services for modules ------------------------------------------------------------------------------

  now(): string {
    return new Date().toISOString();
  }

  /** Creation order across the emulator, for stable sorting and cursors. */
  nextSeq(): number {
    return ++this.seq;
  }

  /** The token the request carries, if it was added. */
  tokenOf(ctx: RouteContext): TokenState | undefined {
    const token = /^Bearer (.*)$/i.exec(ctx.req.headers.authorization ?? '')?.[1];
    return token === undefined ? undefined : this.tokens.get(token);
  }

  /** The zone id of the path once the token may `access` it (7003 for a malformed id, 403 10000 without a grant). */
  authorizeZone(ctx: RouteContext, access: Grant): string {
    const zoneId = pathId(ctx, 'zone');
    const token = this.tokenOf(ctx);
    const grant = token?.status === 'active' ? token.grants.zones?.[zoneId] : undefined;
    if (!grant || (access === 'edit' && grant !== 'edit')) throw fail(403, 10000, 'Authentication error');
    return zoneId;
  }

  /** The account id of the path once the token may `access` the account's `product` (403 9109 otherwise). */
  authorizeAccount(ctx: RouteContext, product: 'loadBalancers' | 'lists', access: Grant): string {
    const accountId = pathId(ctx, 'account');
    const token = this.tokenOf(ctx);
    if (token?.status !== 'active') throw fail(403, 10000, 'Authentication error');
    const grant = token.grants.accounts?.[accountId]?.[product];
    if (!grant || (access === 'edit' && grant !== 'edit')) {
      throw fail(403, 9109, 'Unauthorized to access requested resource');
    }
    return accountId;
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
}

function guard(ctx: RouteContext, handle: (ctx: RouteContext) => Reply): Reply {
  try {
    return handle(ctx);
  } catch (error) {
    if (error instanceof ApiError) return errorReply(error);
    throw error;
  }
}
