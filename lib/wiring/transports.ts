import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import type { Config } from '../config/schema';
import { isLoopbackUrl, SettingsError, SETTINGS, type Settings } from '../config/settings';
import { HostLimiter, retryAfterMs, RunBudget } from '../net/limits';
import type { AdditionalPolicy } from '../azure/armRest';
import { azureProgressPolicy, cloudflareProgressFetch, type ProgressReporter } from './progress';

/**
 * How requests leave the process: the endpoints tokens may go to (pinned to the real services or loopback), a
 * timeout per attempt, at most N requests in flight per host, and the run's time budget on every wait.
 */

export function armEndpointOf(config: Config, settings: Settings): string {
  return (settings.armEndpoint ?? config.azure.resourceManagerEndpoint).replace(/\/+$/, '');
}

export function cloudflareBaseUrlOf(config: Config, settings: Settings): string {
  return (settings.cloudflareBaseUrl ?? config.cloudflare.baseUrl).replace(/\/+$/, '');
}

/** The Resource Manager endpoints of the Azure clouds: the only hosts the identity's token may be sent to. */
export const ARM_HOSTS = [
  'management.azure.com',
  'management.usgovcloudapi.net',
  'management.chinacloudapi.cn',
];
const CLOUDFLARE_HOSTS = ['api.cloudflare.com'];

/** Tokens go only to the real services, or to an emulator on this machine: a config cannot redirect them. */
function checkEndpoint(url: string, hosts: readonly string[], key: string, setting: string): void {
  if (isLoopbackUrl(url)) return;
  const host = new URL(url).hostname.toLowerCase();
  if (!hosts.includes(host)) {
    throw new SettingsError(
      `${key} / ${setting}: ${host} is not one of ${hosts.join(', ')} (or an emulator on this machine); the credentials are sent only there`,
    );
  }
}

/**
 * The Azure SDK sets no timeout on a request: an answer that never comes would hold the run until its budget
 * is spent. Each attempt gets `timeoutMs`; one that runs out is abandoned as a connection error (ETIMEDOUT),
 * which the SDK's retry policy retries like a reset connection. Writes are conditional (If-Match) or whole
 * documents, so a retried write that the server had applied is refused (412) or changes nothing.
 */
function attemptTimeout(timeoutMs: number): PipelinePolicy {
  return {
    name: 'apimIpReconcilerAttemptTimeout',
    async sendRequest(request, next) {
      const outer = request.abortSignal;
      const timer = new AbortController();
      const timeout = setTimeout(() => timer.abort(), timeoutMs);
      request.abortSignal = outer ? AbortSignal.any([outer as AbortSignal, timer.signal]) : timer.signal;
      try {
        return await next(request);
      } catch (error) {
        if (!timer.signal.aborted || outer?.aborted) throw error;
        throw new RestError(
          `no answer from ${new URL(request.url).host} within ${timeoutMs / 1000} s (${request.method})`,
          { code: 'ETIMEDOUT', request },
        );
      } finally {
        clearTimeout(timeout);
        request.abortSignal = outer;
      }
    },
  };
}

/** Azure SDK pipeline policies: each request within the run's budget, and at most N in flight per host. */
export function azurePolicies(
  limiter: HostLimiter,
  budget: RunBudget,
  timeoutMs: number,
  progress?: ProgressReporter,
): AdditionalPolicy[] {
  const runBudget: PipelinePolicy = {
    name: 'apimIpReconcilerRunBudget',
    async sendRequest(request, next) {
      budget.check();
      // The retry policies wait on this signal, so a long Retry-After ends with the budget.
      request.abortSignal = request.abortSignal
        ? AbortSignal.any([request.abortSignal as AbortSignal, budget.signal])
        : budget.signal;
      try {
        return await next(request);
      } catch (error) {
        // The SDK reports the budget's abort as a bare AbortError ("The operation was aborted."): say why.
        if (budget.signal.aborted && (error as Error)?.name === 'AbortError') throw budget.signal.reason;
        throw error;
      }
    },
  };
  const hostLimit: PipelinePolicy = {
    name: 'apimIpReconcilerHostLimit',
    sendRequest: (request, next) =>
      limiter.forUrl(request.url, () => {
        budget.check();
        return next(request);
      }),
  };
  return [
    { policy: runBudget, position: 'perCall' },
    { policy: hostLimit, position: 'perRetry' },
    // Inside the host limit, so waiting for a slot does not count against the attempt.
    { policy: attemptTimeout(timeoutMs), position: 'perRetry' },
    // Sees every attempt's answer: long-running operations being polled, Retry-After waits (the CLI's progress).
    ...(progress ? [{ policy: azureProgressPolicy(progress), position: 'perRetry' as const }] : []),
  ];
}

/**
 * The Cloudflare SDK's fetch, limited per host and by the run's budget. The SDK obeys any Retry-After with
 * no cap and its wait cannot be aborted, so an answer asking to wait past the budget is marked not to retry.
 */
export function cloudflareFetch(
  limiter: HostLimiter,
  budget: RunBudget,
  progress?: ProgressReporter,
): typeof fetch {
  const limited: typeof fetch = (input, init) =>
    limiter.forUrl(input instanceof Request ? input.url : String(input), async () => {
      budget.check();
      const signal = init?.signal ? AbortSignal.any([init.signal, budget.signal]) : budget.signal;
      const response = await fetch(input, { ...init, signal });
      const wait = retryAfterMs(response.headers);
      if (wait === undefined || wait <= budget.remainingMs()) return response;
      const headers = new Headers(response.headers);
      headers.set('x-should-retry', 'false');
      return new Response(response.body, {
        status: response.status,
        statusText: response.statusText,
        headers,
      });
    });
  return progress ? cloudflareProgressFetch(limited, progress) : limited;
}

/** Checks that the configured endpoints are the real services' (or an emulator on this machine). */
export function checkEndpoints(config: Config, settings: Settings): void {
  checkEndpoint(
    armEndpointOf(config, settings),
    ARM_HOSTS,
    'azure.resourceManagerEndpoint',
    SETTINGS.armEndpoint,
  );
  checkEndpoint(
    cloudflareBaseUrlOf(config, settings),
    CLOUDFLARE_HOSTS,
    'cloudflare.baseUrl',
    SETTINGS.cloudflareBaseUrl,
  );
}
