/**
 * Azure Resource Graph (POST /providers/Microsoft.ResourceGraph/resources): the KQL subset a reconciler sends, over
 * the rows the other providers contribute (every APIM service) and those addGraphResource() adds.
 *
 * - Request and response: Azure/azure-rest-api-specs `specification/resourcegraph/resource-manager/
 *   Microsoft.ResourceGraph/stable/2024-04-01/resourcegraph.json` (QueryRequest {query, subscriptions?,
 *   managementGroups?, options{$top 1–1000, $skip, $skipToken, resultFormat}}; QueryResponse {totalRecords, count,
 *   resultTruncated as a STRING, $skipToken?, data, facets}).
 * - Not KQL: the query shapes a reconciler sends are parsed — `resources` then `| where` (`type`, `name`, `location`,
 *   `resourceGroup`, `subscriptionId`, `tags['k']`/`tags["k"]`/`tags.k` with == =~ != !~, joined by `and`),
 *   `| project <columns>`, `| order by|sort by <column> [asc|desc]` (KQL's default is desc). Anything else is refused
 *   with ARG's real envelope: 400 BadRequest "Please provide below info when asking for support: timestamp = …,
 *   correlationId = …." with details InvalidQuery + ParserFailure {line, characterPositionInLine, token}
 *   (azure-powershell ResourceGraph tests). Column names and tag KEYS are case-sensitive (KQL property lookup; ARG
 *   keeps tag names as spelled — from memory, not verified here); `=~` compares values case-insensitively.
 * - Rows: every setApim service (type lower-cased, location like "westeurope", resourceGroup lower-cased, properties
 *   as the 2024-05-01 GET returns them) plus addGraphResource rows, live (no indexing lag).
 * - Scopes (real, 2026 observation quoted in public code): a subscription the caller cannot read is skipped SILENTLY
 *   (200, no hint; allowPartialScopes changes nothing); only when none is readable: 400 NoValidSubscriptionsInQueryRequest
 *   (text invented); a malformed one: SubscriptionsContainInvalidGuids (text invented). Readable = seeded and not
 *   forbid()den for read at /subscriptions/{id}; rows under a forbidden scope are filtered out (per-resource RBAC).
 *   managementGroups are accepted and treated as "every readable subscription".
 * - Paging: options.$top (1–1000, default 100 or `graphPageSize`), $skip, $skipToken (opaque, bound to the query and
 *   scopes; a foreign one is 400 InvalidSkipToken, invented). Body keys in real order: totalRecords, count, data,
 *   facets, resultTruncated (a STRING), $skipToken (only while rows remain). Without `id` in the projection ARG cannot
 *   page: resultTruncated "true" and no $skipToken. resultFormat "table" → data {columns:[{name,type}], rows}.
 * - Throttling (real headers and 429 body, public Go client comment of 2023 traffic; Microsoft Learn
 *   "guidance-for-throttled-requests"): every answer carries x-ms-user-quota-remaining and
 *   x-ms-user-quota-resets-after (hh:mm:ss); past the quota (`graphQuota`, default 15 per 5 s) → 429 RateLimiting
 *   "Client application has been throttled …" with Retry-After. A query counts as a tenant read.
 */
import { createHash } from 'node:crypto';
import type { Reply } from '../emulator';
import {
  ArmProvider,
  TENANT_ID,
  type ApiVersionRule,
  type ArmCore,
  type ArmCoreOptions,
  type ArmRequest,
  type ArmRoute,
} from './core';
import {
  ArmFailure,
  GUID,
  isRecord,
  isStringArray,
  netTimestamp,
  normalizeLocation,
  resourceTypeOf,
} from './wire';

export interface ResourceGraphOptions extends ArmCoreOptions {
  /** Resource Graph rows per page when the request has no options.$top (default 100). */
  graphPageSize?: number;
  /** Resource Graph per-user quota (default 15 queries per 5-second window; windowSeconds may be fractional). */
  graphQuota?: { requests: number; windowSeconds: number };
}

// prettier-ignore
const GRAPH_VERSIONS = [
  '2018-09-01-preview', '2019-04-01', '2020-04-01-preview', '2020-09-01-preview', '2021-03-01', '2021-06-01-preview',
  '2022-10-01', '2024-04-01',
];

