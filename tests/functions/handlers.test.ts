import { HttpRequest, InvocationContext, type Timer } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { reconcileHandler, statusHandler } from '../../functions/reconcileHttp';
import { timerHandler } from '../../functions/reconcileTimer';
import { ManualClock } from '../../lib/engine/clock';
import { buildFunctionsRuntime, type FunctionsRuntime } from '../../lib/wiring/runtime';
import { BlobRunLock } from '../../lib/state/blobStore';
import { IngestionEmulator, type EventRecord } from '../../sandbox/ingestion';
import {
  APIM_ID,
  ARM_TOKEN,
  CLOUDFLARE_TOKEN,
  RULE_ID,
  reactivate,
  resetCounts,
  suspend,
  writes,
  type World,
} from '../../sandbox/story';
import { DEV_ACCOUNT_KEY, startAzurite, type Azurite } from '../support/azurite';
import { FAST, runCertificate, storyWorld } from '../support/world';

/**
 * The Functions app end to end: the real handlers with the library's own InvocationContext and HttpRequest,
 * state and run lock in Azurite, events through the real applicationinsights SDK to a local ingestion
 * endpoint, the real Azure and Cloudflare SDKs against the emulators.
 */

let azurite: Azurite;
let ingestion: IngestionEmulator;
let world: World;
let clock: ManualClock;
let env: NodeJS.ProcessEnv;
let runtime: FunctionsRuntime;
const logs: string[] = [];

const timer = timerHandler(() => runtime);
const http = reconcileHandler(() => runtime);
const status = statusHandler(() => runtime);

function context(functionName: string): InvocationContext {
  return new InvocationContext({
    invocationId: randomUUID(),
    functionName,
    logHandler: (_level, ...args) => logs.push(args.map(String).join(' ')),
  });
}

const TIMER: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: undefined as never,
};

function post(query = '', body?: string): HttpRequest {
  return new HttpRequest({
    method: 'POST',
    url: `https://reconciler.example/api/reconcile${query}`,
    ...(body === undefined ? {} : { body: { string: body } }),
  });
}

const events = (name: string): EventRecord[] => ingestion.events(name);
const changes = () => events('Reconcile.Change').map((e) => e.properties);
const runs = () => events('Reconcile.Run').map((e) => e.properties);

function freshRuntime(extra: NodeJS.ProcessEnv = {}): FunctionsRuntime {
  return buildFunctionsRuntime({ ...env, ...extra }, { clock, tuning: FAST });
}

beforeAll(async () => {
  [azurite, ingestion, world] = await Promise.all([
    startAzurite(),
    IngestionEmulator.start({ tls: runCertificate() }),
    storyWorld(),
  ]);
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  env = {
    RECONCILER_CONFIG: readFileSync(world.configFile, 'utf8'),
    RECONCILE_SCHEDULE: '0 */5 * * * *',
    AzureWebJobsStorage: azurite.connectionString,
    RECONCILER_STATE_CONTAINER: `state-${Date.now()}`,
    APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
    CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN,
    RECONCILER_AZURE_TOKEN: ARM_TOKEN,
  };
  runtime = freshRuntime();
}, 30_000);

afterAll(async () => {
  await Promise.all([azurite?.stop(), ingestion?.close(), world?.close()]);
});

beforeEach(() => {
  ingestion.clear();
  logs.length = 0;
});

