import { describeFailure, hintFor, remoteFailure, type RemoteFailure } from '../../remote';
import { retryAfterMs } from '../../net/limits';
import { TargetError } from '../target';

/** What the account-scoped Cloudflare targets (IP lists, pool origins) share: error lines, Retry-After, queues. */

/** The dashboard name of the token permission a call needs, e.g. `Account → Account Filter Lists → Edit`. */
export type Permission = string;

/** What to do about a failed call: the permission for a 403, else the generic Cloudflare hint. */
export function cloudflareHint(failure: RemoteFailure, permission: Permission, accountId: string): string {
  if (failure.status === 403 && !failure.network) {
    return `the token lacks ${permission} on account ${accountId} (or is not active): grant it in the Cloudflare dashboard`;
  }
  return hintFor(failure, 'Cloudflare');
}

/** One line for a failed call: `<what>: HTTP 403 9109: Unauthorized… — <hint>`. */
export function failureLine(
  what: string,
  error: unknown,
  permission: Permission,
  accountId: string,
): { message: string; hint: string } {
  const failure = remoteFailure(error);
  return {
    message: `${what}: ${describeFailure(failure)}`,
    hint: cloudflareHint(failure, permission, accountId),
  };
}

export function readFailure(
  what: string,
  error: unknown,
  permission: Permission,
  accountId: string,
  notFoundHint: string,
): TargetError {
  const { message, hint } = failureLine(what, error, permission, accountId);
  const status = remoteFailure(error).status;
  return new TargetError(message, status === 404 ? notFoundHint : hint || undefined);
}

/** The response headers an SDK error carries (a Web `Headers` in the Cloudflare SDK v7). */
function headersOf(error: unknown): { get(name: string): string | null | undefined } | undefined {
  const headers =
    typeof error === 'object' && error !== null ? (error as { headers?: unknown }).headers : undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  if (typeof (headers as { get?: unknown }).get === 'function') return headers as Headers;
  const record = headers as Record<string, unknown>;
  return { get: (name) => (typeof record[name] === 'string' ? (record[name] as string) : undefined) };
}

/** The wait a 429 asks for, in milliseconds; undefined when it does not say. */
export function retryAfterFrom(error: unknown, now = Date.now()): number | undefined {
  const headers = headersOf(error);
  return headers ? retryAfterMs(headers, now) : undefined;
}