// prettier-ignore
const GRAPH_COLUMNS = [
  'id', 'name', 'type', 'tenantId', 'kind', 'location', 'resourceGroup', 'subscriptionId', 'managedBy', 'sku', 'plan',
  'properties', 'tags', 'identity', 'zones', 'extendedLocation',
];
const GRAPH_STRING_COLUMNS = [
  'id',
  'name',
  'type',
  'tenantId',
  'kind',
  'location',
  'resourceGroup',
  'subscriptionId',
  'managedBy',
];
const GRAPH_MAX_TOP = 1000;
const GRAPH_INVALID_QUERY = {
  code: 'InvalidQuery',
  message:
    'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error ' +
    'before retrying.',
};

// ---------------------------------------------------------------------------------------------------------------
// The provider

export class ResourceGraph extends ArmProvider {
  private readonly rows: Array<Record<string, unknown>> = [];
  private readonly window = { start: 0, used: 0 };
  private readonly pageSize: number;
  private readonly quota: { requests: number; windowSeconds: number };

  constructor(core: ArmCore, options: ResourceGraphOptions) {
    super(core);
    this.pageSize = options.graphPageSize ?? 100;
    this.quota = options.graphQuota ?? { requests: 15, windowSeconds: 5 };
  }

  routes(): ArmRoute[] {
    return [
      {
        name: 'resourceGraph.query',
        method: 'POST',
        template: '/providers/Microsoft.ResourceGraph/resources',
        action: 'Microsoft.ResourceGraph/resources/read',
        readOnly: true,
        handle: (r) => this.query(r),
      },
    ];
  }

  override apiVersions(): ApiVersionRule[] {
    return [{ namespace: 'Microsoft.ResourceGraph', versions: GRAPH_VERSIONS }];
  }

  override tenantPaths(): RegExp {
    return /^\/providers\/Microsoft\.ResourceGraph\//i;
  }

  override graphRows(): Array<Record<string, unknown>> {
    return this.rows.map((row) => structuredClone(row));
  }

  // ----- seeding -------------------------------------------------------------------------------------------------

  /**
   * Adds a Resource Graph row (beside the APIM services, which are indexed automatically). `id` is required; the
   * rest defaults as ARG fills it (type from the id, lower-cased; subscriptionId and resourceGroup from the id,
   * lower-cased; location normalized). The row's subscription becomes one the caller can read.
   */
  add(row: Record<string, unknown>): void {
    const id = row.id;
    if (typeof id !== 'string' || !id.startsWith('/'))
      throw new Error('a Resource Graph row needs a resource id');
    const scope = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?/i.exec(id);
    const target = resourceTypeOf(id);
    const defaults: Record<string, unknown> = {
      id,
      name: id.split('/').pop() ?? '',
      type: target ? `${target.namespace}/${target.type}` : '',
      tenantId: TENANT_ID,
      kind: '',
      location: '',
      resourceGroup: scope?.[2] ?? '',
      subscriptionId: scope?.[1] ?? '',
      managedBy: '',
      sku: null,
      plan: null,
      properties: {},
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
    };
    const merged = { ...defaults, ...structuredClone(row) };
    for (const field of ['type', 'resourceGroup', 'subscriptionId'] as const) {
      merged[field] = String(merged[field]).toLowerCase();
    }
    if (typeof merged.location === 'string') merged.location = normalizeLocation(merged.location);
    const subscription = String(merged.subscriptionId);
    if (subscription) this.core.registerSubscription(subscription);
    this.rows.push(merged);
  }

  // ----- the query -----------------------------------------------------------------------------------------------

  private query(r: ArmRequest): Reply {
    const started = process.hrtime.bigint();
    const quota = this.takeQuota();
    const withQuota = (reply: Reply): Reply => {
      const ticks = Number((process.hrtime.bigint() - started) / 100n);
      const duration = `0:00:00:${String(Math.floor(ticks / 10_000_000)).padStart(2, '0')}.${String(ticks % 10_000_000).padStart(7, '0')}`;
      return {
        ...reply,
        headers: {
          ...(reply.headers ?? {}),
          ...quota.headers,
          'x-ms-resource-graph-request-duration': duration,
        },
      };
    };
    try {
      if (!quota.granted) {
        throw new ArmFailure(429, 'RateLimiting', this.supportMessage(), {
          details: [
            {
              code: 'RateLimiting',
              message:
                'Client application has been throttled and should not attempt to repeat the request until an amount ' +
                'of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
            },
          ],
          headers: { 'Retry-After': String(quota.retryAfter) },
        });
      }
      return withQuota(this.answer(r));
    } catch (error) {
      if (error instanceof ArmFailure) return withQuota(error.reply());
      throw error;
    }
  }

