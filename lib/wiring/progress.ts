import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import { retryAfterMs } from '../net/limits';

/**
 * Progress during the long waits of a run (docs/cli.md#output): Azure's long-running operations, Cloudflare's
 * IP-list bulk operations, and the waits a Retry-After asks for. Seen where the requests leave the process, so every
 * target type's waits are reported without the drivers knowing; the CLI prints them on stderr (never under --json).
 */
export interface ProgressReporter {
  /** A wait began or goes on; `key` names it (one operation), so a reporter can say it once and then now and then. */
  waiting(key: string, message: string): void;
  /** The wait named `key` is over. */
  done(key: string): void;
}

const TERMINAL = /^(succeeded|failed|canceled|cancelled|completed)$/i;

function statusOf(response: PipelineResponse): string | undefined {
  if (!response.bodyAsText) return undefined;
  try {
    const body = JSON.parse(response.bodyAsText) as {
      status?: unknown;
      properties?: { provisioningState?: unknown };
    };
    const status = body.status ?? body.properties?.provisioningState;
    return typeof status === 'string' ? status : undefined;
  } catch {
    return undefined;
  }
}

/** `networkSecurityGroups/backend-nsg/securityRules/allow-apim` from a Resource Manager URL. */
export function armSubject(url: string): string {
  const path = new URL(url).pathname;
  const provider = /\/providers\/[^/]+\/(.+)$/i.exec(path);
  return provider ? provider[1]! : path;
}

const withoutQuery = (url: string) => url.split('?')[0]!;

/**
 * An Azure pipeline policy (per retry, so it sees every attempt) that reports a write Azure finishes in the
 * background while it is polled, and a throttled answer's Retry-After.
 */
export function azureProgressPolicy(progress: ProgressReporter): PipelinePolicy {
  /** Operation status URL → the resource being written. */
  const operations = new Map<string, string>();
  return {
    name: 'apimIpReconcilerProgress',
    async sendRequest(request, next) {
      const response = await next(request);
      const method = request.method.toUpperCase();
      const wait = retryAfterMs(response.headers);
      if ((response.status === 429 || response.status >= 500) && wait !== undefined && wait >= 1000) {
        progress.waiting(
          `retry:${withoutQuery(request.url)}`,
          `Azure answered ${response.status} to ${method} ${armSubject(request.url)}: waiting ${Math.ceil(wait / 1000)} s (Retry-After) before trying again`,
        );
        return response;
      }
      if (method !== 'GET' && response.status < 300) {
        const state = statusOf(response);
        const statusUrl =
          response.headers.get('azure-asyncoperation') ??
          (response.status === 202 ? response.headers.get('location') : undefined) ??
          (state !== undefined && !TERMINAL.test(state) ? request.url : undefined);
        if (statusUrl) {
          const subject = armSubject(request.url);
          operations.set(withoutQuery(statusUrl), subject);
          progress.waiting(
            `operation:${withoutQuery(statusUrl)}`,
            `waiting for Azure to finish writing ${subject}`,
          );
        }
        return response;
      }
      const key = withoutQuery(request.url);
      const subject = operations.get(key);
      if (method === 'GET' && subject !== undefined) {
        const status = statusOf(response);
        if (response.status >= 400 || (status !== undefined && TERMINAL.test(status))) {
          operations.delete(key);
          progress.done(`operation:${key}`);
        } else {
          progress.waiting(`operation:${key}`, `waiting for Azure to finish writing ${subject}`);
        }
      }
      return response;
    },
  };
}

const LIST_ITEMS = /\/accounts\/[^/]+\/rules\/lists\/([^/]+)\/items$/;
const BULK_OPERATION = /\/accounts\/[^/]+\/rules\/lists\/bulk_operations\/([^/]+)$/;

/** Wraps the Cloudflare SDK's fetch: reports IP-list bulk operations while they are polled, and Retry-After waits. */
export function cloudflareProgressFetch(inner: typeof fetch, progress: ProgressReporter): typeof fetch {
  const lists = new Map<string, string>();
  return async (input, init) => {
    const response = await inner(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    if (response.status === 429) {
      const wait = retryAfterMs(response.headers);
      progress.waiting(
        `retry:${url.pathname}`,
        wait === undefined
          ? `Cloudflare answered 429 to ${method} ${url.pathname}: waiting before trying again`
          : `Cloudflare answered 429 to ${method} ${url.pathname}: waiting ${Math.ceil(wait / 1000)} s (Retry-After) before trying again`,
      );
      return response;
    }
    const list = LIST_ITEMS.exec(url.pathname)?.[1];
    if (list && method !== 'GET' && response.ok) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { result?: { operation_id?: unknown } } | undefined;
      const operation = body?.result?.operation_id;
      if (typeof operation === 'string') {
        lists.set(operation, list);
        progress.waiting(
          `bulk:${operation}`,
          `waiting for Cloudflare to finish a bulk operation on IP list ${list}`,
        );
      }
      return response;
    }
    const operation = BULK_OPERATION.exec(url.pathname)?.[1];
    if (operation && method === 'GET') {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { result?: { status?: unknown } } | undefined;
      const status = body?.result?.status;
      if (!response.ok || (typeof status === 'string' && TERMINAL.test(status))) {
        lists.delete(operation);
        progress.done(`bulk:${operation}`);
      } else {
        progress.waiting(
          `bulk:${operation}`,
          `waiting for Cloudflare to finish a bulk operation on IP list ${lists.get(operation) ?? '(unknown)'}`,
        );
      }
    }
    return response;
  };
}
