import { describeFailure, hintFor, remoteFailure, type RemoteFailure } from '../remote';
import { TargetError } from './target';

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

function headerOf(error: unknown, name: string): string | undefined {
  const headers =
    typeof error === 'object' && error !== null ? (error as { headers?: unknown }).headers : undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function') {
    const value: unknown = get.call(headers, name);
    return typeof value === 'string' ? value : undefined;
  }
  const value = (headers as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** The wait a 429 asks for: `retry-after-ms`, else `retry-after` (seconds or an HTTP date); undefined when absent. */
export function retryAfterMs(error: unknown, now = Date.now()): number | undefined {
  const ms = Number(headerOf(error, 'retry-after-ms'));
  if (headerOf(error, 'retry-after-ms') !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const text = headerOf(error, 'retry-after');
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs tasks one at a time per key (an account, a pool), in the order they were queued. */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(task);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
