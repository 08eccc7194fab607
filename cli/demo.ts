import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { ManualClock } from '../lib/engine/clock';
import { reconcileCommand, type CliIo } from './commands';

/**
 * `apim-ip-reconciler demo`: the outage story (sandbox/story.ts) told through the CLI's own plan and apply
 * commands, against the local emulators, with the reconciler's clock moved where the story needs it.
 * The sandbox is a development facility: it is loaded only here, and only from a clone with dev dependencies.
 */

type Story = typeof import('../sandbox/story');
type Tls = typeof import('../sandbox/tls');

function loadSandbox(): { story: Story; tls: Tls } | undefined {
  try {
    /* eslint-disable @typescript-eslint/no-require-imports -- loaded lazily: the sandbox needs dev dependencies */
    return { story: require('../sandbox/story') as Story, tls: require('../sandbox/tls') as Tls };
    /* eslint-enable @typescript-eslint/no-require-imports */
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/** NODE_EXTRA_CA_CERTS is read at process start: run the demo again in a process that trusts a fresh certificate. */
async function inTrustingProcess(tls: Tls, io: CliIo, json: boolean): Promise<number> {
  const certificate = await tls.createRunCertificate();
  try {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, process.argv[1] as string, 'demo', ...(json ? ['--json'] : [])],
      { stdio: 'inherit', env: { ...io.env, ...tls.trustEnv(certificate) } },
    );
    return child.status ?? 1;
  } finally {
    tls.removeRunCertificate(certificate);
  }
}

interface DemoStepRecord {
  title: string;
  commands: Array<{ command: 'plan' | 'apply'; exitCode: number; expected: number; report?: unknown }>;
  writes: number;
}

export async function runDemo(io: CliIo, options: { json?: boolean } = {}): Promise<number> {
  const json = options.json === true;
  const sandbox = loadSandbox();
  if (!sandbox) {
    const message =
      'the demo needs the sandbox and its dev dependencies: run it from a clone with `npm ci && npm run demo`';
    io.err(`error: ${message}`);
    if (json) io.out(JSON.stringify({ error: { code: 'error', message }, exitCode: 1 }, null, 2));
    return 1;
  }
  const { story, tls } = sandbox;
  const certificate = tls.inheritedRunCertificate(io.env);
  if (!certificate) return inTrustingProcess(tls, io, json);

  const world = await story.startWorld(certificate);
  const clock = new ManualClock(new Date());
  const env = { ...io.env, ...world.env };
  const problems: string[] = [];
  const steps: DemoStepRecord[] = [];
  // Under --json the narrative is left out and each command's report is kept for the one document at the end.
  const say = json ? () => undefined : (text: string) => io.out(text);
  try {
    say(`Emulators: Azure Resource Manager at ${world.arm.url}, Cloudflare at ${world.cloudflare.baseUrl}`);
    say(
      `Config: ${basename(world.configFile)}, state: ${basename(world.stateFile)} (in a temporary folder, removed at the end)\n`,
    );
    for (const [index, step] of story.STORY.entries()) {
      step.before?.(world);
      if (step.advanceMs) clock.advance(step.advanceMs);
      story.resetCounts(world);
      const record: DemoStepRecord = { title: step.title, commands: [], writes: 0 };
      steps.push(record);
      say(`━━ ${index + 1}. ${step.title} ━━`);
      say(`${step.narrative}\n`);
      for (const { command, exitCode: expected } of step.commands) {
        say(`$ apim-ip-reconciler ${command} --config ${basename(world.configFile)}`);
        const { exitCode, report } = await reconcileCommand(
          command,
          { config: world.configFile, state: world.stateFile, json },
          {
            ...io,
            out: json ? () => undefined : io.out,
            env,
            clock,
            tuning: { pollIntervalMs: 10, azureRetry: { retryDelayInMs: 10 } },
          },
        );
        record.commands.push({ command, exitCode, expected, ...(json ? { report } : {}) });
        say(`(exit ${exitCode})\n`);
        if (exitCode !== expected)
          problems.push(`step ${index + 1}: ${command} exited ${exitCode}, expected ${expected}`);
      }
      record.writes = story.writes(world);
      say(`Emulator writes during this step: ${record.writes} ${JSON.stringify(writeCounts(world))}\n`);
      if (step.noWrites && record.writes !== 0)
        problems.push(`step ${index + 1}: expected no writes, saw ${record.writes}`);
    }
  } finally {
    await world.close();
  }
  const exitCode = problems.length > 0 ? 1 : 0;
  if (json) io.out(JSON.stringify({ steps, problems, exitCode }, null, 2));
  if (problems.length > 0) {
    io.err(`The demo did not go as the story says:\n  ${problems.join('\n  ')}`);
    return exitCode;
  }
  say(
    'The story went as told: DNS followed APIM at once, the allowlists made before they broke, and a quiet run writes nothing.',
  );
  return exitCode;
}

function writeCounts(world: {
  arm: { counts(): Record<string, number> };
  cloudflare: { counts(): Record<string, number> };
}) {
  const all = { ...world.arm.counts(), ...world.cloudflare.counts() };
  return Object.fromEntries(Object.entries(all).filter(([key]) => !key.startsWith('GET ')));
}