  private supportMessage(): string {
    return (
      `Please provide below info when asking for support: timestamp = ${netTimestamp()}, ` +
      `correlationId = ${this.core.lastCorrelationId}.`
    );
  }

  private failure(details: Array<Record<string, unknown>>): ArmFailure {
    return new ArmFailure(400, 'BadRequest', this.supportMessage(), { details });
  }

  private invalidQuery(token: { line: number; column: number; text: string }): ArmFailure {
    return this.failure([
      GRAPH_INVALID_QUERY,
      {
        code: 'ParserFailure',
        message: 'ParserFailure',
        line: token.line,
        characterPositionInLine: token.column,
        token: token.text,
      },
    ]);
  }

  private takeQuota(): { granted: boolean; retryAfter: number; headers: Record<string, string> } {
    const now = Date.now();
    const windowMs = this.quota.windowSeconds * 1000;
    if (now - this.window.start >= windowMs) Object.assign(this.window, { start: now, used: 0 });
    const granted = this.window.used < this.quota.requests;
    if (granted) this.window.used++;
    const resetsIn = (this.window.start + windowMs - now) / 1000;
    return {
      granted,
      retryAfter: Math.max(1, Math.ceil(resetsIn)),
      headers: {
        'x-ms-user-quota-remaining': String(this.quota.requests - this.window.used),
        'x-ms-user-quota-resets-after': hhmmss(resetsIn),
      },
    };
  }

  private answer(r: ArmRequest): Reply {
    const body = isRecord(r.ctx.body) ? r.ctx.body : {};
    const query = typeof body.query === 'string' ? body.query : '';
    if (query.trim() === '') throw this.invalidQuery({ line: 1, column: 0, text: '<EOF>' });
    let steps: KqlStep[];
    try {
      steps = parseGraphQuery(query);
    } catch (error) {
      if (error instanceof KqlError) throw this.invalidQuery(error.token);
      throw error;
    }
    const scopes = this.scopes(body.subscriptions);
    const options = isRecord(body.options) ? body.options : {};
    const top = this.option(options, '$top', 1, GRAPH_MAX_TOP) ?? this.pageSize;
    const skip = this.option(options, '$skip', 0, Number.MAX_SAFE_INTEGER);
    const format = options.resultFormat ?? 'objectArray';
    if (typeof format !== 'string' || !['objectarray', 'table'].includes(format.toLowerCase())) {
      throw this.failure([
        { code: 'InvalidQueryRequestOptions', message: `resultFormat must be 'objectArray' or 'table'.` },
      ]);
    }
    const result = runGraphQuery(steps, this.visibleRows(scopes));
    const binding = createHash('sha256')
      .update(JSON.stringify([query, [...scopes].sort()]))
      .digest('base64url')
      .slice(0, 16);
    let offset = this.skipTokenOffset(options.$skipToken, binding) ?? 0;
    if (skip !== undefined) offset = skip;
    const rows = result.slice(offset, offset + top);
    const more = offset + top < result.length;
    const projection = [...steps].reverse().find((s) => s.kind === 'project');
    const columns = projection?.kind === 'project' ? projection.columns : GRAPH_COLUMNS;
    const pageable = columns.includes('id');
    const out: Record<string, unknown> = {
      totalRecords: result.length,
      count: rows.length,
      data:
        format.toLowerCase() === 'table'
          ? {
              columns: columns.map((name) => ({
                name,
                type: GRAPH_STRING_COLUMNS.includes(name) ? 'string' : 'object',
              })),
              rows: rows.map((row) => columns.map((c) => row[c] ?? null)),
            }
          : rows,
      facets: [],
      resultTruncated: more && !pageable ? 'true' : 'false',
    };
    if (more && pageable) {
      out.$skipToken = Buffer.from(JSON.stringify({ o: offset + top, b: binding })).toString('base64');
    }
    return { status: 200, body: out };
  }

  private option(
    options: Record<string, unknown>,
    name: string,
    min: number,
    max: number,
  ): number | undefined {
    const value = options[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.failure([
        {
          code: 'InvalidQueryRequestOptions',
          message: `${name} must be an integer between ${min} and ${max === Number.MAX_SAFE_INTEGER ? 'infinity' : max}.`,
        },
      ]);
    }
    return value;
  }

