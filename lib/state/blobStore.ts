import { randomUUID } from 'node:crypto';
import type { TokenCredential } from '@azure/core-auth';
import {
  BlobServiceClient,
  type BlobLeaseClient,
  type BlockBlobClient,
  type ContainerClient,
} from '@azure/storage-blob';
import { SETTINGS, SettingsError } from '../config/settings';
import type { Trigger } from '../telemetry/events';
import {
  emptyState,
  parseState,
  StateConflictError,
  type LockHolder,
  type LockResult,
  type RunLock,
  type State,
  type StateStore,
  type Versioned,
} from './store';

/**
 * The Functions app's state (docs/design/product.md §8): one JSON blob guarded by its ETag, and a blob lease as the run lock,
 * both in one container of the app's own storage account (AzureWebJobsStorage).
 */

export const DEFAULT_STATE_CONTAINER = 'apim-ip-reconciler';
export const STATE_BLOB = 'state.json';
export const LOCK_BLOB = 'run.lock';

/** The Functions host's storage settings, read the way the host reads them (connection string first). */
export const STORAGE_SETTINGS = {
  connectionString: 'AzureWebJobsStorage',
  blobServiceUri: 'AzureWebJobsStorage__blobServiceUri',
  accountName: 'AzureWebJobsStorage__accountName',
} as const;

/**
 * The Blob service of the Functions host's storage account: `AzureWebJobsStorage` as a connection string
 * (`UseDevelopmentStorage=true` included), else identity-based `AzureWebJobsStorage__blobServiceUri` or
 * `AzureWebJobsStorage__accountName` with `credential` (the caller builds the managed identity credential).
 */
export function blobServiceFromEnvironment(
  env: NodeJS.ProcessEnv,
  credential?: TokenCredential,
): BlobServiceClient {
  const connectionString = setting(env, STORAGE_SETTINGS.connectionString);
  if (connectionString) return BlobServiceClient.fromConnectionString(connectionString);
  const serviceUri = identityServiceUri(env);
  if (serviceUri) {
    if (!credential) {
      throw new Error(
        `${serviceUri.setting} selects identity-based storage, but no credential was given to authenticate with`,
      );
    }
    return new BlobServiceClient(serviceUri.uri, credential);
  }
  throw new Error(
    `No storage account for the reconciler's state: set ${STORAGE_SETTINGS.connectionString} (a connection string, ` +
      `or UseDevelopmentStorage=true) or, identity-based, ${STORAGE_SETTINGS.blobServiceUri} or ${STORAGE_SETTINGS.accountName}`,
  );
}

function identityServiceUri(env: NodeJS.ProcessEnv): { uri: string; setting: string } | undefined {
  const uri = setting(env, STORAGE_SETTINGS.blobServiceUri);
  if (uri) return { uri, setting: STORAGE_SETTINGS.blobServiceUri };
  const account = setting(env, STORAGE_SETTINGS.accountName);
  if (account)
    return { uri: `https://${account}.blob.core.windows.net`, setting: STORAGE_SETTINGS.accountName };
  return undefined;
}

/** The container named by RECONCILER_STATE_CONTAINER, else `apim-ip-reconciler`. */
export function stateContainerFromEnvironment(env: NodeJS.ProcessEnv): string {
  const name = setting(env, SETTINGS.stateContainer) ?? DEFAULT_STATE_CONTAINER;
  // Blob Storage's container naming rules, checked here so a typo fails at start-up with the setting's name.
  if (!/^[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]$/.test(name)) {
    throw new SettingsError(
      `${SETTINGS.stateContainer}: must be a container name (3-63 lower-case letters, digits and single hyphens), ` +
        `got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

function setting(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

export interface BlobStateStoreOptions {
  /** Default `apim-ip-reconciler` (see stateContainerFromEnvironment). */
  container?: string;
  /** The state blob's name in the container; default `state.json` (the app's). */
  blob?: string;
}

/** The state document as one JSON blob; `version` is the blob's ETag. */
export class BlobStateStore implements StateStore {
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly blob: BlockBlobClient;

  constructor(service: BlobServiceClient, options: BlobStateStoreOptions = {}) {
    this.container = service.getContainerClient(options.container ?? DEFAULT_STATE_CONTAINER);
    this.blob = this.container.getBlockBlobClient(options.blob ?? STATE_BLOB);
    this.location = withoutQuery(this.blob.url);
  }

  async load(): Promise<Versioned<State>> {
    let text: string;
    let etag: string;
    try {
      const response = await this.blob.download();
      text = await readText(response.readableStreamBody);
      etag = requireEtag(response.etag, this.location);
    } catch (error) {
      if (isNotFound(error)) return { value: emptyState(), version: undefined };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.location} is not valid JSON; move it away to start with a fresh state`);
    }
    return { value: parseState(parsed, this.location), version: etag };
  }

  async save(state: State, version: string | undefined): Promise<string> {
    const text = `${JSON.stringify(state, null, 2)}\n`;
    const conditions = version === undefined ? { ifNoneMatch: '*' } : { ifMatch: version };
    try {
      const response = await withContainer(this.container, () =>
        this.blob.upload(text, Buffer.byteLength(text), {
          conditions,
          blobHTTPHeaders: { blobContentType: 'application/json' },
        }),
      );
      return requireEtag(response.etag, this.location);
    } catch (error) {
      if (isStaleWrite(error)) throw new StateConflictError();
      throw error;
    }
  }
}

