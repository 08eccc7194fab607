import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpRequest, InvocationContext, type HttpResponseInit, type Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { reconcileHandler } from '../../functions/reconcileHttp';
import { timerHandler } from '../../functions/reconcileTimer';
import { ManualClock } from '../../lib/engine/clock';
import type { RunReport } from '../../lib/engine/report';
import { buildFunctionsRuntime, type FunctionsRuntime } from '../../lib/wiring/runtime';
import { LOCK_BLOB, STATE_BLOB } from '../../lib/state/blobStore';
import { IngestionEmulator } from '../../sandbox/ingestion';
import { ARM_TOKEN, CLOUDFLARE_TOKEN, reactivate, type World } from '../../sandbox/story';
import { startAzurite, type Azurite } from '../support/azurite';
import { FAST, runCertificate, storyWorld } from '../support/world';

/**
 * Concurrency of the Functions app, as two Function hosts would meet: two runtimes built by
 * buildFunctionsRuntime from the same settings (same storage container), the real handlers, state and run lock
 * in Azurite, events to the local ingestion endpoint, the real SDKs against the emulators.
 */

let azurite: Azurite;
let ingestion: IngestionEmulator;
let world: World;
let service: BlobServiceClient;
const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));

beforeAll(async () => {
  [azurite, ingestion, world] = await Promise.all([
    startAzurite(),
    IngestionEmulator.start({ tls: runCertificate() }),
    storyWorld(),
  ]);
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
}, 30_000);

afterAll(async () => {
  await Promise.all([azurite?.stop(), ingestion?.close(), world?.close()]);
});

afterEach(() => {
  world.arm.latencyMs = 0;
});

/** The app settings of one deployment: every instance built from them shares the container. */
function settings(container: string): NodeJS.ProcessEnv {
  return {
    RECONCILER_CONFIG: readFileSync(world.configFile, 'utf8'),
    RECONCILE_SCHEDULE: '0 */5 * * * *',
    AzureWebJobsStorage: azurite.connectionString,
    RECONCILER_STATE_CONTAINER: container,
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
    CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN,
    RECONCILER_AZURE_TOKEN: ARM_TOKEN,
  };
}

/** One Function host: its own runtime (own lock, store, SDK clients), its handlers and its log. */
function host(env: NodeJS.ProcessEnv) {
  const runtime: FunctionsRuntime = buildFunctionsRuntime(env, { clock, tuning: FAST });
  const logs: string[] = [];
  const context = (functionName: string) =>
    new InvocationContext({
      invocationId: randomUUID(),
      functionName,
      logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
    });
  const TIMER: Timer = {
    isPastDue: false,
    schedule: { adjustForDST: false },
    scheduleStatus: undefined as never,
  };
  return {
    runtime,
    logs,
    timer: () => timerHandler(() => runtime)(TIMER, context('reconcileTimer')),
    http: (query = '') =>
      reconcileHandler(() => runtime)(
        new HttpRequest({ method: 'POST', url: `https://reconciler.example/api/reconcile${query}` }),
        context('reconcileHttp'),
      ),
  };
}

const lockBlob = (container: string) => service.getContainerClient(container).getBlobClient(LOCK_BLOB);
const stateBlob = (container: string) => service.getContainerClient(container).getBlobClient(STATE_BLOB);

