/**
 * The Application Insights recorder with the real `applicationinsights` SDK posting to the ingestion emulator over
 * HTTPS (run through scripts/with-sandbox-ca.js so the run certificate is trusted).
 *
 * The whole file runs as an unhelpful operator might configure things: an applicationinsights JSON config asking for
 * 0% sampling, auto-collection, live metrics and the disk cache, and an HTTPS proxy that is really a trap recording
 * any attempt to reach a host other than 127.0.0.1.
 */
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { SettingsError } from '../../lib/config/settings';
import type { RunReport } from '../../lib/engine/report';
import {
  AppInsightsRecorder,
  recorderFromEnvironment,
  type AppInsightsRecorderOptions,
} from '../../lib/telemetry/appInsights';
import { EVENT, GUARD, type TelemetryEvent } from '../../lib/telemetry/events';
import { MemoryRecorder } from '../../lib/telemetry/memory';
import { recordRun } from '../../lib/telemetry/record';
import { IngestionEmulator } from '../../sandbox/ingestion';
import { inheritedRunCertificate, type RunCertificate } from '../../sandbox/tls';

const HOSTILE_OPERATOR_CONFIG = JSON.stringify({
  samplingPercentage: 0,
  enableAutoCollectRequests: true,
  enableAutoCollectDependencies: true,
  enableAutoCollectConsole: true,
  enableAutoCollectPerformance: true,
  enableSendLiveMetrics: true,
  enableUseDiskRetryCaching: true,
});

const ENV_KEYS = [
  'APPLICATIONINSIGHTS_CONFIGURATION_CONTENT',
  'HTTPS_PROXY',
  'HTTP_PROXY',
  'NO_PROXY',
  'https_proxy',
  'http_proxy',
  'no_proxy',
] as const;

let certificate: RunCertificate;
let ingestion: IngestionEmulator;
let trap: EgressTrap;
let connections: jest.SpyInstance;
const savedEnv: Record<string, string | undefined> = {};
const recorders: AppInsightsRecorder[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  const inherited = inheritedRunCertificate();
  if (!inherited)
    throw new Error('run through scripts/with-sandbox-ca.js so the sandbox certificate is trusted');
  certificate = inherited;
  trap = await startEgressTrap();
  for (const key of ENV_KEYS) savedEnv[key] = process.env[key];
  for (const key of ['https_proxy', 'http_proxy', 'no_proxy'] as const) delete process.env[key];
  process.env.APPLICATIONINSIGHTS_CONFIGURATION_CONTENT = HOSTILE_OPERATOR_CONFIG;
  process.env.HTTPS_PROXY = trap.url;
  process.env.HTTP_PROXY = trap.url;
  process.env.NO_PROXY = '127.0.0.1,localhost';
  ingestion = await IngestionEmulator.start({ tls: certificate });
  process.on('unhandledRejection', onUnhandled);
  // Every TCP connection of the process, whoever opens it (the proxy above only sees what honours HTTPS_PROXY).
  connections = jest.spyOn(Socket.prototype, 'connect');
});

afterAll(async () => {
  await Promise.all(recorders.map((r) => r.shutdown()));
  await ingestion?.close();
  await trap?.close();
  process.off('unhandledRejection', onUnhandled);
  connections?.mockRestore();
  for (const key of ENV_KEYS) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
});

beforeEach(() => {
  ingestion.clear();
  ingestion.clearFaults();
  connections.mockClear();
});

afterEach(() => {
  expect(trap.attempts).toEqual([]);
  expect(connections.mock.calls.map(connectionTarget).filter((target) => !isLoopback(target))).toEqual([]);
  expect(unhandled).toEqual([]);
});

function recorder(options: Partial<AppInsightsRecorderOptions> = {}): AppInsightsRecorder {
  const created = AppInsightsRecorder.create({ connectionString: ingestion.connectionString(), ...options });
  recorders.push(created);
  return created;
}

