import { randomUUID } from 'node:crypto';
import { BlobClient, BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import {
  BlobRunLock,
  BlobStateStore,
  blobServiceFromEnvironment,
  stateContainerFromEnvironment,
  LOCK_BLOB,
  STATE_BLOB,
} from '../../lib/state/blobStore';
import { SettingsError } from '../../lib/config/settings';
import {
  emptyState,
  StateConflictError,
  type LockHolder,
  type LockResult,
  type State,
} from '../../lib/state/store';
import { inheritedRunCertificate } from '../../sandbox/tls';
import { startAzurite, storageBearerToken, StaticTokenCredential, type Azurite } from '../support/azurite';

let azurite: Azurite;
let service: BlobServiceClient;

beforeAll(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
});

afterAll(async () => {
  try {
    await releaseAll();
  } finally {
    await azurite?.stop();
  }
});

afterEach(() => {
  jest.restoreAllMocks();
});

/**
 * Every lock taken in this file, released at the end even when an assertion failed on the way, so that no
 * renewal outlives the tests. (Each test has its own container, so a lock still held never meets another test.)
 */
const taken: LockResult[] = [];

class TrackedLock extends BlobRunLock {
  override async acquire(lockHolder: LockHolder): Promise<LockResult> {
    const result = await super.acquire(lockHolder);
    taken.push(result);
    return result;
  }
}

async function releaseAll(): Promise<void> {
  const held = taken.splice(0);
  await Promise.allSettled(held.map((result) => (result.acquired ? result.release() : undefined)));
}

/** Every test gets its own container, so none sees another's state, lock or container creation. */
function freshContainer(): string {
  return `t-${randomUUID()}`;
}

function holder(runId: string, trigger: LockHolder['trigger'] = 'timer'): LockHolder {
  return { runId, trigger, startedAt: '2026-01-01T00:00:00.000Z' };
}

