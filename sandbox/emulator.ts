import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

/**
 * What the emulators share: an HTTP(S) server on 127.0.0.1 with an ephemeral port, request counters by
 * method and route, and per-route fault injection. Knows nothing of Azure or Cloudflare.
 */

export interface TlsIdentity {
  cert: string;
  key: string;
}

/** A fault injected on a route. Applies to the next `times` matching requests (default 1). */
export interface Fault {
  /** Route name as the emulator names it (e.g. `securityRule.put`), or `*` for every route. */
  route: string;
  /** Only requests with this method (default any). */
  method?: string;
  times?: number;
  /** Answer with this status (and `body`, `headers`) instead of handling the request. */
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Delay before answering. A request with no injected answer is handled first, so a write is applied and only
   * its answer is late (a client that gives up on it has changed the resource all the same).
   */
  latencyMs?: number;
  /** Destroy the connection without answering. */
  reset?: boolean;
  /** Send this raw text with a JSON content type (malformed JSON). */
  rawBody?: string;
  /** Let the emulator change the resource before handling the request, as a concurrent writer would. */
  concurrentModification?: boolean;
}

/** Orders requests across every emulator of the process, e.g. to show an allowlist write came before a DNS batch. */
let sequence = 0;

export interface RequestRecord {
  /** Position among all requests answered by any emulator in this process. */
  seq: number;
  method: string;
  route: string;
  path: string;
  status: number;
}

