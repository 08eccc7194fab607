/**
 * Application Insights ingestion ("Breeze") emulator: the endpoint an `IngestionEndpoint` of a connection string names,
 * served over HTTPS (the exporter rewrites http:// to https://). Independent of lib/ by design.
 *
 * What the installed SDK really sends (applicationinsights 3.16 over @azure/monitor-opentelemetry-exporter
 * 1.0.0-beta.47, read in node_modules and observed against this emulator):
 * - `POST /v2.1/track`, `Content-Type: application/json`, `Accept: application/json`, a JSON array of envelopes
 *   `{ ver, name, time, sampleRate, iKey, tags, data: { baseType, baseData } }`; `Authorization: Bearer <token>` when
 *   a credential is configured (scope https://monitor.azure.com/.default unless the connection string has AADAudience).
 * - gzip (`Content-Encoding: gzip`) only for https hosts under the Azure Monitor domains (gzipHttpClient.js), so never
 *   to 127.0.0.1; accepted here anyway, as is deflate and newline-delimited JSON (the v2 `x-json-stream` form).
 * - Live metrics (only when enabled): `POST /QuickPulseService.svc/ping|post?api-version=2024-04-01-preview&ikey=…`
 *   on the LiveEndpoint; answered "not subscribed" so a client that pings stops at that.
 * - Statsbeat goes to Microsoft's own ingestion hosts, never here; customer SDK stats would arrive here as
 *   `/v2.1/track` MetricData envelopes, which `envelopes` shows.
 *
 * Response bodies: `{"itemsReceived","itemsAccepted","errors":[{index,statusCode,message}]}`; 200 when every item is
 * accepted, 206 when some are, 400 when none are. Quoted from real traffic in public issues: "Invalid instrumentation
 * key" per item (appinsights-rs#221, ApplicationInsights-PHP#70) and "109: Field 'x' on type 'T' is required but missing
 * or empty. Expected: string, Actual: undefined" (azure-docs#42239; an Exception with an empty message is rejected
 * that way, ApplicationInsights-dotnet#2857). Invented where no real text was found: the 401/403 bodies (a resource with
 * local authentication disabled), the unreadable-body message, and the 404/405 bodies.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import {
  Emulator,
  route,
  type EmulatorOptions,
  type ParsedBody,
  type Reply,
  type Route,
  type TlsIdentity,
} from './emulator';

// ---------------------------------------------------------------------------------------------------------------
// Public types

export interface IngestionEmulatorOptions extends EmulatorOptions {
  tls: TlsIdentity;
  /**
   * When set, the resource has local authentication disabled: every request must carry `Authorization: Bearer <token>`
   * (401 without one, 403 with another).
   */
  token?: string;
}

/** A customEvents row as Application Insights stores it. */
export interface EventRecord {
  name: string;
  properties: Record<string, string>;
  measurements: Record<string, number>;
  time: string;
  iKey: string;
  tags: Record<string, string>;
}

/** An exceptions row: the outermost exception of the item. */
export interface ExceptionRecord {
  typeName: string;
  message: string;
  severityLevel: string;
  properties: Record<string, string>;
  measurements: Record<string, number>;
  time: string;
  iKey: string;
  tags: Record<string, string>;
}

interface ItemError {
  index: number;
  statusCode: number;
  message: string;
}

type Envelope = Record<string, unknown>;

/** One parsed line or array element, or why it could not be read. */
type Item = { envelope: Envelope } | { error: string };

// ---------------------------------------------------------------------------------------------------------------

export class IngestionEmulator extends Emulator {
  /** Every envelope of every track request that was read (accepted or not), in arrival order. */
  readonly envelopes: Envelope[] = [];
  /** Headers of every request (lower-case names), in arrival order, whatever its route or outcome. */
  readonly requestHeaders: Array<Record<string, string>> = [];

  private readonly token: string | undefined;
  private readonly accepted: Envelope[] = [];
  private readonly instrumentationKeys = new Set<string>();
  private readonly routeTable: Route[];
  /** badJson() gets no request; authenticate() runs just before it for the same request and keeps this. */

  private constructor(options: IngestionEmulatorOptions) {
    super(options);
    this.token = options.token;
    this.routeTable = [
      route('track', 'POST', '/v2.1/track', (ctx) => this.track(ctx.body)),
      route('track', 'POST', '/v2/track', (ctx) => this.track(ctx.body)),
      route('liveMetrics.ping', 'POST', '/QuickPulseService.svc/ping', () => this.quickPulse()),
      route('liveMetrics.post', 'POST', '/QuickPulseService.svc/post', () => this.quickPulse()),
    ];
  }

  static async start(options: IngestionEmulatorOptions): Promise<IngestionEmulator> {
    const emulator = new IngestionEmulator(options);
    await emulator.listen();
    return emulator;
  }

