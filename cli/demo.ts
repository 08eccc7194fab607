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
async function inTrustingProcess(tls: Tls, io: CliIo): Promise<number> {
  const certificate = await tls.createRunCertificate();
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, 'demo'], {
    stdio: 'inherit',
    env: { ...io.env, ...tls.trustEnv(certificate) },
  });
  return child.status ?? 1;
}

export async function runDemo(io: CliIo): Promise<number> {
  const sandbox = loadSandbox();
  if (!sandbox) {
    io.err(
      'error: the demo needs the sandbox and its dev dependencies: run it from a clone with `npm ci && npm run demo`',
    );
    return 1;
  }
  const { story, tls } = sandbox;
  const certificate = tls.inheritedRunCertificate(io.env);
  if (!certificate) return inTrustingProcess(tls, io);

  const world = await story.startWorld(certificate);
  const clock = new ManualClock(new Date());
  const env = { ...io.env, ...world.env };
  const problems: string[] = [];
  try {
    io.out(
      `Emulators: Azure Resource Manager at ${world.arm.url}, Cloudflare at ${world.cloudflare.baseUrl}`,
    );
    io.out(`Config: ${world.configFile}, state: ${world.stateFile}\n`);
    for (const [index, step] of story.STORY.entries()) {
      step.before?.(world);
      if (step.advanceMs) clock.advance(step.advanceMs);
      story.resetCounts(world);
      io.out(`━━ ${index + 1}. ${step.title} ━━`);
      io.out(`${step.narrative}\n`);
      for (const { command, exitCode: expected } of step.commands) {
        io.out(`$ apim-ip-reconciler ${command} --config ${basename(world.configFile)}`);
        const { exitCode } = await reconcileCommand(
          command,
          { config: world.configFile, state: world.stateFile },
          { ...io, env, clock, tuning: { pollIntervalMs: 10, azureRetry: { retryDelayInMs: 10 } } },
        );
        io.out(`(exit ${exitCode})\n`);
        if (exitCode !== expected)
          problems.push(`step ${index + 1}: ${command} exited ${exitCode}, expected ${expected}`);
      }
      const writes = story.writes(world);
      io.out(`Emulator writes during this step: ${writes} ${JSON.stringify(writeCounts(world))}\n`);
      if (step.noWrites && writes !== 0)
        problems.push(`step ${index + 1}: expected no writes, saw ${writes}`);
    }
  } finally {
    await world.close();
  }
  if (problems.length > 0) {
    io.err(`The demo did not go as the story says:\n  ${problems.join('\n  ')}`);
    return 1;
  }
  io.out(
    'The story went as told: DNS followed APIM at once, the allowlists made before they broke, and a quiet run writes nothing.',
  );
  return 0;
}

function writeCounts(world: {
  arm: { counts(): Record<string, number> };
  cloudflare: { counts(): Record<string, number> };
}) {
  const all = { ...world.arm.counts(), ...world.cloudflare.counts() };
  return Object.fromEntries(Object.entries(all).filter(([key]) => !key.startsWith('GET ')));
}