/** Only telemetry we tracked, only on the track route. */
function expectOnlyTrackedTelemetry(emulator: IngestionEmulator = ingestion): void {
  expect(Object.keys(emulator.counts())).toEqual(emulator.requests.length ? ['POST track'] : []);
  for (const envelope of emulator.envelopes) {
    expect(['EventData', 'ExceptionData']).toContain((envelope.data as { baseType?: unknown }).baseType);
  }
}

const event = (
  name: TelemetryEvent['name'],
  properties: Record<string, string>,
  measurements?: Record<string, number>,
) => ({
  name,
  properties,
  ...(measurements ? { measurements } : {}),
});

describe('events', () => {
  it('arrive exactly once, with their name, string properties and numeric measurements, when flush() resolves', async () => {
    const r = recorder({ cloudRole: 'reconciler-test' });
    const sent = [
      event(
        EVENT.run,
        { runId: 'r1', trigger: 'timer', mode: 'enforce', outcome: 'noop', error: '' },
        {
          durationMs: 12.5,
          targets: 0,
          changesApplied: -1,
        },
      ),
      event(EVENT.change, {
        runId: 'r1',
        trigger: 'timer',
        mode: 'enforce',
        before: '20.1.1.1/32',
        after: 'ü → ✓',
      }),
      event(EVENT.blocked, {
        runId: 'r1',
        trigger: 'timer',
        mode: 'enforce',
        reason: GUARD.emptySource,
        detail: '',
      }),
    ];
    for (const e of sent) r.event(e);

    await r.flush();

    const received = ingestion.events();
    expect(
      received.map(({ name, properties, measurements }) => ({ name, properties, measurements })),
    ).toEqual(sent.map((e) => ({ ...e, measurements: e.measurements ?? {} })));
    for (const e of received) {
      expect(e.tags['ai.cloud.role']).toBe('reconciler-test');
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
    }
    expectOnlyTrackedTelemetry();
  });

  it('of a run arrive as the reconciler’s events, each with runId, trigger and mode, as the memory recorder has them', async () => {
    const r = recorder();
    const memory = new MemoryRecorder();
    const report = handBuiltReport();
    recordRun(r, report);
    recordRun(memory, report);

    await r.flush();

    const received = ingestion.events();
    expect(
      received.map(({ name, properties, measurements }) => ({ name, properties, measurements })),
    ).toEqual(
      memory.events.map((e) => ({
        name: e.name,
        properties: e.properties,
        measurements: e.measurements ?? {},
      })),
    );
    expect(received.map((e) => e.name)).toEqual([
      EVENT.sourceObserved,
      EVENT.sourceObserved,
      EVENT.blocked,
      EVENT.blocked,
      EVENT.change,
      EVENT.change,
      EVENT.change,
      EVENT.run,
    ]);
    for (const e of received) {
      expect(e.properties).toMatchObject({ runId: report.runId, trigger: 'http', mode: 'observe' });
    }
    expect(ingestion.events(EVENT.sourceObserved).map((e) => e.properties)).toMatchObject([
      { source: 'prod', provisioningState: 'Succeeded', sku: 'Developer', inbound: '20.2.2.2' },
      { source: 'dr', provisioningState: 'Stopped', inbound: '' },
    ]);
    expect(ingestion.events(EVENT.blocked).map((e) => e.properties.reason)).toEqual([
      GUARD.sourceNotRunning,
      GUARD.tooManyRemovals,
    ]);
    expect(ingestion.events(EVENT.change).map((e) => [e.properties.action, e.properties.result])).toEqual([
      ['add', 'planned'],
      ['remove', 'planned'],
      ['update', 'failed'],
    ]);
    expect(ingestion.events(EVENT.run)[0]?.measurements).toEqual({
      targets: 4,
      changesPlanned: 3,
      changesApplied: 0,
      changesFailed: 1,
      guards: 2,
      errors: 1,
      durationMs: 1234,
    });
    expectOnlyTrackedTelemetry();
  });

  it('still arrive when flushes overlap: a flush waits for the one in progress, then sends what came after', async () => {
    const r = recorder();
    ingestion.inject({ route: 'track', latencyMs: 100 });
    r.event(event(EVENT.run, { runId: 'first' }));
    const first = r.flush();
    await until(() => ingestion.requestHeaders.length === 1); // the first flush is sending
    r.event(event(EVENT.run, { runId: 'second' }));

    await r.flush();

    expect(ingestion.events().map((e) => e.properties.runId)).toEqual(['first', 'second']);
    expect(ingestion.count({ route: 'track' })).toBe(2);
    await first;
    expectOnlyTrackedTelemetry();
  });

  it('of two recorders in one process are neither duplicated nor lost', async () => {
    const one = recorder({
      connectionString: ingestion.connectionString('11111111-1111-1111-1111-111111111111'),
    });
    const two = recorder({
      connectionString: ingestion.connectionString('22222222-2222-2222-2222-222222222222'),
    });
    one.event(event(EVENT.run, { runId: 'a1' }));
    two.event(event(EVENT.run, { runId: 'b1' }));
    one.event(event(EVENT.run, { runId: 'a2' }));

    await Promise.all([one.flush(), two.flush()]);
    one.event(event(EVENT.run, { runId: 'a3' }));
    await one.flush();
    await two.flush();

    const byKey = (key: string) =>
      ingestion
        .events()
        .filter((e) => e.iKey === key)
        .map((e) => e.properties.runId);
    expect(byKey('11111111-1111-1111-1111-111111111111')).toEqual(['a1', 'a2', 'a3']);
    expect(byKey('22222222-2222-2222-2222-222222222222')).toEqual(['b1']);
    expect(ingestion.events()).toHaveLength(4);
    expectOnlyTrackedTelemetry();
  });

  it('are sent as they are even though the operator config asks for 0% sampling and auto-collection', async () => {
    const r = recorder();
    const sent = Array.from({ length: 50 }, (_, i) =>
      event(EVENT.change, { runId: 'sampled', n: String(i) }),
    );
    for (const e of sent) r.event(e);
    // An outgoing HTTPS call carrying a bearer token, as the Azure SDKs make: auto-collection would record it.
    await get(`${ingestion.url}/not-telemetry`, { Authorization: 'Bearer leaked-arm-token' });

    await r.flush();

    expect(ingestion.events().map((e) => e.properties.n)).toEqual(sent.map((e) => e.properties.n));
    expect(JSON.stringify(ingestion.envelopes)).not.toContain('leaked-arm-token');
    expect(ingestion.counts()).toEqual({
      'POST track': ingestion.count({ route: 'track' }),
      'GET notFound': 1,
    });
    for (const envelope of ingestion.envelopes)
      expect((envelope.data as { baseType: string }).baseType).toBe('EventData');
  });
});