function stateWithRun(runId: string): State {
  return {
    ...emptyState(),
    targets: { 'api-dns': { resource: 'zone/api.contoso.com', owned: ['20.1.1.1/32'], departed: {} } },
    lastRun: {
      runId,
      trigger: 'timer',
      outcome: 'changed',
      dryRun: false,
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:05.000Z',
      changesApplied: 1,
      changesPlanned: 1,
      guards: 0,
      errors: 0,
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('BlobStateStore', () => {
  test('an empty store loads the empty state with no version, and creates nothing', async () => {
    const container = freshContainer();
    const store = new BlobStateStore(service, { container });

    await expect(store.load()).resolves.toEqual({ value: emptyState(), version: undefined });
    await expect(service.getContainerClient(container).exists()).resolves.toBe(false);
    expect(store.location).toBe(`${azurite.blobEndpoint}/${container}/${STATE_BLOB}`);
  });

  test('a saved state loads back with the blob ETag as its version', async () => {
    const container = freshContainer();
    const store = new BlobStateStore(service, { container });
    const state = stateWithRun('run-1');

    const version = await store.save(state, undefined);
    const loaded = await store.load();

    expect(loaded).toEqual({ value: state, version });
    expect(version).toMatch(/^"0x[0-9A-F]+"$/);
    const properties = await service.getContainerClient(container).getBlobClient(STATE_BLOB).getProperties();
    expect(properties.contentType).toBe('application/json');

    const next = await store.save(stateWithRun('run-2'), version);
    expect(next).not.toBe(version);
    await expect(store.load()).resolves.toEqual({ value: stateWithRun('run-2'), version: next });
  });

  test('a save from a stale load is refused and the other run’s write survives', async () => {
    const store = new BlobStateStore(service, { container: freshContainer() });
    await store.save(stateWithRun('run-0'), undefined);
    const first = await store.load();
    const second = await store.load();

    const written = await store.save(stateWithRun('run-a'), first.version);
    await expect(store.save(stateWithRun('run-b'), second.version)).rejects.toBeInstanceOf(
      StateConflictError,
    );

    await expect(store.load()).resolves.toEqual({ value: stateWithRun('run-a'), version: written });
  });

  test('two first saves race: one wins, the other gets StateConflictError', async () => {
    const container = freshContainer();
    const one = new BlobStateStore(service, { container });
    const other = new BlobStateStore(service, { container });

    const results = await Promise.allSettled([
      one.save(stateWithRun('run-a'), undefined),
      other.save(stateWithRun('run-b'), undefined),
    ]);

    const winners = results.filter((r) => r.status === 'fulfilled');
    const losers = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]?.reason).toBeInstanceOf(StateConflictError);
    const stored = (await one.load()).value.lastRun?.runId;
    expect(stored).toBe(results[0]?.status === 'fulfilled' ? 'run-a' : 'run-b');
  });

  test('the container is created once per process, however many stores and locks use it', async () => {
    const container = freshContainer();
    const create = jest.spyOn(ContainerClient.prototype, 'create');

    const store = new BlobStateStore(service, { container });
    const v1 = await store.save(emptyState(), undefined);
    await new BlobStateStore(service, { container }).save(stateWithRun('run-1'), v1);
    const lock = await new TrackedLock(service, { container }).acquire(holder('run-2'));
    if (lock.acquired) await lock.release();

    expect(lock.acquired).toBe(true);
    expect(create).toHaveBeenCalledTimes(1);
    await expect(service.getContainerClient(container).exists()).resolves.toBe(true);
  });

  test('a container deleted behind its back is created again on the next save', async () => {
    const container = freshContainer();
    const store = new BlobStateStore(service, { container });
    await store.save(emptyState(), undefined);
    await service.getContainerClient(container).delete();

    await expect(store.load()).resolves.toEqual({ value: emptyState(), version: undefined });
    const version = await store.save(stateWithRun('run-1'), undefined);

    await expect(store.load()).resolves.toEqual({ value: stateWithRun('run-1'), version });
  });

  test('a blob that is not a state document is refused, not overwritten', async () => {
    const container = freshContainer();
    const store = new BlobStateStore(service, { container });
    await store.save(emptyState(), undefined);
    const blob = service.getContainerClient(container).getBlockBlobClient(STATE_BLOB);

    await blob.upload('{"hello": 1}', 12);
    await expect(store.load()).rejects.toThrow(/is not a state document/);
    await blob.upload('not json', 8);
    await expect(store.load()).rejects.toThrow(/is not valid JSON/);
  });

  test('the container name comes from RECONCILER_STATE_CONTAINER, checked against Blob Storage naming', () => {
    expect(stateContainerFromEnvironment({})).toBe('apim-ip-reconciler');
    expect(stateContainerFromEnvironment({ RECONCILER_STATE_CONTAINER: ' reconciler-prod ' })).toBe(
      'reconciler-prod',
    );
    for (const bad of ['Upper', 'ab', 'double--hyphen', '-leading', 'a'.repeat(64), 'under_score']) {
      expect(() => stateContainerFromEnvironment({ RECONCILER_STATE_CONTAINER: bad })).toThrow(SettingsError);
    }
  });
});

describe('BlobRunLock', () => {
  test('a second acquire while held reports the holder; after release the lock is free again', async () => {
    const container = freshContainer();
    const first = new TrackedLock(service, { container });
    const second = new TrackedLock(service, { container });

    const held = await first.acquire(holder('run-1', 'timer'));
    expect(held.acquired).toBe(true);
    await expect(second.acquire(holder('run-2', 'http'))).resolves.toEqual({
      acquired: false,
      heldBy: holder('run-1', 'timer'),
    });
    // Even the same lock object cannot take it twice: the lease, not the object, is the lock.
    await expect(first.acquire(holder('run-3'))).resolves.toMatchObject({ acquired: false });

    if (held.acquired) {
      await held.release();
      await held.release(); // a second release is a no-op
    }
    const lockBlob = service.getContainerClient(container).getBlobClient(LOCK_BLOB);
    const released = await lockBlob.getProperties();
    expect(released.leaseState).toBe('available');
    expect(released.metadata).toEqual({});

    const again = await second.acquire(holder('run-2', 'http'));
    expect(again.acquired).toBe(true);
    await expect(lockBlob.getProperties()).resolves.toMatchObject({
      leaseState: 'leased',
      metadata: {
        runid: 'run-2',
        trigger: 'http',
        startedat: encodeURIComponent('2026-01-01T00:00:00.000Z'),
      },
    });
  });

  test('holder values that are not header-safe survive the round trip', async () => {
    const container = freshContainer();
    const odd: LockHolder = {
      runId: 'run ünïcode/1',
      trigger: 'cli',
      startedAt: '2026-01-01T00:00:00+01:00',
    };
    await expect(new TrackedLock(service, { container }).acquire(odd)).resolves.toMatchObject({
      acquired: true,
    });

    await expect(new TrackedLock(service, { container }).acquire(holder('x'))).resolves.toEqual({
      acquired: false,
      heldBy: odd,
    });
  });

  test('a lease held by something that wrote no holder is reported as held by an unknown holder', async () => {
    const container = freshContainer();
    const lock = new TrackedLock(service, { container });
    const first = await lock.acquire(holder('run-1'));
    if (first.acquired) await first.release();
    const foreign = service.getContainerClient(container).getBlobClient(LOCK_BLOB).getBlobLeaseClient();
    await foreign.acquireLease(15);

    await expect(lock.acquire(holder('run-2'))).resolves.toEqual({ acquired: false, heldBy: undefined });
    await foreign.releaseLease();
  });

  test('a lease that ends while its holder is being read is tried again, not reported as held', async () => {
    const container = freshContainer();
    const lock = new TrackedLock(service, { container });
    const first = await lock.acquire(holder('run-1'));
    if (first.acquired) await first.release();
    const foreign = service.getContainerClient(container).getBlobClient(LOCK_BLOB).getBlobLeaseClient();
    await foreign.acquireLease(15);
    const getProperties = BlobClient.prototype.getProperties;
    jest.spyOn(BlobClient.prototype, 'getProperties').mockImplementationOnce(async function (
      this: BlobClient,
    ) {
      await foreign.releaseLease();
      return getProperties.call(this);
    });

    await expect(lock.acquire(holder('run-2'))).resolves.toMatchObject({ acquired: true });
  });

  test('the renewal timer does not keep the process alive', async () => {
    const setIntervalSpy = jest.spyOn(global, 'setInterval');
    const held = await new TrackedLock(service, { container: freshContainer() }).acquire(holder('run-1'));
    expect(held.acquired).toBe(true);

    const timers = setIntervalSpy.mock.results.map((result) => result.value as NodeJS.Timeout);
    expect(timers).toHaveLength(1);
    expect(timers[0]?.hasRef()).toBe(false);
  });

  test('lease settings outside what Blob Storage allows are refused up front', () => {
    expect(() => new TrackedLock(service, { leaseDurationSeconds: 10 })).toThrow(RangeError);
    expect(() => new TrackedLock(service, { leaseDurationSeconds: 61 })).toThrow(RangeError);
    expect(() => new TrackedLock(service, { leaseDurationSeconds: 15, renewIntervalMs: 8_000 })).toThrow(
      RangeError,
    );
  });

  // One wait of a little over one lease duration serves every "after the lease would have expired" check.
  describe('after one short lease duration', () => {
    const LEASE_SECONDS = 15;
    const renewedContainer = freshContainer();
    const crashedContainer = freshContainer();
    const cappedContainer = freshContainer();
    const renewErrors: Error[] = [];
    const cappedErrors: { message: string; lost: boolean }[] = [];
    let renewed: LockResult;
    let capped: LockResult;

    beforeAll(async () => {
      const started = Date.now();
      renewed = await new TrackedLock(service, {
        container: renewedContainer,
        leaseDurationSeconds: LEASE_SECONDS,
        renewIntervalMs: 3_000,
        onRenewError: (error) => renewErrors.push(error),
      }).acquire(holder('renewed'));
      await leaveLeaseLikeACrashedRun(crashedContainer);
      capped = await new TrackedLock(service, {
        container: cappedContainer,
        leaseDurationSeconds: LEASE_SECONDS,
        renewIntervalMs: 3_000,
        maxHoldMs: 1,
        onRenewError: (error, lost) => cappedErrors.push({ message: error.message, lost }),
      }).acquire(holder('capped'));
      await sleep(LEASE_SECONDS * 1000 + 1_500 - (Date.now() - started));
    }, 40_000);

    test('a renewed lock is still held past its lease duration', async () => {
      expect(renewed.acquired).toBe(true);
      await expect(
        new TrackedLock(service, { container: renewedContainer }).acquire(holder('other')),
      ).resolves.toEqual({ acquired: false, heldBy: holder('renewed') });
      expect(renewErrors).toEqual([]);
    });

    test('a lease nobody released or renewed has expired, and the next acquire succeeds', async () => {
      const next = await new TrackedLock(service, { container: crashedContainer }).acquire(
        holder('next', 'http'),
      );

      expect(next.acquired).toBe(true);
      const properties = await service
        .getContainerClient(crashedContainer)
        .getBlobClient(LOCK_BLOB)
        .getProperties();
      expect(properties.metadata).toEqual({
        runid: 'next',
        trigger: 'http',
        startedat: encodeURIComponent('2026-01-01T00:00:00.000Z'),
      });
    });

    test('renewal stops after maxHoldMs, so a run that never releases cannot hold the lock for ever', async () => {
      expect(capped.acquired).toBe(true);
      expect(cappedErrors).toEqual([{ message: expect.stringMatching(/renewal stopped$/), lost: true }]);
      const next = await new TrackedLock(service, { container: cappedContainer }).acquire(holder('next'));

      expect(next.acquired).toBe(true);
    });
  });
});

/** What a process that died while holding the lock leaves behind: a finite lease and its metadata, never renewed. */
async function leaveLeaseLikeACrashedRun(container: string): Promise<void> {
  const first = await new TrackedLock(service, { container }).acquire(holder('warm-up'));
  if (first.acquired) await first.release();
  const blob = service.getContainerClient(container).getBlobClient(LOCK_BLOB);
  const lease = blob.getBlobLeaseClient();
  await lease.acquireLease(15);
  await blob.setMetadata(
    { runid: 'crashed', trigger: 'timer', startedat: '2026-01-01T00%3A00%3A00.000Z' },
    { conditions: { leaseId: lease.leaseId } },
  );
  await expect(new TrackedLock(service, { container }).acquire(holder('too-early'))).resolves.toEqual({
    acquired: false,
    heldBy: holder('crashed'),
  });
}

describe('blobServiceFromEnvironment', () => {
  test('AzureWebJobsStorage as a connection string reaches the account it names', async () => {
    const client = blobServiceFromEnvironment({ AzureWebJobsStorage: azurite.connectionString });
    const store = new BlobStateStore(client, { container: freshContainer() });

    const version = await store.save(stateWithRun('run-1'), undefined);

    expect(client.url).toBe(azurite.blobEndpoint);
    await expect(store.load()).resolves.toEqual({ value: stateWithRun('run-1'), version });
  });

  test('UseDevelopmentStorage=true means the local emulator’s default endpoint', () => {
    const client = blobServiceFromEnvironment({ AzureWebJobsStorage: 'UseDevelopmentStorage=true' });

    expect(client.url).toBe('http://127.0.0.1:10000/devstoreaccount1');
    expect(client.accountName).toBe('devstoreaccount1');
  });

  test('an account name alone means its public blob endpoint, with the given credential', () => {
    const credential = new StaticTokenCredential(storageBearerToken());
    const client = blobServiceFromEnvironment(
      { AzureWebJobsStorage__accountName: 'contosofuncs' },
      credential,
    );

    expect(client.url).toBe('https://contosofuncs.blob.core.windows.net/');
    expect(client.credential).toBe(credential);
  });

  test('the connection string wins over identity-based settings, as in the Functions host', () => {
    const client = blobServiceFromEnvironment({
      AzureWebJobsStorage: azurite.connectionString,
      AzureWebJobsStorage__accountName: 'contosofuncs',
    });

    expect(client.url).toBe(azurite.blobEndpoint);
  });

  test('identity-based settings without a credential are refused by name', () => {
    expect(() => blobServiceFromEnvironment({ AzureWebJobsStorage__accountName: 'contosofuncs' })).toThrow(
      /AzureWebJobsStorage__accountName selects identity-based storage, but no credential/,
    );
  });

  test('no storage setting at all is a clear error naming every setting that would do', () => {
    const call = () => blobServiceFromEnvironment({ AzureWebJobsStorage: '  ' });

    expect(call).toThrow(/AzureWebJobsStorage \(a connection string, or UseDevelopmentStorage=true\)/);
    expect(call).toThrow(/AzureWebJobsStorage__blobServiceUri or AzureWebJobsStorage__accountName/);
  });

  describe('identity-based, against Azurite over HTTPS with --oauth basic', () => {
    let secure: Azurite;

    beforeAll(async () => {
      const certificate = inheritedRunCertificate();
      if (!certificate) {
        throw new Error(
          'run through `node scripts/with-sandbox-ca.js npx jest …` so the sandbox certificate is trusted',
        );
      }
      secure = await startAzurite({ tls: certificate });
    });

    afterAll(async () => {
      try {
        await releaseAll();
      } finally {
        await secure?.stop();
      }
    });

    test('AzureWebJobsStorage__blobServiceUri with a bearer token keeps state and takes the lock', async () => {
      expect(secure.blobEndpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      const credential = new StaticTokenCredential(storageBearerToken());
      const client = blobServiceFromEnvironment(
        { AzureWebJobsStorage__blobServiceUri: secure.blobEndpoint },
        credential,
      );
      const container = freshContainer();
      const store = new BlobStateStore(client, { container });

      const version = await store.save(stateWithRun('run-1'), undefined);
      await expect(store.load()).resolves.toEqual({ value: stateWithRun('run-1'), version });
      const lock = await new TrackedLock(client, { container }).acquire(holder('run-1'));
      expect(lock.acquired).toBe(true);

      expect(new Set(credential.scopes)).toEqual(new Set(['https://storage.azure.com/.default']));
    });

    test('a token for another audience is rejected, so the token really is checked', async () => {
      const credential = new StaticTokenCredential(
        storageBearerToken({ audience: 'https://management.azure.com' }),
      );
      const client = blobServiceFromEnvironment(
        { AzureWebJobsStorage__blobServiceUri: secure.blobEndpoint },
        credential,
      );

      await expect(
        new BlobStateStore(client, { container: freshContainer() }).save(emptyState(), undefined),
      ).rejects.toMatchObject({
        statusCode: 403,
        code: 'AuthenticationFailed',
      });
    });
  });
});