async function storedState(container: string): Promise<{ lastRun?: { runId: string; trigger: string } }> {
  return JSON.parse((await stateBlob(container).downloadToBuffer()).toString('utf8'));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------------------------------------------

describe('two instances started together', () => {
  // Each round moves APIM to a new address, so whichever run gets the lock has changes to apply; the runs are
  // slowed (every Resource Manager answer takes 150 ms) so the loser certainly meets the winner's lock.
  test.each([
    ['timer on one instance, HTTP on the other', 'timer', 'http', '20.5.5.1'],
    ['HTTP on one instance, timer on the other', 'http', 'timer', '20.5.5.2'],
    ['HTTP on both instances', 'http', 'http', '20.5.5.3'],
    ['the timer on both instances', 'timer', 'timer', '20.5.5.4'],
  ] as const)(
    '%s: exactly one applies, the other reports the lock naming that run',
    async (_, one, other, ip) => {
      const container = `c-${randomUUID()}`;
      const env = settings(container);
      const [a, b] = [host(env), host(env)];
      reactivate(world, ip);
      ingestion.clear();
      world.arm.latencyMs = 150;

      const invoke = async (h: ReturnType<typeof host>, trigger: 'timer' | 'http') => {
        const response = trigger === 'timer' ? await h.timer() : await h.http();
        const locked = response ? response.status === 409 : h.logs.some((l) => l.startsWith('skipped:'));
        return { trigger, response, logs: h.logs, locked };
      };
      const results = await Promise.all([invoke(a, one), invoke(b, other)]);

      // One Reconcile.Run, by the run that held the lock, which applied the move to the new address.
      const runs = ingestion.events('Reconcile.Run').map((e) => e.properties);
      expect(runs).toHaveLength(1);
      const winner = runs[0]!;
      expect(winner).toMatchObject({ outcome: 'changed', trigger: expect.stringMatching(/^(timer|http)$/) });
      expect(ingestion.events('Reconcile.Change').every((e) => e.properties.runId === winner.runId)).toBe(
        true,
      );
      expect((await storedState(container)).lastRun).toMatchObject({
        runId: winner.runId,
        trigger: winner.trigger,
      });

      // The other was refused the lock, and names that run: a 409 for HTTP, a "skipped" line for the timer.
      expect(results.map((r) => r.locked).sort()).toEqual([false, true]);
      const loser = results.find((r) => r.locked)!;
      if (loser.trigger === 'http') {
        expect(loser.response?.status).toBe(409);
        expect(loser.response?.jsonBody).toEqual({
          error: `run ${winner.runId} (${winner.trigger}) holds the lock; try again when it ends`,
          heldBy: { runId: winner.runId, trigger: winner.trigger, startedAt: expect.any(String) },
        });
      } else {
        expect(loser.logs).toEqual([
          expect.stringMatching(
            new RegExp(`^skipped: run ${winner.runId} \\(${winner.trigger}, since .+\\) holds the lock$`),
          ),
        ]);
      }
      // And the lock is free again.
      await expect(lockBlob(container).getProperties()).resolves.toMatchObject({ leaseState: 'available' });
    },
  );
});

// ---------------------------------------------------------------------------------------------------------------

describe('the state document', () => {
  test('two runs that overlap (the first lost its lease) cannot both save: the second fails with a conflict', async () => {
    const container = `c-${randomUUID()}`;
    const env = settings(container);
    const [a, b] = [host(env), host(env)];
    await a.http(); // a first state document to conflict over
    reactivate(world, '20.6.6.6');
    ingestion.clear();
    world.arm.latencyMs = 150;

    // A runs; its lease is broken under it (as when renewals fail past the lease duration), so B gets the lock
    // and loads the same version of the state as A did: both runs are now in flight over one version.
    const first = a.http();
    await until('A to hold the lock', async () => {
      const p = await lockBlob(container).getProperties();
      return p.leaseState === 'leased' && p.metadata?.runid ? true : undefined;
    });
    await lockBlob(container).getBlobLeaseClient().breakLease(0);
    const second = b.http();
    const responses = await Promise.all([first, second]);
    const reports = responses.map((r) => r.jsonBody as RunReport);

    // Whichever saved second had loaded the version the other replaced: its save was refused, not applied over.
    const conflict = `cannot save the state at ${azurite.blobEndpoint}/${container}/${STATE_BLOB}: the state document was changed by another run since it was read`;
    const lost = reports.filter((r) => r.error === conflict);
    const saved = reports.filter((r) => r.error === undefined);
    expect([lost.length, saved.length]).toEqual([1, 1]);
    expect((await storedState(container)).lastRun?.runId).toBe(saved[0]!.runId);
    // The refused run says so where operators look: its outcome, its Reconcile.Run (the run-failed alert's
    // query), and the HTTP answer (200: the run happened, and its report says what became of it).
    expect(lost[0]!.outcome).toBe('failed');
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    const event = ingestion.events('Reconcile.Run').find((e) => e.properties.runId === lost[0]!.runId);
    expect(event?.properties).toMatchObject({ outcome: 'failed', error: conflict });
  });
});

// ---------------------------------------------------------------------------------------------------------------

/**
 * A process that takes the run lock with the real BlobRunLock (the shortest lease Blob Storage allows, 15 s)
 * and prints "held" once it holds it; the TypeScript sources are transpiled as they are required.
 */
const LOCK_HOLDER = `
const ts = require('typescript');
const fs = require('node:fs');
require.extensions['.ts'] = (module, file) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: file,
  });
  module._compile(outputText, file);
};
const { BlobServiceClient } = require('@azure/storage-blob');
const { BlobRunLock } = require(process.env.BLOB_STORE);
const service = BlobServiceClient.fromConnectionString(process.env.AzureWebJobsStorage);
new BlobRunLock(service, { container: process.env.RECONCILER_STATE_CONTAINER, leaseDurationSeconds: 15 })
  .acquire({ runId: 'killed-run', trigger: 'timer', startedAt: new Date().toISOString() })
  .then((lock) => {
    console.log(lock.acquired ? 'held' : 'not held');
    setInterval(() => undefined, 1000);
  }, (error) => {
    console.error(error);
    process.exit(1);
  });
`;

describe('a run killed while it holds the lock', () => {
  test('its lease expires and the next run proceeds', async () => {
    const container = `c-${randomUUID()}`;
    const env = settings(container);
    const child = spawn(process.execPath, ['-e', LOCK_HOLDER], {
      cwd: join(__dirname, '..', '..'),
      env: {
        ...process.env,
        ...env,
        BLOB_STORE: join(__dirname, '..', '..', 'lib', 'state', 'blobStore.ts'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await until(
        'the child to hold the lock',
        async () => (output.includes('held') ? true : undefined),
        15_000,
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}: ${output}`);
    }
    expect(output.trim()).toBe('held');
    const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    child.kill('SIGKILL');
    await expect(exited).resolves.toBe('SIGKILL');
    const killedAt = Date.now();

    // Right after: the lock is still the dead run's, and a run says so.
    const h = host(env);
    const refused = await h.http();
    expect(refused.status).toBe(409);
    expect(refused.jsonBody).toMatchObject({ heldBy: { runId: 'killed-run', trigger: 'timer' } });

    // Once the lease has expired (15 s after it was last taken), the next run takes the lock and runs.
    let response: HttpResponseInit;
    for (;;) {
      response = await h.http('?dryRun=true');
      if (response.status !== 409) break;
      expect(Date.now() - killedAt).toBeLessThan(20_000);
      await sleep(500);
    }
    expect(response.status).toBe(200);
    expect(Date.now() - killedAt).toBeGreaterThan(5_000);
    expect((response.jsonBody as RunReport).outcome).not.toBe('failed');
    await expect(lockBlob(container).getProperties()).resolves.toMatchObject({ leaseState: 'available' });
  }, 45_000);
});
