import { ApiManagementClient } from '@azure/arm-apimanagement';
import { NetworkManagementClient } from '@azure/arm-network';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { RestError, type PipelinePolicy } from '@azure/core-rest-pipeline';
import { DefaultAzureCredential } from '@azure/identity';
import Cloudflare from 'cloudflare';
import type { Config } from './config/schema';
import { isLoopbackUrl, SettingsError, SETTINGS, type Settings } from './config/settings';
import { parseDuration } from './config/duration';
import type { Clock } from './engine/clock';
import { HostLimiter, retryAfterMs, RunBudget } from './net/limits';
import { reconcile, type DriverRegistry, type ReconcileOptions } from './engine/reconcile';
import type { RunReport } from './engine/report';
import { ApimSourceReader } from './source/apim';
import { ResourceGraphFleet } from './source/resourceGraph';
import type { StateStore } from './state/store';
import { createArmRestClient, type AdditionalPolicy } from './azure/armRest';
import { AppServiceDriver } from './targets/azureAppService';
import { FirewallRuleDriver } from './targets/azureFirewallRule';
import { IpGroupDriver } from './targets/azureIpGroup';
import { NsgRuleDriver } from './targets/azureNsgRule';
import { CloudflareDnsDriver } from './targets/cloudflareDns';
import { CloudflareIpListDriver } from './targets/cloudflareIpList';
import { CloudflarePoolOriginsDriver } from './targets/cloudflarePoolOrigins';
import type { Recorder } from './telemetry/events';

/**
 * The composition root: the only place that knows which SDK client serves which port.
 * Triggers (CLI, Functions) build a Reconciler here and call run().
 */

export interface Tuning {
  /** Azure SDK retries (429 with Retry-After, 5xx, connection errors). */
  azureRetry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** Poll interval of long-running operations when the service sends no Retry-After. */
  pollIntervalMs?: number;
  /** The longest an Azure write may take, its long-running operation included (default 5 min; firewall 8). */
  maxWriteWaitMs?: number;
  /** How long a firewall policy busy with another operation is waited for (default 2 min). */
  busyWaitMs?: number;
  cloudflareMaxRetries?: number;
  cloudflareTimeoutMs?: number;
  /** How long one attempt of an Azure request may go unanswered before it is abandoned and retried (default 30 s). */
  azureTimeoutMs?: number;
  /** How long one IP-list target waits for its bulk operations (and for another writer's to clear). */
  bulkOperationTimeoutMs?: number;
}

export interface WiringOptions {
  config: Config;
  settings: Settings;
  store: StateStore;
  recorder: Recorder;
  clock?: Clock;
  tuning?: Tuning;
}

export interface Reconciler {
  run(options: ReconcileOptions): Promise<RunReport>;
}

export const systemClock: Clock = { now: () => new Date() };