  /** A connection string for this endpoint; the key is accepted from now on (a fresh one when none is given). */
  connectionString(instrumentationKey: string = randomUUID()): string {
    this.instrumentationKeys.add(instrumentationKey.toLowerCase());
    return `InstrumentationKey=${instrumentationKey};IngestionEndpoint=${this.url}/;LiveEndpoint=${this.url}/`;
  }

  /** Accepted customEvents, optionally of one name. */
  events(name?: string): EventRecord[] {
    return this.acceptedOf('EventData')
      .map((envelope) => toEventRecord(envelope))
      .filter((event) => name === undefined || event.name === name);
  }

  /** Accepted exceptions. */
  exceptions(): ExceptionRecord[] {
    return this.acceptedOf('ExceptionData').map((envelope) => toExceptionRecord(envelope));
  }

  /** Forgets received telemetry, headers and request counts (not the instrumentation keys). */
  clear(): void {
    this.envelopes.length = 0;
    this.accepted.length = 0;
    this.requestHeaders.length = 0;
    this.resetCounts();
  }

  // ----- Emulator hooks ------------------------------------------------------------------------------------------

  protected routes(): Route[] {
    return this.routeTable;
  }

  protected override authenticate(req: IncomingMessage): Reply | undefined {
    this.requestHeaders.push(headersOf(req));
    if (this.token === undefined) return undefined;
    const authorization = req.headers.authorization;
    if (!authorization || !/^Bearer\s+\S/i.test(authorization)) {
      return breezeFailure(
        401,
        'Authorization is required: this resource accepts Microsoft Entra ID tokens only.',
      );
    }
    if (authorization.replace(/^Bearer\s+/i, '') !== this.token) {
      return breezeFailure(
        403,
        'The provided credentials are not authorized to send telemetry to this resource.',
      );
    }
    return undefined;
  }

  protected override commonHeaders(): Record<string, string> {
    return { 'x-ms-request-id': randomUUID() };
  }

  protected notFound(method: string, path: string): Reply {
    if (this.routeTable.some((r) => r.pattern.test(path))) {
      return {
        status: 405,
        body: { error: { code: 'MethodNotAllowed', message: `${method} is not allowed.` } },
      };
    }
    return { status: 404, body: { error: { code: 'NotFound', message: `No route for ${path}.` } } };
  }

  protected badJson(): Reply {
    return breezeFailure(400, 'The request body could not be decoded.');
  }

  /** Breeze takes gzip or deflate, and a JSON array, one envelope, or newline-delimited JSON. */
  protected override parseBody(raw: Buffer, req: IncomingMessage): ParsedBody {
    const text = decode(raw, (req.headers['content-encoding'] ?? 'identity').toLowerCase().trim());
    if (text === undefined) return { kind: 'reply', reply: this.badJson() };
    return { kind: 'parsed', text, body: text.trim() === '' ? [] : parseItems(text) };
  }

  // ----- ingestion -----------------------------------------------------------------------------------------------

  /** The body was parsed into items by parseBody (empty body: none). */
  private track(body: unknown): Reply {
    return this.trackItems(Array.isArray(body) ? (body as Item[]) : []);
  }

  private trackItems(items: Item[]): Reply {
    const errors: ItemError[] = [];
    items.forEach((item, index) => {
      if ('error' in item) {
        errors.push({ index, statusCode: 400, message: item.error });
        return;
      }
      this.envelopes.push(item.envelope);
      const problem = this.problemWith(item.envelope);
      if (problem) errors.push({ index, statusCode: 400, message: problem });
      else this.accepted.push(item.envelope);
    });
    const accepted = items.length - errors.length;
    const status = errors.length === 0 && items.length > 0 ? 200 : accepted > 0 ? 206 : 400;
    return { status, body: { itemsReceived: items.length, itemsAccepted: accepted, errors } };
  }

  private problemWith(envelope: Envelope): string | undefined {
    const iKey = envelope.iKey;
    if (typeof iKey !== 'string' || !this.instrumentationKeys.has(iKey.toLowerCase())) {
      return 'Invalid instrumentation key';
    }
    return (
      requiredString(envelope, 'name', 'Envelope') ??
      requiredString(envelope, 'time', 'Envelope') ??
      problemWithData(envelope.data)
    );
  }

  private quickPulse(): Reply {
    return {
      status: 200,
      headers: {
        'x-ms-qps-subscribed': 'false',
        'x-ms-qps-service-polling-interval-hint': '60000',
        'x-ms-qps-configuration-etag': '',
      },
      body: { ETag: '', Metrics: [], DocumentStreams: [], QuotaInfo: null },
    };
  }