  /** The offset a $skipToken issued here stands for; a token from another query or scope is refused. */
  private skipTokenOffset(token: unknown, binding: string): number | undefined {
    if (token === undefined || token === null) return undefined;
    let decoded: unknown;
    try {
      decoded =
        typeof token === 'string' ? JSON.parse(Buffer.from(token, 'base64').toString('utf8')) : undefined;
    } catch {
      decoded = undefined;
    }
    if (!isRecord(decoded) || decoded.b !== binding || typeof decoded.o !== 'number') {
      throw this.failure([
        {
          code: 'InvalidSkipToken',
          message:
            'The $skipToken is invalid. Send it with the same query and scopes as the request it came from.',
        },
      ]);
    }
    return decoded.o;
  }

  /** Lower-cased subscriptions the query runs over: the readable ones among those requested (or all readable). */
  private scopes(requested: unknown): string[] {
    const readable = this.core
      .subscriptionIds()
      .filter((s) => !this.core.isForbidden(`/subscriptions/${s}`, 'read'))
      .map((s) => s.toLowerCase());
    if (requested === undefined || requested === null) return readable;
    if (!isStringArray(requested)) {
      throw this.failure([
        { code: 'InvalidRequestContent', message: 'subscriptions must be an array of subscription ids.' },
      ]);
    }
    if (requested.length === 0) return readable;
    const malformed = requested.filter((s) => !GUID.test(s));
    if (malformed.length > 0) {
      throw this.failure([
        {
          code: 'SubscriptionsContainInvalidGuids',
          message: `The subscriptions in the request are not valid GUIDs: ${malformed.join(', ')}.`,
        },
      ]);
    }
    const wanted = [...new Set(requested.map((s) => s.toLowerCase()))].filter((s) => readable.includes(s));
    if (wanted.length === 0) {
      throw this.failure([
        {
          code: 'NoValidSubscriptionsInQueryRequest',
          message: 'There must be at least one subscription the caller has access to in the query request.',
        },
      ]);
    }
    return wanted;
  }

  /** Every provider's rows (APIM services first, then addGraphResource rows) the caller may read. */
  private visibleRows(scopes: string[]): Array<Record<string, unknown>> {
    return this.core
      .graphRows()
      .filter(
        (row) =>
          scopes.includes(String(row.subscriptionId).toLowerCase()) &&
          !this.core.isForbidden(String(row.id), 'read'),
      );
  }
}

