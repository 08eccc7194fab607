import { inheritedRunCertificate } from '../../sandbox/tls';
import type { ArmEmulatorOptions } from '../../sandbox/arm';
import { startWorld, type World } from '../../sandbox/story';
import { reconcileCommand, type RunCommandOptions } from '../../cli/commands';
import { ManualClock } from '../../lib/engine/clock';
import type { RunReport } from '../../lib/engine/report';

/** The outage story's world for tests: emulators seeded as before the outage, and the CLI's commands in-process. */

export function runCertificate() {
  const certificate = inheritedRunCertificate();
  if (!certificate)
    throw new Error(
      'run the tests through `npm test` (scripts/with-sandbox-ca.js) so the sandbox TLS certificate is trusted',
    );
  return certificate;
}

export async function storyWorld(armOptions: Partial<ArmEmulatorOptions> = {}): Promise<World> {
  return startWorld(runCertificate(), armOptions);
}

export interface CommandResult {
  exitCode: number;
  report?: RunReport;
  output: string;
}

/** Fast polling and retries: the emulators answer Retry-After: 0 unless a test injects more. */
export const FAST = {
  pollIntervalMs: 5,
  azureRetry: { retryDelayInMs: 5, maxRetryDelayInMs: 50 },
  cloudflareMaxRetries: 2,
};

export async function runCli(
  command: 'plan' | 'apply',
  world: World,
  clock: ManualClock,
  options: Partial<RunCommandOptions> & { env?: Record<string, string | undefined> } = {},
): Promise<CommandResult> {
  const lines: string[] = [];
  const { env, ...rest } = options;
  const result = await reconcileCommand(
    command,
    { config: world.configFile, state: world.stateFile, ...rest },
    {
      out: (t) => lines.push(t),
      err: (t) => lines.push(t),
      env: { ...world.env, ...env },
      cwd: world.dir,
      clock,
      tuning: FAST,
    },
  );
  return { ...result, output: lines.join('\n') };
}
