import { BlobServiceClient } from '@azure/storage-blob';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import { BlobRunLock } from '../../lib/state/blobStore';
import { buildFunctionsRuntime } from '../../lib/wiring/runtime';
import {
  APIM_ID,
  ARM_TOKEN,
  CLOUDFLARE_TOKEN,
  reactivate,
  resetCounts,
  suspend,
  writes,
  type World,
} from '../../sandbox/story';
import { startAzurite, type Azurite } from '../support/azurite';
import { FAST, runCli, storyWorld } from '../support/world';

/**
 * The CLI on the bad day (docs/cli.md): output and exit codes that agree for held, failed and partial runs; the
 * Functions app's state blob and lease shared with the app (Azurite), a lease held by another run refused with its
 * holder; the loopback token rule; an unresolved Key Vault reference; errors as JSON; --version; progress lines.
 */

const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

// Every test starts the CLI in a child process or runs whole reconciliations: generous on a busy machine.
jest.setTimeout(90_000);

let world: World;
let azurite: Azurite;
let clock: ManualClock;

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
  [world, azurite] = await Promise.all([storyWorld({ lroPolls: 3, retryAfterSeconds: 1 }), startAzurite()]);
  clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
}, 60_000);
afterAll(async () => Promise.all([world?.close(), azurite?.stop()]));

/** The compiled CLI in a child process, as a user runs it. */
function cli(
  args: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: world.dir, env: { ...process.env, ...world.env, ...env }, encoding: 'utf8', timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

/** The summary: the last line of the plan, before any error lines on stderr. */
const lastLine = (output: string) =>
  output
    .split('\n')
    .filter((line) => /^(OK|Failed|Pending|Blocked)\b/.test(line))
    .at(-1);

describe('output and exit codes that agree', () => {
  const state = () => join(world.dir, 'honest-state.json');

  test('adopting, then in sync: OK, and "in sync" only when it is', async () => {
    const adopt = await runCli('apply', world, clock, { state: state() });
    expect(adopt.exitCode).toBe(0);
    expect(lastLine(adopt.output)).toBe('OK: 3 changes applied.');
    const plan = await runCli('plan', world, clock, { state: state() });
    expect(plan.exitCode).toBe(0);
    expect(lastLine(plan.output)).toBe('OK: everything is in sync (3 targets, no changes).');
  });

  test('held: Blocked, counting the targets held (not the guards), never "in sync"', async () => {
    suspend(world);
    try {
      for (const command of ['plan', 'apply'] as const) {
        const run = await runCli(command, world, clock, { state: state() });
        expect(run.exitCode).toBe(3);
        // One guard (SourceNotRunning on the source) holds three targets.
        expect(run.report!.counts.guards).toBe(1);
        expect(lastLine(run.output)).toBe(
          `Blocked: 3 targets held by a guard; ${command === 'apply' ? 'nothing changed' : 'nothing to change'}.`,
        );
        expect(run.output).not.toMatch(/in sync/i);
      }
    } finally {
      reactivate(world, '20.1.1.1');
    }
  });

  test('partial: Failed when one write fails while the others go out; targets listed in apply order', async () => {
    reactivate(world, '20.3.3.3');
    const plan = await runCli('plan', world, clock, { state: state() });
    expect(plan.exitCode).toBe(2);
    expect(lastLine(plan.output)).toBe('Pending: 2 to add, 1 to change, 0 to remove.');
    // Allowlists first, then DNS, as apply makes them.
    expect(plan.report!.targets.map((t) => t.name)).toEqual(['backend-nsg', 'firewall-egress', 'api-dns']);
    const order = ['# backend-nsg', '# firewall-egress', '# api-dns'].map((h) => plan.output.indexOf(h));
    expect(order).toEqual([...order].sort((a, b) => a - b));

    world.arm.failNextOperation('securityRule.put', 'Failed', {
      code: 'InternalServerError',
      message: 'An error occurred.',
    });
    const apply = await runCli('apply', world, clock, { state: state() });
    expect(apply.exitCode).toBe(1);
    expect(apply.report!.outcome).toBe('partial');
    expect(lastLine(apply.output)).toBe('Failed: 1 target failed; 2 changes applied.');
    expect(apply.output).toMatch(/^error: target backend-nsg: /m);
    expect(apply.output).not.toMatch(/in sync/i);
    // The next run finishes the job.
    expect((await runCli('apply', world, clock, { state: state() })).exitCode).toBe(0);
  });

  test('failed: the source cannot be read, so nothing changes and the summary says so', async () => {
    world.arm.forbid(APIM_ID, 'read');
    try {
      const run = await runCli('apply', world, clock, { state: state() });
      expect(run.exitCode).toBe(1);
      expect(lastLine(run.output)).toBe(
        'Failed: 1 source unavailable; 3 targets held by a guard; nothing changed.',
      );
      expect(run.output).not.toMatch(/in sync/i);
    } finally {
      world.arm.permit(APIM_ID);
    }
  });

  test('--json: one document with the exit code; progress lines never', async () => {
    resetCounts(world);
    const result = await cli(['plan', '--config', world.configFile, '--state', state(), '--json']);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ exitCode: 2, outcome: 'changed' });
    expect(result.stderr).not.toContain('…');
  });
});

