import type { TokenCredential } from '@azure/core-auth';
import type * as AppInsights from 'applicationinsights';
import { dirname, join } from 'node:path';
import { SETTINGS, SettingsError } from '../config/settings';
import type { Recorder, TelemetryEvent } from './events';

/**
 * Events to Application Insights through the `applicationinsights` v3 SDK (a shim over OpenTelemetry and the Azure
 * Monitor exporter), shared by the Functions app and the CLI.
 *
 * The client is a `TelemetryClient` with `useGlobalProviders: false`: its own tracer/logger/meter providers and
 * exporters, and nothing global. `setup().start()` (and a TelemetryClient with the default global providers) would
 * install the distro: HTTP and Azure SDK instrumentation that records our own Resource Manager and Cloudflare calls,
 * console capture, performance counters and live metrics; two recorders would share one pipeline. Isolated, only
 * what we track is sent, events are never sampled (the trace sampler applies to spans, and we emit none), and two
 * recorders in one process cannot see each other's events.
 */

export interface AppInsightsRecorderOptions {
  connectionString: string;
  /** Microsoft Entra ID (managed identity) ingestion; handed to the SDK before its exporters are built. */
  credential?: TokenCredential;
  /** `cloud_RoleName` of every item (default `apim-ip-reconciler`). */
  cloudRole?: string;
  /**
   * Where the exporter keeps batches that ingestion refused with a retriable status (429, 5xx, network errors) and
   * retries them from (after Retry-After, else 60 s). Unset (the default): no disk cache; such a batch is dropped.
   */
  offlineStorageDirectory?: string;
  /**
   * The exporter's HTTP pipeline retries a request on a network error, 408 and 5xx with exponential backoff, and on
   * 429/503 after Retry-After (uncapped), before the exporter drops or caches the batch. Default: the SDK's
   * (3 retries, 1 s doubling, at most 64 s).
   */
  retry?: { maxRetries?: number; retryDelayInMs?: number; maxRetryDelayInMs?: number };
  /** flush() and shutdown() resolve after at most this long even if ingestion does not answer (default 10 s). */
  flushTimeoutMs?: number;
}

const DEFAULT_CLOUD_ROLE = 'apim-ip-reconciler';
const DEFAULT_FLUSH_TIMEOUT_MS = 10_000;

/**
 * The SDK's own usage reporting ("statsbeat") goes to Microsoft's ingestion hosts, not ours. Exporter 1.0.0-beta.47
 * turns it (and the customer SDK stats it gates) off only on APPLICATION_INSIGHTS_NO_STATSBEAT; the other names are
 * what older and newer versions document, set so an upgrade does not silently turn it back on.
 */
const STATSBEAT_OFF = [
  'APPLICATION_INSIGHTS_NO_STATSBEAT',
  'APPLICATIONINSIGHTS_SDKSTATS_DISABLED',
  'APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL',
] as const;