export interface BlobRunLockOptions {
  /** Default `apim-ip-reconciler` (see stateContainerFromEnvironment). */
  container?: string;
  /** The lock blob's name in the container; default `run.lock` (the app's). */
  blob?: string;
  /**
   * How long a lease lives unless renewed, in seconds: 15 to 60, the range Blob Storage allows for a finite
   * lease. It is also how long a run that died without releasing keeps others out. Default 60.
   */
  leaseDurationSeconds?: number;
  /** How often a held lease is renewed; at most half the lease duration. Default a third of it. */
  renewIntervalMs?: number;
  /**
   * Renewal stops after this long, so a run that never releases (a hung or leaked run in a long-lived worker)
   * cannot keep the lock for ever. Default 30 minutes.
   */
  maxHoldMs?: number;
  /**
   * A renewal failed or will not happen: `lost` when renewal has stopped for good (the lease is no longer ours,
   * or maxHoldMs passed) and the lease will expire; otherwise it is tried again at the next interval.
   */
  onRenewError?: (error: Error, lost: boolean) => void;
}

const DEFAULT_LEASE_SECONDS = 60;
/** How long a run refused the lock waits for the holder's name (written just after its lease): 10 × 50 ms. */
const HOLDER_WAIT_TRIES = 10;
const HOLDER_WAIT_MS = 50;
const DEFAULT_MAX_HOLD_MS = 30 * 60_000;

/** The run lock: a lease on `run.lock`, renewed while held, with the holder in the blob's metadata. */
export class BlobRunLock implements RunLock {
  readonly location: string;
  private readonly container: ContainerClient;
  private readonly blob: BlockBlobClient;
  private readonly leaseSeconds: number;
  private readonly renewIntervalMs: number;
  private readonly maxHoldMs: number;
  private readonly onRenewError: (error: Error, lost: boolean) => void;

  constructor(service: BlobServiceClient, options: BlobRunLockOptions = {}) {
    this.container = service.getContainerClient(options.container ?? DEFAULT_STATE_CONTAINER);
    this.blob = this.container.getBlockBlobClient(options.blob ?? LOCK_BLOB);
    this.location = withoutQuery(this.blob.url);
    this.leaseSeconds = options.leaseDurationSeconds ?? DEFAULT_LEASE_SECONDS;
    if (!Number.isInteger(this.leaseSeconds) || this.leaseSeconds < 15 || this.leaseSeconds > 60) {
      throw new RangeError(
        `leaseDurationSeconds must be a whole number from 15 to 60, got ${this.leaseSeconds}`,
      );
    }
    this.renewIntervalMs = options.renewIntervalMs ?? (this.leaseSeconds * 1000) / 3;
    if (!(this.renewIntervalMs > 0 && this.renewIntervalMs <= (this.leaseSeconds * 1000) / 2)) {
      throw new RangeError(`renewIntervalMs must be above 0 and at most half the lease duration`);
    }
    this.maxHoldMs = options.maxHoldMs ?? DEFAULT_MAX_HOLD_MS;
    this.onRenewError = options.onRenewError ?? (() => undefined);
  }