describe('exceptions', () => {
  it('arrive with their type, message and properties, even one without a message', async () => {
    const r = recorder();
    r.exception(new TypeError('state blob unreadable'), { runId: 'r9', trigger: 'timer', mode: 'enforce' });
    r.exception(new RangeError(''), { runId: 'r9' });

    await r.flush();

    expect(
      ingestion.exceptions().map(({ typeName, message, properties }) => ({ typeName, message, properties })),
    ).toEqual([
      {
        typeName: 'TypeError',
        message: 'state blob unreadable',
        properties: { runId: 'r9', trigger: 'timer', mode: 'enforce' },
      },
      { typeName: 'RangeError', message: 'RangeError (no message)', properties: { runId: 'r9' } },
    ]);
    expect(ingestion.count({ route: 'track' })).toBe(1);
    expectOnlyTrackedTelemetry();
  });
});

describe('managed identity ingestion', () => {
  const token = 'sandbox-ingestion-token';
  let secured: IngestionEmulator;

  beforeAll(async () => {
    secured = await IngestionEmulator.start({ tls: certificate, token });
  });
  afterAll(async () => {
    await secured?.close();
  });
  beforeEach(() => secured.clear());

  it('sends Authorization: Bearer on every request, for the monitor scope, and the token never in an envelope', async () => {
    const credential = new RecordingCredential(token);
    const clientIds: string[] = [];
    const r = recorderFromEnvironment(
      {
        APPLICATIONINSIGHTS_CONNECTION_STRING: secured.connectionString(),
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          'Authorization=AAD;ClientId=00000000-0000-0000-0000-0000000000c1',
        AZURE_CLIENT_ID: 'not-this-one',
      },
      (clientId) => {
        clientIds.push(clientId);
        return credential;
      },
    )!;
    r.event(event(EVENT.run, { runId: 'aad' }));
    r.exception(new Error('with a token nearby'), { runId: 'aad' });

    await r.flush();
    await r.flush();

    expect(clientIds).toEqual(['00000000-0000-0000-0000-0000000000c1']);
    expect(secured.events().map((e) => e.properties.runId)).toEqual(['aad']);
    expect(secured.exceptions()).toHaveLength(1);
    expect(secured.requestHeaders.length).toBeGreaterThan(0);
    for (const headers of secured.requestHeaders) expect(headers.authorization).toBe(`Bearer ${token}`);
    expect(credential.scopes).toContainEqual(['https://monitor.azure.com/.default']);
    expect(JSON.stringify(secured.envelopes)).not.toContain(token);
    expectOnlyTrackedTelemetry(secured);
    await r.shutdown();
  });

  it('takes AZURE_CLIENT_ID when the authentication string names no client', async () => {
    const credential = new RecordingCredential(token);
    const clientIds: string[] = [];
    const r = recorderFromEnvironment(
      {
        APPLICATIONINSIGHTS_CONNECTION_STRING: secured.connectionString(),
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD',
        AZURE_CLIENT_ID: '00000000-0000-0000-0000-0000000000c2',
      },
      (clientId) => {
        clientIds.push(clientId);
        return credential;
      },
    )!;
    r.event(event(EVENT.run, { runId: 'from-client-id' }));
    await r.flush();

    expect(clientIds).toEqual(['00000000-0000-0000-0000-0000000000c2']);
    expect(secured.events().map((e) => e.properties.runId)).toEqual(['from-client-id']);
    await r.shutdown();
  });

  it('without the authentication string sends with the instrumentation key only, which such a resource refuses', async () => {
    const r = recorderFromEnvironment(
      { APPLICATIONINSIGHTS_CONNECTION_STRING: secured.connectionString(), AZURE_CLIENT_ID: 'ignored' },
      () => {
        throw new Error('no credential expected');
      },
    )!;
    r.event(event(EVENT.run, { runId: 'no-aad' }));

    await r.flush();

    expect(secured.requestHeaders.map((h) => h.authorization)).toEqual([undefined]);
    expect(secured.requests.map((q) => q.status)).toEqual([401]);
    expect(secured.events()).toEqual([]);
    await r.shutdown();
  });
});