/** A fixed bearer token for a local emulator; refused anywhere else. */
class StaticTokenCredential implements TokenCredential {
  constructor(private readonly token: string) {}
  async getToken(): Promise<AccessToken> {
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

export function armEndpointOf(config: Config, settings: Settings): string {
  return (settings.armEndpoint ?? config.azure.resourceManagerEndpoint).replace(/\/+$/, '');
}

export function cloudflareBaseUrlOf(config: Config, settings: Settings): string {
  return (settings.cloudflareBaseUrl ?? config.cloudflare.baseUrl).replace(/\/+$/, '');
}

function azureCredential(endpoint: string, settings: Settings): TokenCredential {
  if (settings.azureToken) {
    if (!isLoopbackUrl(endpoint)) {
      throw new SettingsError(
        `${SETTINGS.azureToken} is only accepted for a loopback Resource Manager endpoint (emulators); the endpoint is ${endpoint}: unset it to use a managed identity or az login`,
      );
    }
    return new StaticTokenCredential(settings.azureToken);
  }
  return new DefaultAzureCredential(
    settings.azureClientId ? { managedIdentityClientId: settings.azureClientId } : undefined,
  );
}

/** Cache one SDK client per subscription. */
function perSubscription<C>(make: (subscriptionId: string) => C): (subscriptionId: string) => C {
  const clients = new Map<string, C>();
  return (subscriptionId) => {
    let client = clients.get(subscriptionId);
    if (!client) clients.set(subscriptionId, (client = make(subscriptionId)));
    return client;
  };
}

/** Checks the settings the configured targets need, before anything runs. */
export function checkSettings(config: Config, settings: Settings): void {
  const cloudflareTargets = config.targets.filter((t) => t.type.startsWith('cloudflare.'));
  if (cloudflareTargets.length > 0 && !settings.cloudflareToken) {
    const needs = [
      cloudflareTargets.some((t) => t.type.startsWith('cloudflare.dns')) && 'Zone → DNS → Edit',
      cloudflareTargets.some((t) => t.type === 'cloudflare.poolOrigins') &&
        'Account → Load Balancing: Monitors and Pools → Edit',
      cloudflareTargets.some((t) => t.type === 'cloudflare.ipList') &&
        'Account → Account Filter Lists → Edit',
    ].filter(Boolean);
    throw new SettingsError(
      `${SETTINGS.cloudflareToken} is not set; targets ${cloudflareTargets.map((t) => t.name).join(', ')} need a Cloudflare API token (${needs.join('; ')})`,
    );
  }
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
  azureCredential(armEndpointOf(config, settings), settings);
}

/** The Resource Manager endpoints of the Azure clouds: the only hosts the identity's token may be sent to. */
const ARM_HOSTS = ['management.azure.com', 'management.usgovcloudapi.net', 'management.chinacloudapi.cn'];
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
function azurePolicies(limiter: HostLimiter, budget: RunBudget, timeoutMs: number): AdditionalPolicy[] {
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
  ];
}

/**
 * The Cloudflare SDK's fetch, limited per host and by the run's budget. The SDK obeys any Retry-After with
 * no cap and its wait cannot be aborted, so an answer asking to wait past the budget is marked not to retry.
 */
function cloudflareFetch(limiter: HostLimiter, budget: RunBudget): typeof fetch {
  return (input, init) =>
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
}

export function createReconciler(options: WiringOptions): Reconciler {
  const { config, settings, tuning = {} } = options;
  checkSettings(config, settings);
  const endpoint = armEndpointOf(config, settings);
  const credential = azureCredential(endpoint, settings);
  const limiter = new HostLimiter(settings.maxConcurrency);
  const budget = new RunBudget(parseDuration(config.safety.runBudget) ?? 8 * 60_000);
  // Tokens for the cloud the endpoint belongs to (an emulator on loopback takes the static token anyway).
  const scope = `${isLoopbackUrl(endpoint) ? 'https://management.azure.com' : endpoint}/.default`;
  const azureOptions = {
    endpoint,
    credentials: { scopes: [scope] },
    credentialScopes: [scope],
    retryOptions: { maxRetries: 3, retryDelayInMs: 800, maxRetryDelayInMs: 30_000, ...tuning.azureRetry },
    additionalPolicies: azurePolicies(limiter, budget, tuning.azureTimeoutMs ?? 30_000),
  };
  const apim = perSubscription(
    (sub) => new ApiManagementClient(credential, sub, { ...azureOptions, $host: endpoint }),
  );
  const network = perSubscription((sub) => new NetworkManagementClient(credential, sub, azureOptions));
  const writeOptions = {
    pollIntervalMs: tuning.pollIntervalMs ?? 2000,
    maxWaitMs: tuning.maxWriteWaitMs ?? 5 * 60_000,
  };
  const armRest = createArmRestClient({ ...azureOptions, credential });
  const cloudflare = new Cloudflare({
    apiToken: settings.cloudflareToken ?? 'unused',
    baseURL: cloudflareBaseUrlOf(config, settings),
    maxRetries: tuning.cloudflareMaxRetries ?? 2,
    timeout: tuning.cloudflareTimeoutMs ?? 30_000,
    fetch: cloudflareFetch(limiter, budget),
  });
  const dns = new CloudflareDnsDriver(cloudflare);
  const ipList = new CloudflareIpListDriver(cloudflare, {
    pollIntervalMs: writeOptions.pollIntervalMs,
    timeoutMs: tuning.bulkOperationTimeoutMs ?? 60_000,
    maxRetries: tuning.cloudflareMaxRetries ?? 2,
    remainingMs: () => budget.remainingMs(),
  });
  const drivers: DriverRegistry = {
    'cloudflare.dnsRecords': dns,
    'cloudflare.dnsCname': dns,
    'cloudflare.ipList': ipList,
    'cloudflare.poolOrigins': new CloudflarePoolOriginsDriver(cloudflare),
    'azure.nsgRule': new NsgRuleDriver(network, writeOptions),
    'azure.ipGroup': new IpGroupDriver(network, writeOptions),
    // Firewall policy writes take minutes, and a policy busy with another write answers 409 for a while.
    'azure.firewallPolicyRule': new FirewallRuleDriver(network, {
      ...writeOptions,
      maxWaitMs: tuning.maxWriteWaitMs ?? 8 * 60_000,
      busyWaitMs: tuning.busyWaitMs ?? 2 * 60_000,
    }),
    'azure.appServiceAccessRestriction': new AppServiceDriver(armRest),
  };
  const deps = {
    config,
    sources: new ApimSourceReader(apim),
    fleet: new ResourceGraphFleet(armRest),
    drivers,
    store: options.store,
    recorder: options.recorder,
    clock: options.clock ?? systemClock,
    mode: settings.mode,
  };
  return {
    async run(runOptions) {
      budget.begin();
      try {
        return await reconcile(deps, runOptions);
      } finally {
        budget.end();
      }
    },
  };
}