export class AppInsightsRecorder implements Recorder {
  /** Flushes run one after another: the SDK's batch processor returns at once from a flush that overlaps another. */
  private flushed: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: AppInsights.TelemetryClient,
    private readonly flushTimeoutMs: number,
  ) {}

  static create(options: AppInsightsRecorderOptions): AppInsightsRecorder {
    const connectionString = normalizeConnectionString(options.connectionString);
    for (const name of STATSBEAT_OFF) process.env[name] = 'true';
    const sdk = loadSdk();
    const client = new sdk.TelemetryClient(connectionString, { useGlobalProviders: false });
    configure(client.config, { ...options, connectionString });
    client.initialize();
    stopRemoteConfigurationPolling();
    return new AppInsightsRecorder(client, options.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS);
  }

  event(event: TelemetryEvent): void {
    if (this.closing) return;
    this.client.trackEvent({
      name: event.name,
      properties: event.properties,
      measurements: event.measurements,
    });
  }

  exception(error: Error, properties: Record<string, string>): void {
    if (this.closing) return;
    this.client.trackException({ exception: reportable(error), properties });
  }

  /** Resolves once everything recorded before the call has been sent (or refused), or after flushTimeoutMs. */
  flush(): Promise<void> {
    const done = this.flushed.then(() => this.client.flush());
    this.flushed = done.catch(() => undefined);
    return settleWithin(done, this.flushTimeoutMs);
  }

  /** Flushes, then stops the SDK's exporters and timers (for the CLI, before the process exits). */
  shutdown(): Promise<void> {
    this.closing ??= this.flush().then(() => settleWithin(this.client.shutdown(), this.flushTimeoutMs));
    return this.closing;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The SDK's edges

const INSTRUMENTATION_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The exporter discards a whole connection string for one malformed part (a trailing `;` is enough) and accepts only
 * a lower-case key, then drops every item in silence. Normalize what is harmless, refuse the rest here, and never
 * repeat the value: it holds the instrumentation key.
 */
export function normalizeConnectionString(value: string): string {
  const parts = value
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  const fields = parts.map((part) => {
    const at = part.indexOf('=');
    if (at < 1 || part.indexOf('=', at + 1) !== -1) {
      throw new SettingsError(`${SETTINGS.appInsightsConnectionString}: every part must be Key=Value`);
    }
    const key = part.slice(0, at).trim();
    const raw = part.slice(at + 1).trim();
    return { key, value: key.toLowerCase() === 'instrumentationkey' ? raw.toLowerCase() : raw };
  });
  const key = fields.find((f) => f.key.toLowerCase() === 'instrumentationkey')?.value;
  if (!key || !INSTRUMENTATION_KEY.test(key)) {
    throw new SettingsError(
      `${SETTINGS.appInsightsConnectionString}: InstrumentationKey is missing or not a GUID`,
    );
  }
  for (const field of fields) {
    if (/endpoint$/i.test(field.key) && !/^https?:\/\/[^/]/i.test(field.value)) {
      throw new SettingsError(`${SETTINGS.appInsightsConnectionString}: ${field.key} is not an http(s) URL`);
    }
  }
  return fields.map((f) => `${f.key}=${f.value}`).join(';');
}

function configure(config: AppInsights.TelemetryClient['config'], options: AppInsightsRecorderOptions): void {
  config.azureMonitorOpenTelemetryOptions = {
    azureMonitorExporterOptions: {
      connectionString: options.connectionString,
      disableOfflineStorage: options.offlineStorageDirectory === undefined,
      ...(options.offlineStorageDirectory === undefined
        ? {}
        : { storageDirectory: options.offlineStorageDirectory }),
      ...(options.retry ? { retryOptions: options.retry } : {}),
    },
    resource: cloudRoleResource(options.cloudRole ?? DEFAULT_CLOUD_ROLE),
  };
  if (options.credential) config.aadTokenCredential = options.credential;
  // Explicit values win over an operator's applicationinsights.json / APPLICATIONINSIGHTS_CONFIGURATION_CONTENT.
  // Besides sampling, they have no effect on an isolated client; they keep the intent should it ever use the
  // global providers.
  config.samplingPercentage = 100;
  config.enableAutoCollectRequests = false;
  config.enableAutoCollectDependencies = false;
  config.enableAutoCollectConsole = false;
  config.enableAutoCollectExternalLoggers = false;
  config.enableAutoCollectPerformance = false;
  config.enableAutoCollectExceptions = false;
  config.enableSendLiveMetrics = false;
}

/**
 * Loaded on first use: the SDK takes about a second and tens of MB to load, which a CLI run without Application
 * Insights should not pay. (A dynamic import() would not run under jest's CommonJS runtime.)
 */
function loadSdk(): typeof AppInsights {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('applicationinsights') as typeof AppInsights;
}

/** A module's path as the SDK resolves it: the very copy the SDK uses, not one of our own dependencies. */
function resolveBesideSdk(request: string): string {
  return require.resolve(request, { paths: [dirname(require.resolve('applicationinsights'))] });
}

type Resource = NonNullable<AppInsights.AzureMonitorOpenTelemetryOptions['resource']>;

interface ResourcesModule {
  defaultResource(): Resource;
  resourceFromAttributes(attributes: Record<string, string>): Resource;
}

/** `cloud_RoleName` comes from the OpenTelemetry resource's service.name, nothing else. */
function cloudRoleResource(cloudRole: string): Resource {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const resources = require(resolveBesideSdk('@opentelemetry/resources')) as ResourcesModule;
  return resources.defaultResource().merge(resources.resourceFromAttributes({ 'service.name': cloudRole }));
}

interface ConfigurationManagerModule {
  ConfigurationManager?: { getInstance?: () => { shutdown?: () => void } };
}

/**
 * Every exporter starts a process-wide poll of https://settings.sdk.monitor.azure.com ("OneSettings") 5–15 s later,
 * then hourly, with no setting to turn it off; all it can change is SDK stats and the disk cache, which we fix here.
 * Stop it, so nothing leaves the machine but telemetry to the configured endpoint. Internal to the exporter: when a
 * later version moves it, this does nothing (and the test that traps outbound requests says so).
 */
function stopRemoteConfigurationPolling(): void {
  let internals: ConfigurationManagerModule;
  try {
    const exporterIndex = resolveBesideSdk('@azure/monitor-opentelemetry-exporter');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    internals = require(
      join(dirname(exporterIndex), '_configuration', 'configurationManager.js'),
    ) as ConfigurationManagerModule;
  } catch {
    return;
  }
  internals.ConfigurationManager?.getInstance?.().shutdown?.();
}

/** Breeze rejects an exception whose message is empty ("Field 'message' on type 'ExceptionDetails' is required"). */
function reportable(error: Error): Error {
  if (error.message) return error;
  const copy = new Error(`${error.name || 'Error'} (no message)`);
  copy.name = error.name || 'Error';
  if (error.stack) copy.stack = error.stack;
  return copy;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first; never rejects. */
function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    promise.then(done, done);
  });
}