export interface RouteContext {
  req: IncomingMessage;
  url: URL;
  method: string;
  params: Record<string, string>;
  body: unknown;
  rawBody: string;
  /** True when an injected fault asked for a concurrent modification before this request. */
  concurrentModification: boolean;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ParsedBody = { kind: 'parsed'; text: string; body: unknown } | { kind: 'reply'; reply: Reply };

export interface Route {
  name: string;
  method: string;
  pattern: RegExp;
  /** Names of the pattern's capture groups, in order. */
  keys: string[];
  handle(ctx: RouteContext): Reply | Promise<Reply>;
}

export interface EmulatorOptions {
  tls?: TlsIdentity;
  /** Added to every response (simulated network latency). */
  latencyMs?: number;
}

/** Builds a route from a path template such as `/zones/{zone}/dns_records/{id}` (case-insensitive). */
export function route(
  name: string,
  method: string,
  template: string,
  handle: (ctx: RouteContext) => Reply | Promise<Reply>,
): Route {
  const keys: string[] = [];
  const source = template
    .split('/')
    .map((segment) => {
      const m = /^\{(\w+)\}$/.exec(segment);
      if (!m) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      keys.push(m[1] as string);
      return '([^/]+)';
    })
    .join('/');
  return { name, method, pattern: new RegExp(`^${source}/?$`, 'i'), keys, handle };
}

export abstract class Emulator {
  readonly requests: RequestRecord[] = [];
  latencyMs: number;
  private faults: Fault[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private serverUrl = '';

  protected constructor(private readonly options: EmulatorOptions) {
    this.latencyMs = options.latencyMs ?? 0;
  }

  protected abstract routes(): Route[];

  /** Answer for a path no route matches, or a method a matched path does not allow. */
  protected abstract notFound(method: string, path: string): Reply;

  /** Answer for a request whose body is not valid JSON. */
  protected abstract badJson(): Reply;

  /** Checked before routing; return a reply to refuse the request (e.g. authentication). */
  protected authenticate(_req: IncomingMessage, _url: URL): Reply | undefined {
    return undefined;
  }

  /**
   * Turns a request's bytes into text and a value for the route: UTF-8 JSON by default, `badJson()` when it
   * does not parse. An emulator whose service takes other encodings (gzip, NDJSON) overrides this.
   */
  protected parseBody(raw: Buffer, _req: IncomingMessage): ParsedBody {
    const text = raw.toString('utf8');
    if (text.length === 0) return { kind: 'parsed', text, body: undefined };
    try {
      return { kind: 'parsed', text, body: JSON.parse(text) };
    } catch {
      return { kind: 'reply', reply: this.badJson() };
    }
  }

  /** Headers added to every response. */
  protected commonHeaders(_req: IncomingMessage): Record<string, string> {
    return {};
  }

  get url(): string {
    return this.serverUrl;
  }

  async listen(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.dispatch(req, res).catch((error: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'EmulatorError', message: String(error) } }));
        }
      });
    };
    this.server = this.options.tls
      ? createHttpsServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler)
      : createHttpServer(handler);
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = this.server.address() as AddressInfo;
    this.serverUrl = `${this.options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Number of requests seen, optionally only those of one method and/or route. */
  count(filter: { method?: string; route?: string } = {}): number {
    return this.requests.filter(
      (r) =>
        (filter.method === undefined || r.method === filter.method.toUpperCase()) &&
        (filter.route === undefined || r.route === filter.route),
    ).length;
  }

  /** Requests that could change state: anything but GET/HEAD and the routes `readOnlyRoutes` names. */
  writes(): number {
    return this.requests.filter(
      (r) => r.method !== 'GET' && r.method !== 'HEAD' && !this.readOnlyRoutes.has(r.route),
    ).length;
  }

  /** Routes that use POST to read (a query API), not counted as writes. */
  protected readonly readOnlyRoutes: ReadonlySet<string> = new Set();

  /** Counts by `METHOD route`, for tables and assertions. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.requests) out[`${r.method} ${r.route}`] = (out[`${r.method} ${r.route}`] ?? 0) + 1;
    return out;
  }

  resetCounts(): void {
    this.requests.length = 0;
    this.maxInFlight = this.inFlight;
  }

  /** Requests being handled right now, and the most there were at once since the last resetCounts(). */
  inFlight = 0;
  maxInFlight = 0;

  inject(fault: Fault): void {
    this.faults.push({ times: 1, ...fault });
  }

  clearFaults(): void {
    this.faults = [];
  }

  private takeFault(method: string, routeName: string): Fault | undefined {
    const fault = this.faults.find(
      (f) => (f.route === '*' || f.route === routeName) && (!f.method || f.method.toUpperCase() === method),
    );
    if (!fault) return undefined;
    fault.times = (fault.times ?? 1) - 1;
    if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    res.on('close', () => this.inFlight--);
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://emulator');
    const raw = await readBody(req);
    const common = this.commonHeaders(req);
    const send = async (routeName: string, reply: Reply, extraLatency = 0) => {
      const delay = this.latencyMs + extraLatency;
      if (delay > 0) await sleep(delay);
      this.requests.push({
        seq: ++sequence,
        method,
        route: routeName,
        path: url.pathname,
        status: reply.status,
      });
      const headers: Record<string, string> = { ...common, ...(reply.headers ?? {}) };
      if (reply.body === undefined) {
        res.writeHead(reply.status, headers);
        res.end();
        return;
      }
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json; charset=utf-8';
      }
      res.writeHead(reply.status, headers);
      res.end(text);
    };

    const refused = this.authenticate(req, url);
    const matches = this.routes().filter((r) => r.pattern.test(url.pathname));
    const matched = matches.find((r) => r.method === method);
    const routeName = matched?.name ?? (matches[0] ? 'methodNotAllowed' : 'notFound');

    const fault = this.takeFault(method, routeName);
    if (fault?.reset) {
      this.requests.push({ seq: ++sequence, method, route: routeName, path: url.pathname, status: 0 });
      if (fault.latencyMs) await sleep(fault.latencyMs);
      req.socket.destroy();
      return;
    }
    if (fault && fault.rawBody !== undefined) {
      return send(
        routeName,
        {
          status: fault.status ?? 200,
          body: fault.rawBody,
          headers: { 'Content-Type': 'application/json; charset=utf-8', ...(fault.headers ?? {}) },
        },
        fault.latencyMs,
      );
    }
    if (fault?.status !== undefined) {
      return send(
        routeName,
        { status: fault.status, body: fault.body, headers: fault.headers },
        fault.latencyMs,
      );
    }
    if (refused) return send(routeName, refused, fault?.latencyMs);
    if (!matched) return send(routeName, this.notFound(method, url.pathname), fault?.latencyMs);

    const parsed = this.parseBody(raw, req);
    if (parsed.kind === 'reply') return send(routeName, parsed.reply, fault?.latencyMs);
    const { text: rawBody, body } = parsed;
    const m = matched.pattern.exec(url.pathname)!;
    const params: Record<string, string> = {};
    matched.keys.forEach((key, i) => (params[key] = decodeURIComponent(m[i + 1] as string)));
    const reply = await matched.handle({
      req,
      url,
      method,
      params,
      body,
      rawBody,
      concurrentModification: fault?.concurrentModification === true,
    });
    return send(routeName, reply, fault?.latencyMs);
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
