/**
 * What every ARM resource provider of the emulator speaks: the error envelope, resource ids, request checks
 * (content type, body, If-Match / If-None-Match) and small JSON readers.
 *
 * - Error body: `{"error":{"code","message","target"?,"details"?,"additionalInfo"?}}`, only code and message
 *   required (Azure/azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/2025-07-01/
 *   network.json#/definitions/CloudError`; Azure/azure-resource-manager-rpc `v1.0/common-api-details.md` §Error
 *   Response Content). The Network RP sends an empty `details` array (nrpFailure).
 * - ETags (Azure/azure-resource-manager-rpc `v1.0/Addendum.md` §ETags): the resource provider, not the front door,
 *   checks them. If-Match with a stale etag → 412; `If-Match: *` on a missing resource → 412; `If-None-Match: *` on an
 *   existing one → 412. If-Match compares exact strings; a provider passes every form it accepts (for IP Groups and
 *   rule collection groups the quoted header and the bare body etag). The 412 message is invented. No Network RP
 *   swagger declares an If-Match parameter and an NSG PUT was once reported to ignore the etag
 *   (Azure/azure-rest-api-specs#6789): clients must re-read after each write rather than rely on 412.
 * - From memory, not re-verified: the InvalidRequestContent, UnsupportedMediaType and InvalidResourceName wording.
 */
import type { IncomingMessage } from 'node:http';
import type { Reply, RouteContext } from '../emulator';

// ---------------------------------------------------------------------------------------------------------------
// Errors

export interface ErrorBody {
  code: string;
  message: string;
}

/** An ARM error answer; thrown inside handlers and turned into a reply at the route boundary. */
export class ArmFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { details?: unknown[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }

  reply(): Reply {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.options.details) error.details = this.options.details;
    return { status: this.status, body: { error }, headers: this.options.headers };
  }
}

/** Network RP errors carry an empty `details` array. */
export function nrpFailure(status: number, code: string, message: string): ArmFailure {
  return new ArmFailure(status, code, message, { details: [] });
}

export const RESOURCE_NOT_FOUND_HELP = 'For more details please go to https://aka.ms/ARMResourceNotFoundFix';

export function invalidJson(path: string, detail: string): ArmFailure {
  return new ArmFailure(400, 'InvalidRequestFormat', 'Cannot parse the request.', {
    details: [{ code: 'InvalidJson', message: `${detail} Path '${path}'.` }],
  });
}

/** Seeds go through the same validation as requests; a seed real Azure would refuse is a test bug. */
export function seedOrThrow<T>(validate: () => T): T {
  try {
    return validate();
  } catch (error) {
    if (error instanceof ArmFailure) throw new Error(`invalid seed: ${error.code}: ${error.message}`);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Resource ids

/** Subscription, resource group and name of a resource (or of the parent of a child resource). */
export interface ResourceRef {
  subscription: string;
  resourceGroup: string;
  name: string;
}

export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function parseId(id: string, pattern: RegExp, what: string): string[] {
  const m = pattern.exec(id);
  if (!m) throw new Error(`not a ${what} resource id: ${id}`);
  const parts = m.slice(1) as string[];
  if (!GUID.test(parts[0] as string)) throw new Error(`malformed subscription id in ${id}`);
  return parts;
}

export const RG_PREFIX = '^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/';

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/{type}/{name}` for a top-level resource type. */
export function parseTopLevelId(id: string, type: string): ResourceRef {
  const pattern = new RegExp(`${RG_PREFIX}${type.replace(/\./g, '\\.')}/([^/]+)$`, 'i');
  const [subscription, resourceGroup, name] = parseId(id, pattern, type) as [string, string, string];
  return { subscription, resourceGroup, name };
}

export function rgPath(subscription: string, resourceGroup: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}`;
}

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/{type}/{name}` */
export function resourcePath(ref: ResourceRef, type: string): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/${type}/${ref.name}`;
}

/** Resource ids are case-insensitive: stores are keyed by the lower-cased id. */
export const key = (id: string) => id.toLowerCase();

/** True when `lowerPath` is the resource `id` or under it. */
export function isAtOrUnder(lowerPath: string, id: string): boolean {
  return lowerPath === key(id) || lowerPath.startsWith(`${key(id)}/`);
}

/** "West Europe" → "westeurope", as NRP returns locations. */
export function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/** ARM's rule for child resource names (InvalidResourceName). */
export function checkResourceName(name: string): void {
  if (!/^\w(?:[\w.-]{0,78}\w)?$/.test(name)) {
    throw nrpFailure(
      400,
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, ` +
        `and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    );
  }
}

/** `{ namespace, type }` of an ARM provider path, e.g. Microsoft.Network + networkSecurityGroups/securityRules. */
export function resourceTypeOf(path: string): { namespace: string; type: string } | undefined {
  const m = /\/providers\/([^/]+)\/(.+)$/i.exec(path.replace(/\/+$/, ''));
  if (!m) return undefined;
  const segments = (m[2] as string).split('/');
  const type = segments.filter((_, i) => i % 2 === 0).join('/');
  return { namespace: m[1] as string, type };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function checkPutContent(ctx: RouteContext): void {
  const type = header(ctx.req, 'content-type') ?? '';
  if (ctx.rawBody.length > 0 && !/^application\/json\b/i.test(type)) {
    throw new ArmFailure(
      415,
      'UnsupportedMediaType',
      `The content media type '${type}' is not supported. Only 'application/json' is supported.`,
    );
  }
}

export function requireBody(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) {
    throw new ArmFailure(
      400,
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'The request content is empty or not a JSON " +
        "object.'.",
    );
  }
  return body;
}

function etagListMatches(headerValue: string, forms: string[]): boolean {
  return headerValue
    .split(',')
    .map((t) => t.trim())
    .some((t) => forms.includes(t));
}

/** If-Match / If-None-Match against the etag forms of the resource (undefined: it does not exist). */
export function checkPreconditions(
  req: IncomingMessage,
  etagForms: string[] | undefined,
  resourceId: string,
): void {
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  const failed = () =>
    nrpFailure(
      412,
      'PreconditionFailed',
      `The precondition given in the If-Match or If-None-Match header was not met for resource ${resourceId}.`,
    );
  if (ifMatch !== undefined) {
    if (!etagForms) throw failed();
    if (ifMatch.trim() !== '*' && !etagListMatches(ifMatch, etagForms)) throw failed();
  }
  if (ifNoneMatch !== undefined && etagForms) {
    if (ifNoneMatch.trim() === '*' || etagListMatches(ifNoneMatch, etagForms)) throw failed();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON, versions, time

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isStringMap(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}

export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

export const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function apiVersionAtLeast(version: string, minimum: string): boolean {
  return version.slice(0, 10) >= minimum;
}

/** .NET-style timestamp with 7 fractional digits, as APIM and Resource Graph write them. */
export function netTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

/** The key order a resource provider writes an object in, and the lists it always writes. */
export interface WireOrder {
  keys: readonly string[];
  /** Lists the provider always writes, `[]` when unused. */
  lists: readonly string[];
}

/** Rewrites an object in a provider's key order: known keys first (lists defaulted to []), unknown keys after, nulls dropped. */
export function inWireOrder(source: Record<string, unknown>, order: WireOrder): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of order.keys) {
    const value = source[name];
    if (value !== undefined && value !== null) out[name] = structuredClone(value);
    else if (order.lists.includes(name)) out[name] = [];
  }
  for (const [name, value] of Object.entries(source)) {
    if (!order.keys.includes(name) && value !== undefined && value !== null)
      out[name] = structuredClone(value);
  }
  return out;
}