  async acquire(holder: LockHolder): Promise<LockResult> {
    return withContainer(this.container, async () => {
      // A second attempt only when the lease ended between our failed acquire and our read of the holder.
      for (let attempt = 0; attempt < 2; attempt++) {
        const lease = await this.tryLease();
        if (lease) return { acquired: true, release: await this.hold(lease, holder) };
        const current = await this.namedHolder();
        if (current.leased) return { acquired: false, heldBy: current.holder };
      }
      return { acquired: false, heldBy: undefined };
    });
  }

  /** Who holds the lock now, without taking it: `leased` false when nobody does (the status page). */
  async peek(): Promise<{ leased: boolean; holder: LockHolder | undefined }> {
    return this.currentHolder();
  }

  /**
   * A holder names itself just after it takes the lease (and clears its name just before it lets go), so a run
   * that meets it in between waits a moment for the name, or for the lease to end, rather than report an unknown
   * holder.
   */
  private async namedHolder(): Promise<{ leased: boolean; holder: LockHolder | undefined }> {
    let current = await this.currentHolder();
    for (let i = 0; i < HOLDER_WAIT_TRIES && current.leased && !current.holder; i++) {
      await new Promise((resolve) => setTimeout(resolve, HOLDER_WAIT_MS));
      current = await this.currentHolder();
    }
    return current;
  }

  /** Our lease, or undefined when someone else holds one. Creates the lock blob on first use. */
  private async tryLease(createIfMissing = true): Promise<BlobLeaseClient | undefined> {
    const lease = this.blob.getBlobLeaseClient(randomUUID());
    try {
      await lease.acquireLease(this.leaseSeconds);
      return lease;
    } catch (error) {
      const { code } = storageError(error);
      if (code === 'LeaseAlreadyPresent') return undefined;
      if (code !== 'BlobNotFound' || !createIfMissing) throw error;
    }
    await this.createLockBlob();
    return this.tryLease(false);
  }

  private async createLockBlob(): Promise<void> {
    try {
      await this.blob.upload('', 0, { conditions: { ifNoneMatch: '*' } });
    } catch (error) {
      if (storageError(error).code !== 'BlobAlreadyExists') throw error;
    }
  }

  private async currentHolder(): Promise<{ leased: boolean; holder: LockHolder | undefined }> {
    try {
      const properties = await this.blob.getProperties();
      const leased = properties.leaseState === 'leased' || properties.leaseState === 'breaking';
      return { leased, holder: holderFromMetadata(properties.metadata) };
    } catch (error) {
      if (isNotFound(error)) return { leased: false, holder: undefined };
      throw error;
    }
  }

  /** Writes the holder under the lease and keeps renewing it; returns the release function. */
  private async hold(lease: BlobLeaseClient, holder: LockHolder): Promise<() => Promise<void>> {
    try {
      await this.blob.setMetadata(holderMetadata(holder), { conditions: { leaseId: lease.leaseId } });
    } catch (error) {
      await lease.releaseLease().catch(() => undefined);
      throw error;
    }
    const renewal = this.startRenewing(lease);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      await renewal.stop();
      try {
        // Cleared so that a reader between someone's next acquire and its metadata write sees no stale holder.
        await this.blob.setMetadata({}, { conditions: { leaseId: lease.leaseId } });
        await lease.releaseLease();
      } catch (error) {
        if (!isLeaseLost(error)) throw error;
      }
    };
  }

  private startRenewing(lease: BlobLeaseClient): { stop(): Promise<void> } {
    const heldSince = Date.now();
    let inFlight: Promise<void> | undefined;
    const renew = async () => {
      try {
        await lease.renewLease();
      } catch (error) {
        const lost = isLeaseLost(error);
        if (lost) clearInterval(timer);
        this.onRenewError(toError(error), lost);
      }
    };
    const timer = setInterval(() => {
      if (Date.now() - heldSince >= this.maxHoldMs) {
        clearInterval(timer);
        this.onRenewError(
          new Error(`${this.location}: held for ${this.maxHoldMs} ms; renewal stopped`),
          true,
        );
        return;
      }
      inFlight ??= renew().finally(() => (inFlight = undefined));
    }, this.renewIntervalMs);
    // The lock must never keep the process alive: on exit renewal simply ends and the lease expires.
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await inFlight;
      },
    };
  }
}