describe('one state and one lock with the Functions app', () => {
  const container = `cli-${Date.now()}`;
  let blobUrl: string;
  let service: BlobServiceClient;

  beforeAll(() => {
    blobUrl = `${azurite.blobEndpoint}/${container}/state.json`;
    service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  });

  test('the CLI applies against the app state blob, and the app reads what the CLI saved', async () => {
    reactivate(world, '20.5.5.5');
    const apply = await runCli('apply', world, clock, { state: blobUrl });
    expect(apply.exitCode).toBe(0);
    const saved = JSON.parse(
      (
        await service.getContainerClient(container).getBlockBlobClient('state.json').downloadToBuffer()
      ).toString(),
    ) as { targets: Record<string, { owned: string[] }>; lastRun: { trigger: string } };
    expect(saved.lastRun.trigger).toBe('cli');
    expect(saved.targets['backend-nsg']!.owned).toContain('20.5.5.5/32');

    // The app, on the same container, sees the CLI's run and state.
    const app = buildFunctionsRuntime(
      {
        RECONCILER_CONFIG: readFileSync(world.configFile, 'utf8'),
        AzureWebJobsStorage: azurite.connectionString,
        RECONCILER_STATE_CONTAINER: container,
        CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN,
        RECONCILER_AZURE_TOKEN: ARM_TOKEN,
      },
      { clock, tuning: FAST },
    );
    const status = await app.status();
    expect(status.lastRun).toMatchObject({ trigger: 'cli', runId: apply.report!.runId });
    expect(status.runs[0]).toMatchObject({ trigger: 'cli' });
  });

  test('a lease held by another run: exit 1 naming it, nothing done; free again, the CLI runs', async () => {
    const lock = await new BlobRunLock(service, { container }).acquire({
      runId: 'timer-run-7',
      trigger: 'timer',
      startedAt: '2026-11-27T09:00:00.000Z',
    });
    if (!lock.acquired) throw new Error('the lock was not free');
    try {
      resetCounts(world);
      const human = await runCli('apply', world, clock, { state: blobUrl });
      expect(human.exitCode).toBe(1);
      expect(human.output).toMatch(
        new RegExp(
          `^error: run timer-run-7 \\(timer\\) has held the lock on ${azurite.blobEndpoint}/${container}/run\\.lock since 2026-11-27T09:00:00\\.000Z`,
          'm',
        ),
      );
      const json = await cli(['apply', '--config', world.configFile, '--state', blobUrl, '--json']);
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        error: {
          code: 'locked',
          message: expect.stringContaining('run timer-run-7 (timer) has held the lock'),
          heldBy: { runId: 'timer-run-7', trigger: 'timer', startedAt: '2026-11-27T09:00:00.000Z' },
        },
        exitCode: 1,
      });
      // Refused before anything was read or written.
      expect(writes(world)).toBe(0);
      expect(Object.values(world.arm.counts()).reduce((a, b) => a + b, 0)).toBe(0);
    } finally {
      await lock.release();
    }
    expect((await runCli('plan', world, clock, { state: blobUrl })).exitCode).toBe(0);
  });

  test('--state refuses a SAS URL, a host that is not Blob Storage, and an emulator account other than Azurite’s', async () => {
    const bad = async (state: string) => (await runCli('plan', world, clock, { state })).output;
    expect(await bad(`${blobUrl}?sv=2024&sig=abc`)).toMatch(/without a query or credentials/);
    expect(await bad('https://storage.example.net/c1x/state.json')).toMatch(
      /storage\.example\.net is not a Blob Storage host/,
    );
    expect(await bad(`${azurite.blobEndpoint.replace('devstoreaccount1', 'other')}/c1x/state.json`)).toMatch(
      /only its development account devstoreaccount1/,
    );
  });
});

