import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import type { FunctionsRuntime, RuntimeOverrides } from '../../lib/wiring/runtime';
import { IngestionEmulator } from '../../sandbox/ingestion';
import {
  ARM_TOKEN,
  CLOUDFLARE_TOKEN,
  NEW_IP,
  RECORD_NAME,
  ZONE_ID,
  reactivate,
  type World,
} from '../../sandbox/story';
import { startAzurite, type Azurite } from '../support/azurite';
import { FAST, runCertificate, storyWorld } from '../support/world';

/**
 * The deployed artifact: package.json "main" is dist/bundle/functions.js (`npm run bundle`, part of the build).
 * Loading it registers the functions; the runtime it builds runs the outage story with state and lock in Azurite,
 * events through the applicationinsights SDK (left out of the bundle) and the SDKs bundled inside it.
 */

const BUNDLE = join(__dirname, '..', '..', 'dist', 'bundle', 'functions.js');

interface Bundle {
  buildFunctionsRuntime(env: NodeJS.ProcessEnv, overrides?: RuntimeOverrides): FunctionsRuntime;
}

let azurite: Azurite;
let ingestion: IngestionEmulator;
let world: World;

beforeAll(async () => {
  [azurite, ingestion, world] = await Promise.all([
    startAzurite(),
    IngestionEmulator.start({ tls: runCertificate() }),
    storyWorld(),
  ]);
}, 30_000);

afterAll(async () => {
  await Promise.all([azurite?.stop(), ingestion?.close(), world?.close()]);
});

test('package.json names the bundle as the Functions entry', () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    main: string;
  };
  expect(pkg.main).toBe('dist/bundle/functions.js');
  expect(existsSync(BUNDLE)).toBe(true);
});

test('the bundle registers the functions, and its runtime adopts, then follows the new IP', async () => {
  // Outside the host, @azure/functions is in test mode: it says which registrations it skipped.
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const bundle = require(BUNDLE) as Bundle;
  const registered = warn.mock.calls.map((args) => /register function "(\w+)"/.exec(String(args[0]))?.[1]);
  warn.mockRestore();
  expect(registered.filter(Boolean).sort()).toEqual(['reconcileHttp', 'reconcileStatus', 'reconcileTimer']);
  const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  const runtime = bundle.buildFunctionsRuntime(
    {
      RECONCILER_CONFIG: readFileSync(world.configFile, 'utf8'),
      RECONCILE_SCHEDULE: '0 */5 * * * *',
      AzureWebJobsStorage: azurite.connectionString,
      RECONCILER_STATE_CONTAINER: `bundle-${Date.now()}`,
      APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
      CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN,
      RECONCILER_AZURE_TOKEN: ARM_TOKEN,
    },
    { clock, tuning: FAST },
  );

  const adopted = await runtime.reconcile({ trigger: 'timer', dryRun: false, force: false });
  expect(adopted).toMatchObject({ kind: 'done', report: { outcome: 'changed' } });

  reactivate(world);
  const moved = await runtime.reconcile({ trigger: 'http', dryRun: false, force: false });
  expect(moved).toMatchObject({ kind: 'done', report: { outcome: 'changed' } });
  expect(world.cloudflare.records(ZONE_ID, { name: RECORD_NAME, type: 'A' })).toEqual([
    expect.objectContaining({ content: NEW_IP }),
  ]);

  const status = await runtime.status();
  expect(status.lastRun).toMatchObject({ trigger: 'http', outcome: 'changed' });
  expect(ingestion.events('Reconcile.Run').map((e) => e.properties.outcome)).toEqual(['changed', 'changed']);
});