  private acceptedOf(baseType: string): Envelope[] {
    return this.accepted.filter((envelope) => recordOf(envelope.data).baseType === baseType);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const notAnEnvelope: Item = { error: 'Invalid telemetry item: expected a JSON object.' };

/** The body as text, decompressed as its Content-Encoding says; undefined when it cannot be decoded. */
function decode(raw: Buffer, encoding: string): string | undefined {
  try {
    if (encoding === 'identity') return raw.toString('utf8');
    if (encoding === 'gzip') return gunzipSync(raw).toString('utf8');
    if (encoding === 'deflate') return inflateSync(raw).toString('utf8');
    return undefined;
  } catch {
    return undefined;
  }
}

/** The items of a JSON array, or the one item of a JSON object. */
function itemsOf(body: unknown): Item[] {
  const elements = Array.isArray(body) ? body : [body];
  return elements.map((element): Item => (isRecord(element) ? { envelope: element } : notAnEnvelope));
}

/** A JSON array or object, or else one JSON document per non-empty line. */
function parseItems(text: string): Item[] {
  try {
    return itemsOf(JSON.parse(text));
  } catch {
    return text
      .split(/\r?\n/)
      .filter((line) => line.trim() !== '')
      .map((line): Item => {
        try {
          const element: unknown = JSON.parse(line);
          return isRecord(element) ? { envelope: element } : notAnEnvelope;
        } catch {
          return { error: 'Invalid JSON: the telemetry item could not be parsed.' };
        }
      });
  }
}

function problemWithData(data: unknown): string | undefined {
  if (!isRecord(data)) return missing('data', 'Envelope', data, 'object');
  const baseType = data.baseType;
  if (typeof baseType !== 'string' || baseType === '') return missing('baseType', 'Data', baseType);
  const baseData = data.baseData;
  if (!isRecord(baseData)) return missing('baseData', 'Data', baseData, 'object');
  switch (baseType) {
    case 'EventData':
      return requiredString(baseData, 'name', 'EventData');
    case 'MessageData':
      return requiredString(baseData, 'message', 'MessageData');
    case 'ExceptionData':
      return problemWithExceptions(baseData.exceptions);
    default:
      return undefined;
  }
}

function problemWithExceptions(exceptions: unknown): string | undefined {
  if (!Array.isArray(exceptions) || exceptions.length === 0) {
    return missing('exceptions', 'ExceptionData', exceptions, 'array');
  }
  for (const details of exceptions) {
    const detail = recordOf(details);
    const problem =
      requiredString(detail, 'typeName', 'ExceptionDetails') ??
      requiredString(detail, 'message', 'ExceptionDetails');
    if (problem) return problem;
  }
  return undefined;
}

function requiredString(record: Record<string, unknown>, field: string, type: string): string | undefined {
  const value = record[field];
  return typeof value === 'string' && value !== '' ? undefined : missing(field, type, value);
}

function missing(field: string, type: string, actual: unknown, expected = 'string'): string {
  const shown =
    actual === undefined ? 'undefined' : typeof actual === 'string' ? actual : JSON.stringify(actual);
  return `109: Field '${field}' on type '${type}' is required but missing or empty. Expected: ${expected}, Actual: ${shown}`;
}

function breezeFailure(status: number, message: string): Reply {
  return {
    status,
    body: { itemsReceived: 0, itemsAccepted: 0, errors: [{ index: 0, statusCode: status, message }] },
  };
}

function toEventRecord(envelope: Envelope): EventRecord {
  const baseData = recordOf(recordOf(envelope.data).baseData);
  return {
    name: String(baseData.name),
    properties: stringsOf(baseData.properties),
    measurements: numbersOf(baseData.measurements),
    ...envelopeFields(envelope),
  };
}

function toExceptionRecord(envelope: Envelope): ExceptionRecord {
  const baseData = recordOf(recordOf(envelope.data).baseData);
  const first = recordOf(Array.isArray(baseData.exceptions) ? baseData.exceptions[0] : undefined);
  return {
    typeName: String(first.typeName),
    message: String(first.message),
    severityLevel: String(baseData.severityLevel ?? ''),
    properties: stringsOf(baseData.properties),
    measurements: numbersOf(baseData.measurements),
    ...envelopeFields(envelope),
  };
}

function envelopeFields(envelope: Envelope): { time: string; iKey: string; tags: Record<string, string> } {
  return { time: String(envelope.time), iKey: String(envelope.iKey), tags: stringsOf(envelope.tags) };
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** Application Insights stores custom dimensions as strings. */
function stringsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(recordOf(value)))
    out[key] = typeof v === 'string' ? v : JSON.stringify(v);
  return out;
}

function numbersOf(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(recordOf(value))) if (typeof v === 'number') out[key] = v;
  return out;
}