describe('identity and settings', () => {
  test('a loopback Resource Manager endpoint never gets a real identity: without RECONCILER_AZURE_TOKEN, nothing is sent', async () => {
    resetCounts(world);
    const result = await cli(
      ['plan', '--config', world.configFile, '--state', join(world.dir, 'loopback.json')],
      {
        RECONCILER_AZURE_TOKEN: undefined,
        AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001',
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: the Resource Manager endpoint https:\/\/127\.0\.0\.1:\d+ is on this machine \(an emulator\): set RECONCILER_AZURE_TOKEN/m,
    );
    expect(Object.values(world.arm.counts()).reduce((a, b) => a + b, 0)).toBe(0);
  });

  test('an unresolved Key Vault reference names the secret and the fix, in words and in JSON', async () => {
    const reference =
      '@Microsoft.KeyVault(SecretUri=https://kv-contoso.vault.azure.net/secrets/cloudflare-api-token/)';
    const result = await cli(['plan', '--config', world.configFile, '--json'], {
      CLOUDFLARE_API_TOKEN: reference,
    });
    expect(result.code).toBe(1);
    const doc = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('settings');
    expect(doc.error.message).toContain(
      'CLOUDFLARE_API_TOKEN is a Key Vault reference the Functions host did not resolve (secret cloudflare-api-token in vault kv-contoso)',
    );
    expect(doc.error.message).toContain('Key Vault Secrets User');
    expect(doc.error.message).toContain(
      'az keyvault secret show --vault-name kv-contoso --name cloudflare-api-token',
    );
    expect(result.stderr).toMatch(/^error: CLOUDFLARE_API_TOKEN is a Key Vault reference/m);
  });
});

describe('errors, version and progress', () => {
  test('errors are one JSON object on stdout under --json: configuration and usage', async () => {
    const missing = await cli(['validate', '--config', 'nope.json', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toEqual({
      error: {
        code: 'config',
        message: expect.stringMatching(/^invalid configuration \(.*nope\.json\)$/),
        problems: [expect.stringContaining('file not found')],
      },
      exitCode: 1,
    });
    const usage = await cli(['plan', '--json']);
    expect(usage.code).toBe(1);
    expect(JSON.parse(usage.stdout)).toEqual({
      error: { code: 'usage', message: "required option '--config <file>' not specified" },
      exitCode: 1,
    });
    const unknown = await cli(['frobnicate', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: {
        code: 'usage',
        message: expect.stringMatching(/^unknown command 'frobnicate'; the commands are plan, apply, /),
      },
      exitCode: 1,
    });
    const valid = await cli(['validate', '--config', world.configFile, '--json']);
    expect(JSON.parse(valid.stdout)).toMatchObject({ valid: true, sources: 1, targets: 3, exitCode: 0 });
  }, 90_000);

  test('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(await cli(['--version'])).toMatchObject({ code: 0, stdout: `apim-ip-reconciler ${version}\n` });
    expect(JSON.parse((await cli(['--version', '--json'])).stdout)).toMatchObject({ version });
  });

  test('long waits show progress on stderr: a write Azure finishes in the background', async () => {
    reactivate(world, '20.6.6.6');
    const result = await cli([
      'apply',
      '--config',
      world.configFile,
      '--state',
      join(world.dir, 'progress.json'),
    ]);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(
      /^… waiting for Azure to finish writing networkSecurityGroups\/backend-nsg\/securityRules\/allow-apim/m,
    );
    expect(result.stdout).not.toContain('…  waiting');
  }, 60_000);
});

describe('temporary folders', () => {
  test('the demo (here with --json) leaves nothing behind in the temporary folder', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-demo-tmp-'));
    try {
      // A process of its own, as `npm run demo` starts it: it makes its certificate and world, and removes both.
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !/^(NODE_EXTRA_CA_CERTS|SANDBOX_TLS_)/.test(k)),
      );
      const result = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
        execFile(
          process.execPath,
          [CLI, 'demo', '--json'],
          {
            env: { ...env, TMPDIR: scratch },
            encoding: 'utf8',
            timeout: 120_000,
            maxBuffer: 64 * 1024 * 1024,
          },
          (error, stdout) =>
            resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout }),
        ),
      );
      expect(result.code).toBe(0);
      const doc = JSON.parse(result.stdout) as {
        steps: Array<{ commands: Array<{ exitCode: number; expected: number; report: { runId: string } }> }>;
        exitCode: number;
      };
      expect(doc.exitCode).toBe(0);
      expect(doc.steps).toHaveLength(6);
      expect(doc.steps[0]!.commands[0]).toMatchObject({
        exitCode: 2,
        expected: 2,
        report: { runId: expect.any(String) },
      });
      expect(readdirSync(scratch)).toEqual([]);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 150_000);

  test('a story world removes its folder when it closes', async () => {
    const another = await storyWorld();
    expect(existsSync(another.dir)).toBe(true);
    await another.close();
    expect(existsSync(another.dir)).toBe(false);
  });
});