describe('recorderFromEnvironment', () => {
  it('is undefined without a connection string', () => {
    expect(recorderFromEnvironment({ AZURE_CLIENT_ID: 'x' })).toBeUndefined();
    expect(recorderFromEnvironment({ APPLICATIONINSIGHTS_CONNECTION_STRING: '  ' })).toBeUndefined();
  });

  it('refuses a connection string the exporter would silently discard, without repeating it', () => {
    const key = 'a1b2c3d4-0000-0000-0000-00000000beef';
    for (const connectionString of [
      `InstrumentationKey=${key}-x;IngestionEndpoint=https://127.0.0.1/`,
      `IngestionEndpoint=https://127.0.0.1/`,
      `InstrumentationKey=${key};IngestionEndpoint=127.0.0.1`,
      `InstrumentationKey=${key};IngestionEndpoint`,
    ]) {
      let error: unknown;
      try {
        recorderFromEnvironment({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(SettingsError);
      expect(String(error)).toContain('APPLICATIONINSIGHTS_CONNECTION_STRING');
      expect(String(error)).not.toContain(key);
    }
  });

  it('refuses an authentication string other than Authorization=AAD', () => {
    for (const auth of ['Authorization=ikey', 'AAD', 'ClientId=abc']) {
      expect(() =>
        recorderFromEnvironment({
          APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
          APPLICATIONINSIGHTS_AUTHENTICATION_STRING: auth,
        }),
      ).toThrow(SettingsError);
    }
  });

  it('sends with an upper-case key and a trailing semicolon, which the exporter alone would drop', async () => {
    const key = '3c3c3c3c-aaaa-bbbb-cccc-ddddeeeeffff';
    const connectionString = `${ingestion.connectionString(key).replace(key, key.toUpperCase())};`;
    const r = recorderFromEnvironment({ APPLICATIONINSIGHTS_CONNECTION_STRING: connectionString })!;
    r.event(event(EVENT.run, { runId: 'normalized' }));

    await r.flush();

    expect(ingestion.events().map((e) => [e.iKey, e.properties.runId])).toEqual([[key, 'normalized']]);
    await r.shutdown();
  });

  it('uses the system-assigned identity for Authorization=AAD with no client id anywhere', async () => {
    const r = recorderFromEnvironment(
      {
        APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;',
      },
      () => {
        throw new Error('a user-assigned identity was not asked for');
      },
    );
    expect(r).toBeInstanceOf(AppInsightsRecorder);
    await r?.shutdown();
  });
});

describe('when ingestion fails', () => {
  const fastRetry = { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 20 };
  /** Breeze answers a failure with its usual body; the exporter cannot read a 5xx without one (it drops the batch). */
  const unavailable = {
    status: 503,
    body: {
      itemsReceived: 1,
      itemsAccepted: 0,
      errors: [{ index: 0, statusCode: 503, message: 'Service Unavailable' }],
    },
  };

  it('a passing 500, 503 or reset connection is retried within the same flush, and the event arrives once', async () => {
    const r = recorder({ retry: fastRetry });
    for (const fault of [{ status: 500 }, { status: 503 }, { reset: true }]) {
      ingestion.inject({ route: 'track', ...fault });
      r.event(event(EVENT.run, { runId: JSON.stringify(fault) }));
      await r.flush();
    }

    expect(ingestion.requests.map((q) => q.status)).toEqual([500, 200, 503, 200, 0, 200]);
    expect(ingestion.events().map((e) => e.properties.runId)).toEqual([
      '{"status":500}',
      '{"status":503}',
      '{"reset":true}',
    ]);
    expectOnlyTrackedTelemetry();
  });

  it('a lasting 503 loses that batch after the retries (no disk cache by default); flush() resolves', async () => {
    const r = recorder({ retry: fastRetry });
    const before = azureMonitorDirectories();
    ingestion.inject({ route: 'track', ...unavailable, times: 100 });
    r.event(event(EVENT.run, { runId: 'lost' }));

    await r.flush();
    ingestion.clearFaults();
    r.event(event(EVENT.run, { runId: 'kept' }));
    await r.flush();

    expect(ingestion.requests.map((q) => q.status)).toEqual([503, 503, 503, 503, 200]);
    expect(ingestion.events().map((e) => e.properties.runId)).toEqual(['kept']);
    expect(azureMonitorDirectories()).toEqual(before);
  });

  it('with a disk cache, keeps a refused batch in that directory and sends it again after Retry-After', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-ai-cache-'));
    try {
      const r = recorder({ offlineStorageDirectory: directory, retry: { maxRetries: 0 } });
      ingestion.inject({ route: 'track', ...unavailable, headers: { 'Retry-After': '1' } });
      r.event(event(EVENT.run, { runId: 'retried' }));

      await r.flush();
      expect(ingestion.events()).toEqual([]);
      expect(readdirSync(directory).some((d) => d.startsWith('Microsoft-AzureMonitor-'))).toBe(true);

      await until(() => ingestion.events().length > 0);
      expect(ingestion.events().map((e) => e.properties.runId)).toEqual(['retried']);
      expect(ingestion.requests.map((q) => q.status)).toEqual([503, 200]);
      await r.shutdown();
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('flush() gives up waiting after flushTimeoutMs when ingestion does not answer', async () => {
    const silent = await startSilentIngestion(certificate);
    const r = AppInsightsRecorder.create({
      connectionString: silent.connectionString,
      flushTimeoutMs: 50,
      retry: { maxRetries: 0 },
    });
    try {
      r.event(event(EVENT.run, { runId: 'unanswered' }));

      await r.flush();

      expect(silent.requests).toEqual(['POST /v2.1/track']);
    } finally {
      await silent.close();
    }
    await r.shutdown();
  });
});

describe('nothing else leaves the process', () => {
  it('over 20 minutes: no settings poll, no statsbeat, no live metrics, no metrics', async () => {
    // A fresh copy of the SDK, so its process-wide singletons start under the fake clock.
    let isolated!: typeof import('../../lib/telemetry/appInsights');
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      isolated = require('../../lib/telemetry/appInsights');
    });
    jest.useFakeTimers({
      doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'],
    });
    let r: AppInsightsRecorder;
    try {
      r = isolated.AppInsightsRecorder.create({ connectionString: ingestion.connectionString() });
      r.event(event(EVENT.run, { runId: 'long-lived' }));
      await jest.advanceTimersByTimeAsync(20 * 60_000);
    } finally {
      jest.useRealTimers();
    }

    await r.flush();
    await r.shutdown();

    expect(trap.attempts).toEqual([]);
    expect(ingestion.events().map((e) => e.properties.runId)).toEqual(['long-lived']);
    expectOnlyTrackedTelemetry();
  });
});

describe('the ingestion emulator answers like Breeze', () => {
  const envelope = (iKey: string, name: string, extra: Record<string, unknown> = {}) => ({
    ver: 1,
    name: 'Microsoft.ApplicationInsights.Event',
    time: '2026-03-01T10:00:00.000Z',
    iKey,
    tags: {},
    data: {
      baseType: 'EventData',
      baseData: { ver: 2, name, properties: { a: 'b' }, measurements: { m: 1 } },
    },
    ...extra,
  });
  let iKey: string;
  beforeEach(() => {
    iKey = ingestion.connectionString().match(/InstrumentationKey=([^;]+)/)![1]!;
  });

  it('accepts a gzip-compressed array, and newline-delimited JSON', async () => {
    const gzipped = await send(
      ingestion.url,
      '/v2.1/track',
      gzipSync(JSON.stringify([envelope(iKey, 'one')])),
      {
        'Content-Encoding': 'gzip',
      },
    );
    const lines = [envelope(iKey, 'two'), envelope(iKey, 'three')].map((e) => JSON.stringify(e)).join('\n');
    const ndjson = await send(ingestion.url, '/v2.1/track', lines, {
      'Content-Type': 'application/x-json-stream',
    });

    expect([gzipped, ndjson].map((r) => [r.status, r.body])).toEqual([
      [200, { itemsReceived: 1, itemsAccepted: 1, errors: [] }],
      [200, { itemsReceived: 2, itemsAccepted: 2, errors: [] }],
    ]);
    expect(ingestion.events().map((e) => [e.name, e.properties, e.measurements])).toEqual([
      ['one', { a: 'b' }, { m: 1 }],
      ['two', { a: 'b' }, { m: 1 }],
      ['three', { a: 'b' }, { m: 1 }],
    ]);
  });

  it('answers 206 with the index of each refused item, and 400 when none is accepted', async () => {
    const partial = await send(
      ingestion.url,
      '/v2.1/track',
      JSON.stringify([
        envelope(iKey, 'ok'),
        envelope(iKey, ''),
        envelope('00000000-0000-0000-0000-000000000000', 'x'),
      ]),
    );
    const none = await send(
      ingestion.url,
      '/v2.1/track',
      `${JSON.stringify(envelope(iKey, 'y', { time: '' }))}\n{oops`,
    );

    expect(partial.status).toBe(206);
    expect(partial.body).toEqual({
      itemsReceived: 3,
      itemsAccepted: 1,
      errors: [
        {
          index: 1,
          statusCode: 400,
          message:
            "109: Field 'name' on type 'EventData' is required but missing or empty. Expected: string, Actual: ",
        },
        { index: 2, statusCode: 400, message: 'Invalid instrumentation key' },
      ],
    });
    expect(none.status).toBe(400);
    expect(none.body).toMatchObject({
      itemsReceived: 2,
      itemsAccepted: 0,
      errors: [{ index: 0 }, { index: 1 }],
    });
    expect(ingestion.events().map((e) => e.name)).toEqual(['ok']);
  });

  it('says live metrics has no subscriber, refuses other methods and paths, and counts them all', async () => {
    const ping = await send(
      ingestion.url,
      `/QuickPulseService.svc/ping?api-version=2024-04-01-preview&ikey=${iKey}`,
      '{}',
    );
    const wrongMethod = await send(ingestion.url, '/v2.1/track', undefined, {}, 'GET');
    const unknown = await send(ingestion.url, '/v2/nothing', '[]');

    expect(ping.status).toBe(200);
    expect(ping.headers['x-ms-qps-subscribed']).toBe('false');
    expect([wrongMethod.status, unknown.status]).toEqual([405, 404]);
    expect(ingestion.counts()).toEqual({
      'POST liveMetrics.ping': 1,
      'GET methodNotAllowed': 1,
      'POST notFound': 1,
    });
  });

  it('with local authentication disabled, wants a bearer token: 401 without one, 403 with another', async () => {
    const secured = await IngestionEmulator.start({ tls: certificate, token: 'right' });
    try {
      const key = secured.connectionString().match(/InstrumentationKey=([^;]+)/)![1]!;
      const body = JSON.stringify([envelope(key, 'secured')]);
      const statuses = [
        (await send(secured.url, '/v2.1/track', body)).status,
        (await send(secured.url, '/v2.1/track', body, { Authorization: 'Bearer wrong' })).status,
        (await send(secured.url, '/v2.1/track', body, { Authorization: 'Bearer right' })).status,
      ];
      expect(statuses).toEqual([401, 403, 200]);
      expect(secured.events().map((e) => e.name)).toEqual(['secured']);
    } finally {
      await secured.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------

class RecordingCredential implements TokenCredential {
  readonly scopes: string[][] = [];
  constructor(private readonly token: string) {}
  async getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken> {
    this.scopes.push(Array.isArray(scopes) ? scopes : [scopes]);
    return { token: this.token, expiresOnTimestamp: Date.now() + 3_600_000 };
  }
}

interface EgressTrap {
  url: string;
  /** `CONNECT host:port` or `METHOD url` of every request that tried to go through the proxy. */
  attempts: string[];
  close(): Promise<void>;
}

/** An HTTP proxy that lets nothing through: whatever the SDK tries to reach beyond NO_PROXY lands here. */
async function startEgressTrap(): Promise<EgressTrap> {
  const attempts: string[] = [];
  const server: Server = createServer((req, res) => {
    attempts.push(`${req.method} ${req.url}`);
    res.destroy();
  });
  server.on('connect', (req, socket) => {
    attempts.push(`CONNECT ${req.url}`);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    attempts,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** An HTTPS endpoint that takes requests and never answers them. */
async function startSilentIngestion(tls: RunCertificate) {
  const requests: string[] = [];
  const server = createHttpsServer({ cert: tls.cert, key: tls.key }, (req) => {
    requests.push(`${req.method} ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    connectionString: `InstrumentationKey=${randomUUID()};IngestionEndpoint=https://127.0.0.1:${port}/`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `host:port` of a Socket#connect call, whichever of its forms was used; '' for a local (IPC) socket. */
function connectionTarget(args: unknown[]): string {
  const first = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
  if (typeof first === 'number' || typeof first === 'string')
    return `${String(args[1] ?? 'localhost')}:${first}`;
  const options = (first ?? {}) as { host?: string; port?: number | string; path?: string | null };
  return typeof options.path === 'string' && options.path !== ''
    ? ''
    : `${options.host ?? 'localhost'}:${options.port ?? ''}`;
}

function isLoopback(target: string): boolean {
  return target === '' || /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\]):/.test(target);
}

async function send(
  base: string,
  path: string,
  body: string | Buffer | undefined,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${base}${path}`,
      { method, headers: { 'Content-Type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
          });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function get(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The exporter's default disk cache lives in the OS temp directory, one directory per key, user and process. */
function azureMonitorDirectories(): string[] {
  return readdirSync(tmpdir()).filter(
    (d) => d.startsWith('Microsoft-AzureMonitor-') && existsSync(join(tmpdir(), d)),
  );
}

/** Waits for a condition that real time brings about (a retry timer in the SDK). */
async function until(condition: () => boolean, ceilingMs = 10_000): Promise<void> {
  const deadline = Date.now() + ceilingMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function handBuiltReport(): RunReport {
  return {
    runId: 'run-7f3a',
    trigger: 'http',
    mode: 'observe',
    dryRun: true,
    force: false,
    startedAt: '2026-03-01T10:00:00.000Z',
    finishedAt: '2026-03-01T10:00:01.234Z',
    durationMs: 1234,
    outcome: 'partial',
    sources: [
      {
        name: 'prod',
        resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso',
        status: 'observed',
        provisioningState: 'Succeeded',
        sku: 'Developer',
        addresses: { inbound: ['20.2.2.2'], outbound: ['20.2.2.2'], private: [] },
        regions: [{ location: 'West Europe', inbound: ['20.2.2.2'], outbound: ['20.2.2.2'], private: [] }],
      },
      {
        name: 'dr',
        resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso-dr',
        status: 'blocked',
        provisioningState: 'Stopped',
        block: { reason: GUARD.sourceNotRunning, detail: 'provisioningState is Stopped' },
      },
      {
        name: 'gone',
        resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/gone',
        status: 'unavailable',
        error: 'ResourceNotFound',
      },
    ],
    targets: [
      {
        name: 'backend-nsg',
        type: 'azure.nsgRule',
        source: 'prod',
        resource:
          '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/b/securityRules/r',
        status: 'planned',
        changes: [
          { action: 'add', before: '', after: '20.2.2.2/32', result: 'planned' },
          { action: 'remove', before: '20.1.1.1/32', after: '', result: 'planned', note: 'retired 1h ago' },
        ],
        deferred: [],
      },
      {
        name: 'api-dns',
        type: 'cloudflare.dnsRecords',
        source: 'prod',
        resource: 'zone/api.contoso.com',
        status: 'failed',
        changes: [
          {
            action: 'update',
            subject: 'api.contoso.com A',
            before: '20.1.1.1',
            after: '20.2.2.2',
            result: 'failed',
          },
        ],
        deferred: [],
        error: 'Cloudflare 500',
      },
      {
        name: 'dr-nsg',
        type: 'azure.nsgRule',
        source: 'dr',
        resource: 'rule',
        status: 'blocked',
        changes: [],
        deferred: [],
        block: { reason: GUARD.sourceNotRunning, detail: 'held by source' },
        heldBySource: true,
      },
      {
        name: 'ip-group',
        type: 'azure.ipGroup',
        source: 'prod',
        resource: 'group',
        status: 'blocked',
        changes: [],
        deferred: [],
        block: { reason: GUARD.tooManyRemovals, detail: '6 removals > 4' },
      },
    ],
    counts: { targets: 4, changesPlanned: 3, changesApplied: 0, changesFailed: 1, guards: 2, errors: 1 },
  };
}