describe('the outage story through the Functions handlers', () => {
  test('the timer adopts, and every applied change arrives as exactly one Reconcile.Change', async () => {
    await timer(TIMER, context('reconcileTimer'));
    // In the order apply makes them (docs/cli.md#output): allowlists, then DNS.
    expect(changes()).toEqual([
      expect.objectContaining({ target: 'backend-nsg', action: 'adopt', result: 'applied' }),
      expect.objectContaining({ target: 'firewall-egress', action: 'adopt', result: 'applied' }),
      expect.objectContaining({
        target: 'api-dns',
        action: 'adopt',
        before: '20.1.1.1',
        after: '20.1.1.1',
        result: 'applied',
      }),
    ]);
    expect(runs()).toEqual([
      expect.objectContaining({ trigger: 'timer', mode: 'enforce', outcome: 'changed' }),
    ]);
    expect(logs.join('\n')).toMatch(/run [0-9a-f-]+: changed \(3 applied/);
  });

  test('a second timer run records a noop Reconcile.Run and no change', async () => {
    resetCounts(world);
    await timer(TIMER, context('reconcileTimer'));
    expect(changes()).toEqual([]);
    expect(runs()).toEqual([expect.objectContaining({ outcome: 'noop' })]);
    expect(writes(world)).toBe(0);
  });

  test('the suspended subscription is Reconcile.Blocked SourceNotRunning, and the run is blocked', async () => {
    suspend(world);
    resetCounts(world);
    await timer(TIMER, context('reconcileTimer'));
    expect(events('Reconcile.Blocked').map((e) => e.properties)).toEqual([
      expect.objectContaining({ source: 'prod', reason: 'SourceNotRunning', trigger: 'timer' }),
    ]);
    expect(runs()).toEqual([expect.objectContaining({ outcome: 'blocked' })]);
    expect(writes(world)).toBe(0);
  });

  test('reactivated: an HTTP dry run returns the plan and writes nothing', async () => {
    reactivate(world, '20.2.2.2');
    resetCounts(world);
    const response = await http(post('?dryRun=true'), context('reconcileHttp'));
    expect(response.status).toBe(200);
    const report = response.jsonBody as {
      dryRun: boolean;
      targets: Array<{ name: string; changes: Array<{ action: string; result: string }> }>;
    };
    expect(report.dryRun).toBe(true);
    expect(report.targets.map((t) => [t.name, t.changes.map((c) => `${c.action}:${c.result}`)])).toEqual([
      ['backend-nsg', ['add:planned']],
      ['firewall-egress', ['add:planned']],
      ['api-dns', ['update:planned']],
    ]);
    expect(writes(world)).toBe(0);
    expect(changes().map((c) => c.result)).toEqual(['planned', 'planned', 'planned']);
    expect(runs()).toEqual([expect.objectContaining({ trigger: 'http', dryRun: 'true' })]);
  });

  test('an HTTP apply moves everything, each change with the right before/after', async () => {
    const response = await http(post(), context('reconcileHttp'));
    expect(response.status).toBe(200);
    expect(changes()).toEqual([
      expect.objectContaining({
        target: 'backend-nsg',
        action: 'add',
        before: '',
        after: '20.2.2.2/32',
        result: 'applied',
        resource: RULE_ID,
      }),
      expect.objectContaining({
        target: 'firewall-egress',
        action: 'add',
        before: '',
        after: '20.2.2.2/32',
        result: 'applied',
      }),
      expect.objectContaining({
        target: 'api-dns',
        action: 'update',
        before: '20.1.1.1',
        after: '20.2.2.2',
        result: 'applied',
      }),
    ]);
    expect(runs()).toEqual([expect.objectContaining({ trigger: 'http', outcome: 'changed' })]);
  });

  test('after retireAfter, the timer removes the old address from the allowlists', async () => {
    clock.advance(61 * 60_000);
    await timer(TIMER, context('reconcileTimer'));
    expect(changes()).toEqual([
      expect.objectContaining({ target: 'backend-nsg', action: 'remove', before: '20.1.1.1', after: '' }),
      expect.objectContaining({
        target: 'firewall-egress',
        action: 'remove',
        before: '20.1.1.1/32',
        after: '',
      }),
    ]);
  });

  test('the status endpoint shows the last run and the observed addresses', async () => {
    const response = await status(
      new HttpRequest({ method: 'GET', url: 'https://reconciler.example/api/reconcile/status' }),
      context('reconcileStatus'),
    );
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({
      lastRun: { trigger: 'timer', outcome: 'changed', changesApplied: 2 },
      sources: { prod: { provisioningState: 'Succeeded', addresses: { inbound: ['20.2.2.2'] } } },
    });
  });
});

describe('the run lock', () => {
  test('a concurrent HTTP call answers 409 naming the run that holds the lock', async () => {
    world.arm.latencyMs = 300;
    try {
      const running = timer(TIMER, context('reconcileTimer'));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const refused = await http(post(), context('reconcileHttp'));
      expect(refused.status).toBe(409);
      expect(refused.jsonBody).toMatchObject({ heldBy: { trigger: 'timer' } });
      expect((refused.jsonBody as { error: string }).error).toMatch(
        /^run [0-9a-f-]+ \(timer\) holds the lock/,
      );
      await running;
    } finally {
      world.arm.latencyMs = 0;
    }
    expect((await http(post(), context('reconcileHttp'))).status).toBe(200);
  });

  test('a timer run finding the lock taken skips and says by whom', async () => {
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const held = await new BlobRunLock(service, { container: env.RECONCILER_STATE_CONTAINER }).acquire({
      runId: 'other-instance-run',
      trigger: 'http',
      startedAt: clock.now().toISOString(),
    });
    expect(held.acquired).toBe(true);
    try {
      await timer(TIMER, context('reconcileTimer'));
      expect(logs.join('\n')).toContain('skipped: run other-instance-run (http');
      expect(runs()).toEqual([]);
    } finally {
      if (held.acquired) await held.release();
    }
  });
});

describe('bad requests and bad configuration', () => {
  test.each([
    ['?dryRun=maybe', undefined, 'dryRun must be true or false, got "maybe"'],
    ['?dryrun=true', undefined, 'unknown query parameter "dryrun"; expected dryRun and/or force'],
    ['', '{"dryRun":true}', 'the request takes no body; use the dryRun and force query parameters'],
  ])('POST %s %s → 400 with the reason, nothing run', async (query, body, reason) => {
    resetCounts(world);
    const response = await http(post(query, body), context('reconcileHttp'));
    expect(response).toMatchObject({ status: 400, jsonBody: { error: reason } });
    expect(world.arm.requests).toEqual([]);
    expect(runs()).toEqual([]);
  });

  test('a run that fails (the APIM read refused) also fails the timer invocation, after recording the run', async () => {
    world.arm.forbid(APIM_ID, 'read');
    try {
      await expect(timer(TIMER, context('reconcileTimer'))).rejects.toThrow(/^run [0-9a-f-]+: failed/);
      expect(runs()).toEqual([expect.objectContaining({ outcome: 'failed', trigger: 'timer' })]);
    } finally {
      world.arm.permit(APIM_ID);
    }
  });

  test('an invalid config fails every invocation fast with its message, recorded as a failed run', async () => {
    const broken = freshRuntime({ RECONCILER_CONFIG: '{"sources":{},"targets":[{"name":"x"}]}' });
    const handler = timerHandler(() => broken);
    resetCounts(world);
    await expect(handler(TIMER, context('reconcileTimer'))).rejects.toThrow(/targets\[0\]\.type: required/);
    const response = await reconcileHandler(() => broken)(post(), context('reconcileHttp'));
    expect(response.status).toBe(500);
    expect((response.jsonBody as { error: string }).error).toMatch(
      /invalid configuration \(RECONCILER_CONFIG\)/,
    );
    expect(runs()).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        trigger: 'timer',
        error: expect.stringContaining('targets[0].type: required'),
      }),
      expect.objectContaining({ outcome: 'failed', trigger: 'http' }),
    ]);
    expect(world.arm.requests).toEqual([]);
    expect(writes(world)).toBe(0);
  });

  test('missing storage settings are named at start-up', async () => {
    const broken = freshRuntime({ AzureWebJobsStorage: '' });
    const response = await reconcileHandler(() => broken)(post(), context('reconcileHttp'));
    expect(response.status).toBe(500);
    expect((response.jsonBody as { error: string }).error).toMatch(/AzureWebJobsStorage/);
  });
});

describe('secrets', () => {
  test('no token, key or connection string appears in any event or log line of a whole run', async () => {
    reactivate(world, '20.4.4.4');
    await http(post(), context('reconcileHttp'));
    await timer(TIMER, context('reconcileTimer'));
    const secrets = [
      CLOUDFLARE_TOKEN,
      ARM_TOKEN,
      DEV_ACCOUNT_KEY,
      azurite.connectionString,
      env.APPLICATIONINSIGHTS_CONNECTION_STRING!,
    ];
    // Every envelope's payload (iKey is the routing field every envelope carries, not a credential).
    const payloads = ingestion.envelopes.map((e) => JSON.stringify({ ...e, iKey: undefined }));
    expect(payloads.length).toBeGreaterThan(3);
    for (const text of [...payloads, ...logs]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/Bearer\s+\S/i);
      expect(text).not.toMatch(/AccountKey=/i);
    }
  });
});
