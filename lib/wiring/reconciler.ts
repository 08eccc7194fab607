import { ApiManagementClient } from '@azure/arm-apimanagement';
import { NetworkManagementClient } from '@azure/arm-network';
import Cloudflare from 'cloudflare';
import { createArmRestClient } from '../azure/armRest';
import { parseDuration } from '../config/duration';
import type { Config } from '../config/schema';
import { isLoopbackUrl, SettingsError, SETTINGS, type Settings } from '../config/settings';
import type { Clock } from '../engine/clock';
import { reconcile, type ReconcileOptions } from '../engine/reconcile';
import type { RunReport } from '../engine/report';
import { HostLimiter, RunBudget } from '../net/limits';
import { ApimSourceReader } from '../source/apim';
import { ResourceGraphFleet } from '../source/resourceGraph';
import type { StateStore } from '../state/store';
import { createDrivers, definitionOf } from '../targets/registry';
import type { DriverTuning } from '../targets/target';
import type { Recorder } from '../telemetry/events';
import { resourceManagerCredential } from './identity';
import type { ProgressReporter } from './progress';
import {
  armEndpointOf,
  azurePolicies,
  checkEndpoints,
  cloudflareBaseUrlOf,
  cloudflareFetch,
} from './transports';

/**
 * The composition root (docs/design/architecture.md): the only place that knows which SDK client serves which
 * port. The Functions runtime and the CLI build a Reconciler here and call run().
 */

export interface Tuning extends DriverTuning {
  /** Azure SDK retries (429 with Retry-After, 5xx, connection errors). */
  azureRetry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  cloudflareTimeoutMs?: number;
  /** How long one attempt of an Azure request may go unanswered before it is abandoned and retried (default 30 s). */
  azureTimeoutMs?: number;
}

export interface WiringOptions {
  config: Config;
  settings: Settings;
  store: StateStore;
  recorder: Recorder;
  clock?: Clock;
  tuning?: Tuning;
  /** Told about long waits (the CLI prints them on stderr); none by default. */
  progress?: ProgressReporter;
}

export interface Reconciler {
  run(options: ReconcileOptions): Promise<RunReport>;
}

export const systemClock: Clock = { now: () => new Date() };

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
  const cloudflareTargets = config.targets.filter(
    (t) => definitionOf(t.type).permissions.provider === 'cloudflare',
  );
  if (cloudflareTargets.length > 0 && !settings.cloudflareToken) {
    const needs = new Set(
      cloudflareTargets.flatMap((t) => {
        const { permissions } = definitionOf(t.type);
        return permissions.provider === 'cloudflare' ? permissions.token : [];
      }),
    );
    throw new SettingsError(
      `${SETTINGS.cloudflareToken} is not set; targets ${cloudflareTargets.map((t) => t.name).join(', ')} need a Cloudflare API token (${[...needs].join('; ')})`,
    );
  }
  checkEndpoints(config, settings);
  resourceManagerCredential(armEndpointOf(config, settings), settings);
}

export function createReconciler(options: WiringOptions): Reconciler {
  const { config, settings, tuning = {} } = options;
  checkSettings(config, settings);
  const endpoint = armEndpointOf(config, settings);
  const credential = resourceManagerCredential(endpoint, settings);
  const limiter = new HostLimiter(settings.maxConcurrency);
  const budget = new RunBudget(parseDuration(config.safety.runBudget) ?? 8 * 60_000);
  // Tokens for the cloud the endpoint belongs to (an emulator on loopback takes the static token anyway).
  const scope = `${isLoopbackUrl(endpoint) ? 'https://management.azure.com' : endpoint}/.default`;
  const azureOptions = {
    endpoint,
    credentials: { scopes: [scope] },
    credentialScopes: [scope],
    retryOptions: { maxRetries: 3, retryDelayInMs: 800, maxRetryDelayInMs: 30_000, ...tuning.azureRetry },
    additionalPolicies: azurePolicies(limiter, budget, tuning.azureTimeoutMs ?? 30_000, options.progress),
  };
  const apim = perSubscription(
    (sub) => new ApiManagementClient(credential, sub, { ...azureOptions, $host: endpoint }),
  );
  const armRest = createArmRestClient({ ...azureOptions, credential });
  const shared = new Map<string, unknown>();
  const drivers = createDrivers({
    network: perSubscription((sub) => new NetworkManagementClient(credential, sub, azureOptions)),
    armRest,
    cloudflare: new Cloudflare({
      apiToken: settings.cloudflareToken ?? 'unused',
      baseURL: cloudflareBaseUrlOf(config, settings),
      maxRetries: tuning.cloudflareMaxRetries ?? 2,
      timeout: tuning.cloudflareTimeoutMs ?? 30_000,
      fetch: cloudflareFetch(limiter, budget, options.progress),
    }),
    tuning,
    remainingMs: () => budget.remainingMs(),
    shared<D>(key: string, make: () => D): D {
      if (!shared.has(key)) shared.set(key, make());
      return shared.get(key) as D;
    },
  });
  const deps = {
    config,
    sources: new ApimSourceReader(apim),
    fleet: new ResourceGraphFleet(armRest),
    drivers,
    store: options.store,
    recorder: options.recorder,
    clock: options.clock ?? systemClock,
    mode: settings.mode,
    wait: (ms: number) =>
      new Promise<void>((resolve) => {
        // Never keeps the process alive: the run awaits the writes themselves anyway.
        setTimeout(resolve, ms).unref();
      }),
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