/** Blob metadata keys are case-insensitive identifiers and values travel as HTTP headers: keep them ASCII. */
function holderMetadata(holder: LockHolder): Record<string, string> {
  return {
    runid: encodeURIComponent(holder.runId),
    trigger: holder.trigger,
    startedat: encodeURIComponent(holder.startedAt),
  };
}

const TRIGGERS: Record<Trigger, true> = { timer: true, http: true, cli: true, event: true };

function holderFromMetadata(metadata: Record<string, string> | undefined): LockHolder | undefined {
  const runId = metadata?.runid;
  const trigger = metadata?.trigger;
  const startedAt = metadata?.startedat;
  if (!runId || !startedAt || !trigger || !Object.hasOwn(TRIGGERS, trigger)) return undefined;
  try {
    return {
      runId: decodeURIComponent(runId),
      trigger: trigger as Trigger,
      startedAt: decodeURIComponent(startedAt),
    };
  } catch {
    return undefined;
  }
}

/**
 * Runs `operation` in a container created on first use. Creation is attempted once per container per
 * process; a container deleted behind our back is created again and the operation retried once.
 */
const ensuredContainers = new Map<string, Promise<void>>();

async function withContainer<T>(container: ContainerClient, operation: () => Promise<T>): Promise<T> {
  await ensureContainer(container);
  try {
    return await operation();
  } catch (error) {
    if (storageError(error).code !== 'ContainerNotFound') throw error;
    ensuredContainers.delete(container.url);
    await ensureContainer(container);
    return operation();
  }
}

function ensureContainer(container: ContainerClient): Promise<void> {
  let ensured = ensuredContainers.get(container.url);
  if (!ensured) {
    ensured = createContainer(container);
    ensuredContainers.set(container.url, ensured);
    ensured.catch(() => ensuredContainers.delete(container.url));
  }
  return ensured;
}

async function createContainer(container: ContainerClient): Promise<void> {
  try {
    await container.create();
  } catch (error) {
    if (storageError(error).code !== 'ContainerAlreadyExists') throw error;
  }
}

/** The status and Blob Storage error code of a failed request (`x-ms-error-code`). */
function storageError(error: unknown): { status: number | undefined; code: string | undefined } {
  if (typeof error !== 'object' || error === null) return { status: undefined, code: undefined };
  const { statusCode, code } = error as { statusCode?: unknown; code?: unknown };
  return {
    status: typeof statusCode === 'number' ? statusCode : undefined,
    code: typeof code === 'string' ? code : undefined,
  };
}

function isNotFound(error: unknown): boolean {
  const { code } = storageError(error);
  return code === 'BlobNotFound' || code === 'ContainerNotFound';
}

/**
 * The stored document is not the one we read: changed (412 ConditionNotMet on If-Match), created by another run
 * (409 BlobAlreadyExists on If-None-Match: *), or deleted (a 404 on If-Match, should a service answer that way).
 */
function isStaleWrite(error: unknown): boolean {
  const { status, code } = storageError(error);
  return (
    (status === 412 && code === 'ConditionNotMet') ||
    (status === 409 && code === 'BlobAlreadyExists') ||
    (status === 404 && code === 'BlobNotFound')
  );
}

/** The lease is not (or no longer) ours: released, expired and taken by someone else, or the blob is gone. */
function isLeaseLost(error: unknown): boolean {
  const { code } = storageError(error);
  return (
    code === 'LeaseIdMismatchWithLeaseOperation' ||
    code === 'LeaseNotPresentWithLeaseOperation' ||
    code === 'LeaseIdMismatchWithBlobOperation' ||
    code === 'LeaseNotPresentWithBlobOperation' ||
    code === 'LeaseLost' ||
    code === 'BlobNotFound' ||
    code === 'ContainerNotFound'
  );
}

function requireEtag(etag: string | undefined, location: string): string {
  if (!etag) throw new Error(`${location}: the storage service answered without an ETag`);
  return etag;
}

async function readText(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  if (!stream) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString('utf8');
}

/** A blob URL without any SAS query, fit for messages. */
function withoutQuery(url: string): string {
  const parsed = new URL(url);
  parsed.search = '';
  return parsed.toString();
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
