import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reactivate, resetCounts, writes, type World } from '../../sandbox/story';
import { IngestionEmulator } from '../../sandbox/ingestion';
import { runCertificate, storyWorld } from '../support/world';

/** The compiled CLI as a user runs it (`bin` → dist/cli/main.js, built by `npm ci` / `npm test`). */

const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');
let world: World;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
  world = await storyWorld();
});
afterAll(() => world.close());

/** Runs the CLI in a child process, asynchronously: the emulators answer from this process's event loop. */
function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: world.dir, env: { ...process.env, ...world.env, ...env }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

test('validate: exit 0 for a valid document, 1 with every problem by path', async () => {
  expect(await cli(['validate', '--config', world.configFile])).toMatchObject({
    code: 0,
    stdout: expect.stringContaining('is valid: 1 source, 3 targets'),
  });
  const bad = join(world.dir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({ sources: {}, targets: [{ name: 'x', type: 'azure.ipGroup', source: 'nope', typo: 1 }] }),
  );
  const result = await cli(['validate', '--config', bad]);
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('targets[0].resourceId: required');
  expect(result.stderr).toContain('targets[0].typo: unknown key');
  expect(result.stderr).toContain('targets[0].source: unknown source "nope"');
});

test('schema prints a JSON Schema', async () => {
  const result = await cli(['schema']);
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({
    title: 'apim-ip-reconciler configuration',
    type: 'object',
  });
});

test('plan --json prints one document with the exit code; plan writes nothing', async () => {
  resetCounts(world);
  const result = await cli([
    'plan',
    '--config',
    world.configFile,
    '--json',
    '--state',
    join(world.dir, 'cli-state.json'),
  ]);
  expect(result.code).toBe(2);
  const doc = JSON.parse(result.stdout);
  expect(doc).toMatchObject({ exitCode: 2, outcome: 'changed', dryRun: true, trigger: 'cli' });
  expect(doc.targets.map((t: { changes: Array<{ action: string }> }) => t.changes[0]!.action)).toEqual([
    'adopt',
    'adopt',
    'adopt',
  ]);
  expect(writes(world)).toBe(0);
});

test('apply then plan: exit 0 and 0', async () => {
  const state = join(world.dir, 'cli-apply-state.json');
  expect((await cli(['apply', '--config', world.configFile, '--state', state])).code).toBe(0);
  const plan = await cli(['plan', '--config', world.configFile, '--state', state]);
  expect(plan.code).toBe(0);
  expect(plan.stdout).toContain('OK: everything is in sync (3 targets, no changes).');
});

test('usage errors exit 1', async () => {
  expect((await cli(['plan'])).code).toBe(1);
  expect((await cli(['frobnicate'])).code).toBe(1);
  expect((await cli(['apply', '--config', world.configFile, '--nope'])).code).toBe(1);
});

test('with APPLICATIONINSIGHTS_CONNECTION_STRING set, the CLI sends the same events as the Functions app', async () => {
  const ingestion = await IngestionEmulator.start({ tls: runCertificate() });
  reactivate(world, '20.6.6.6');
  try {
    const state = join(world.dir, 'cli-telemetry-state.json');
    const result = await cli(['plan', '--config', world.configFile, '--state', state], {
      APPLICATIONINSIGHTS_CONNECTION_STRING: ingestion.connectionString(),
    });
    expect(result.code).toBe(2);
    expect(ingestion.events('Reconcile.Run').map((e) => e.properties)).toEqual([
      expect.objectContaining({ trigger: 'cli', outcome: 'changed', dryRun: 'true' }),
    ]);
    expect(ingestion.events('Reconcile.SourceObserved')).toHaveLength(1);
    expect(ingestion.events('Reconcile.Change').map((e) => e.properties.result)).toEqual([
      'planned',
      'planned',
      'planned',
    ]);
  } finally {
    await ingestion.close();
  }
});