/** "00:00:05" */
function hhmmss(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const part = (n: number) => String(n).padStart(2, '0');
  return `${part(Math.floor(s / 3600))}:${part(Math.floor((s % 3600) / 60))}:${part(s % 60)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// The KQL subset: the query shapes a reconciler sends

interface KqlToken {
  kind: 'word' | 'string' | 'number' | 'symbol' | 'end';
  text: string;
  /** The string's value for `string` tokens, else the text. */
  value: string;
  line: number;
  column: number;
}

class KqlError extends Error {
  constructor(readonly token: KqlToken) {
    super(`unexpected ${token.text}`);
  }
}

type KqlOperator = '==' | '=~' | '!=' | '!~';

interface KqlPredicate {
  column: string;
  /** Set for `tags['key']` / `tags.key`. */
  tagKey?: string;
  operator: KqlOperator;
  value: string;
}

type KqlStep =
  | { kind: 'where'; predicates: KqlPredicate[] }
  | { kind: 'project'; columns: string[] }
  | { kind: 'order'; column: string; descending: boolean };

function tokenizeKql(query: string): KqlToken[] {
  const tokens: KqlToken[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const at = (start: number, kind: KqlToken['kind'], text: string, value = text): KqlToken => ({
    kind,
    text,
    value,
    line,
    column: start - lineStart,
  });
  while (i < query.length) {
    const c = query[i] as string;
    if (c === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (query.startsWith('//', i)) {
      while (i < query.length && query[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      while (i < query.length && query[i] !== c && query[i] !== '\n') {
        if (query[i] === '\\' && i + 1 < query.length) i++;
        value += query[i];
        i++;
      }
      if (query[i] !== c) throw new KqlError(at(start, 'symbol', query.slice(start, i)));
      i++;
      tokens.push(at(start, 'string', query.slice(start, i), value));
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(i));
    if (word) {
      i += word[0].length;
      tokens.push(at(start, 'word', word[0]));
      continue;
    }
    const number = /^\d+/.exec(query.slice(i));
    if (number) {
      i += number[0].length;
      tokens.push(at(start, 'number', number[0]));
      continue;
    }
    const symbol = /^(==|=~|!=|!~|[|()[\],.=<>!~+\-*/;:])/.exec(query.slice(i));
    if (!symbol) throw new KqlError(at(start, 'symbol', c));
    i += symbol[0].length;
    tokens.push(at(start, 'symbol', symbol[0]));
  }
  tokens.push(at(i, 'end', '<EOF>'));
  return tokens;
}

/** Parses the supported shapes, checking column names against what each step leaves available. */
function parseGraphQuery(query: string): KqlStep[] {
  const tokens = tokenizeKql(query);
  let pos = 0;
  const peek = (): KqlToken => tokens[pos] as KqlToken;
  const next = (): KqlToken => tokens[pos++] as KqlToken;
  const expect = (test: (t: KqlToken) => boolean): KqlToken => {
    const token = next();
    if (!test(token)) throw new KqlError(token);
    return token;
  };
  const isWord = (t: KqlToken, ...words: string[]) => t.kind === 'word' && words.includes(t.text);
  const isSymbol = (t: KqlToken, ...symbols: string[]) => t.kind === 'symbol' && symbols.includes(t.text);
  let available = [...GRAPH_COLUMNS];
  const column = (): string => {
    const token = expect((t) => t.kind === 'word');
    if (!available.includes(token.text)) throw new KqlError(token);
    return token.text;
  };

  const table = expect((t) => t.kind === 'word');
  if (table.text.toLowerCase() !== 'resources') throw new KqlError(table);
  const steps: KqlStep[] = [];
  while (peek().kind !== 'end') {
    expect((t) => isSymbol(t, '|'));
    const operator = next();
    if (isWord(operator, 'where')) {
      const predicates: KqlPredicate[] = [];
      for (;;) {
        const name = column();
        let tagKey: string | undefined;
        if (name === 'tags') {
          if (isSymbol(peek(), '[')) {
            next();
            tagKey = expect((t) => t.kind === 'string').value;
            expect((t) => isSymbol(t, ']'));
          } else {
            expect((t) => isSymbol(t, '.'));
            tagKey = expect((t) => t.kind === 'word').text;
          }
        } else if (!GRAPH_STRING_COLUMNS.includes(name)) {
          throw new KqlError(peek());
        }
        const op = expect((t) => isSymbol(t, '==', '=~', '!=', '!~')).text as KqlOperator;
        const value = expect((t) => t.kind === 'string').value;
        predicates.push({ column: name, tagKey, operator: op, value });
        if (!isWord(peek(), 'and')) break;
        next();
      }
      steps.push({ kind: 'where', predicates });
    } else if (isWord(operator, 'project')) {
      const columns = [column()];
      while (isSymbol(peek(), ',')) {
        next();
        columns.push(column());
      }
      available = columns;
      steps.push({ kind: 'project', columns });
    } else if (isWord(operator, 'order', 'sort')) {
      expect((t) => isWord(t, 'by'));
      const name = column();
      let descending = true;
      if (isWord(peek(), 'asc', 'desc')) descending = next().text === 'desc';
      steps.push({ kind: 'order', column: name, descending });
    } else {
      throw new KqlError(operator);
    }
  }
  return steps;
}

function kqlMatches(row: Record<string, unknown>, p: KqlPredicate): boolean {
  let actual: unknown = row[p.column];
  if (p.tagKey !== undefined) actual = isRecord(actual) ? actual[p.tagKey] : undefined;
  if (typeof actual !== 'string') return p.operator === '!=' || p.operator === '!~';
  const insensitive = p.operator === '=~' || p.operator === '!~';
  const equal = insensitive ? actual.toLowerCase() === p.value.toLowerCase() : actual === p.value;
  return p.operator === '==' || p.operator === '=~' ? equal : !equal;
}

function runGraphQuery(
  steps: KqlStep[],
  rows: Array<Record<string, unknown>>,
): Array<Record<string, unknown>> {
  let out = rows;
  for (const step of steps) {
    if (step.kind === 'where') out = out.filter((row) => step.predicates.every((p) => kqlMatches(row, p)));
    else if (step.kind === 'project') {
      out = out.map((row) => Object.fromEntries(step.columns.map((c) => [c, row[c] ?? null])));
    } else {
      const sign = step.descending ? -1 : 1;
      out = [...out].sort((a, b) => sign * compareKql(a[step.column], b[step.column]));
    }
  }
  return out;
}

/** Ordinal comparison, as KQL sorts strings; anything else by its JSON text. */
function compareKql(a: unknown, b: unknown): number {
  const x = typeof a === 'string' ? a : JSON.stringify(a ?? null);
  const y = typeof b === 'string' ? b : JSON.stringify(b ?? null);
  return x < y ? -1 : x > y ? 1 : 0;
}
