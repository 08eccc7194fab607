import Cloudflare, { APIError } from 'cloudflare';
import { CloudflareEmulator } from '../../sandbox/cloudflare';
import { inheritedRunCertificate } from '../../sandbox/tls';

/**
 * The harness of the Cloudflare emulator's contract tests (tests/contract/cloudflare/): an emulator per test with
 * three zones and two tokens, reached through the real `cloudflare` SDK or raw fetch. Every expectation in those
 * tests is a Cloudflare contract (the SDK's behaviour, the API schemas, the docs, error bodies seen in public
 * issues), not an emulator detail. Run under `node scripts/with-sandbox-ca.js` (npm test does) to serve HTTPS.
 */

export type Json = Record<string, unknown>;

export const ZONE = '023e105f4ecef8ad9ca31a8372d0c353'; // example.com, Free
export const PRO_ZONE = '9a7806061c88ada191ed06f989cc3dac'; // example.org, Pro
export const OTHER_ZONE = 'b5b82f8d72414f849bd96a50e6228ece'; // example.net, no grant
export const ACCOUNT = '01a7362d577a6c3019a474fd6f485823';
export const POOL = '17b5962d775c646f3f9725cbc7a53df4';
export const LIST = '2c0fc9fa937b11eaa1b71c4d701ab86e';
export const EDIT = 'EditTokenEditTokenEditTokenEditToken-000';
export const READ = 'ReadTokenReadTokenReadTokenReadToken_000';

export const certificate = inheritedRunCertificate();
const tls = certificate ? { cert: certificate.cert, key: certificate.key } : undefined;

let current: CloudflareEmulator | undefined;

/** Starts an emulator with the zones and tokens above; the helpers below talk to it. */
export async function startCloudflare(): Promise<CloudflareEmulator> {
  const cf = await CloudflareEmulator.start({ tls });
  cf.addZone({ id: ZONE, name: 'example.com' });
  cf.addZone({ id: PRO_ZONE, name: 'example.org', plan: 'pro', accountId: ACCOUNT });
  cf.addZone({ id: OTHER_ZONE, name: 'example.net' });
  cf.addToken(EDIT, {
    zones: { [ZONE]: 'edit', [PRO_ZONE]: 'edit' },
    accounts: { [ACCOUNT]: { loadBalancers: 'edit', lists: 'edit' } },
  });
  cf.addToken(READ, {
    zones: { [ZONE]: 'read' },
    accounts: { [ACCOUNT]: { loadBalancers: 'read', lists: 'read' } },
  });
  current = cf;
  return cf;
}

function emulator(): CloudflareEmulator {
  if (!current) throw new Error('call startCloudflare() first');
  return current;
}

export function client(token = EDIT, maxRetries = 0): Cloudflare {
  return new Cloudflare({ apiToken: token, baseURL: emulator().baseUrl, maxRetries });
}

/** The APIError `promise` rejects with; throws when it resolves. */
export async function apiError(promise: PromiseLike<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

export function firstCode(error: APIError): number | undefined {
  return error.errors[0]?.code;
}

/** `error_chain` is in the body but not in the SDK's ErrorData type. */
export function errorChain(error: APIError): unknown {
  return fields(error.errors[0]).error_chain;
}

export function fields(value: unknown): Json {
  if (typeof value !== 'object' || value === null) throw new Error(`not an object: ${String(value)}`);
  return value as Json;
}

export interface RawReply {
  status: number;
  headers: Headers;
  body: Json;
}

/** One request with fetch under /client/v4, with the EDIT token unless told otherwise (`null`: none). */
export async function raw(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? EDIT}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, options.headers);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const res = await fetch(`${emulator().baseUrl}${path}`, { method, headers, body });
  return { status: res.status, headers: res.headers, body: fields(await res.json()) };
}

export function errorsOf(
  reply: RawReply,
): Array<{ code: number; message: string; error_chain?: Array<{ code: number }> }> {
  return reply.body.errors as Array<{ code: number; message: string; error_chain?: Array<{ code: number }> }>;
}

export function aRecord(
  name: string,
  content: string,
  extra: { proxied?: boolean; ttl?: number; comment?: string } = {},
) {
  return { zone_id: ZONE, type: 'A' as const, name, content, ttl: extra.ttl ?? 1, ...extra };
}
