import { resolve } from 'node:path';
import { ConfigError, loadConfigFile } from '../lib/config/load';
import { configJsonSchema } from '../lib/config/schema';
import { SettingsError } from '../lib/config/settings';
import type { Clock } from '../lib/engine/clock';
import type { RunReport } from '../lib/engine/report';
import type { Recorder } from '../lib/telemetry/events';
import { createCliReconciler, type CliReconciler } from '../lib/wiring/cli';
import type { Tuning } from '../lib/wiring/reconciler';
import { errorLines, renderReport } from './render';

/** The CLI's commands as functions (docs/design/product.md §8), so the demo and tests call exactly what the CLI runs. */

export const EXIT = { ok: 0, error: 1, changesPending: 2, blocked: 3 } as const;

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock?: Clock;
  tuning?: Tuning;
  recorder?: Recorder;
}

export interface RunCommandOptions {
  config: string;
  json?: boolean;
  state?: string;
  force?: boolean;
}

export const DEFAULT_STATE_FILE = '.apim-ip-reconciler/state.json';

/** The first that applies of 1 (error), 3 (blocked), 2 (changes pending, plan only), 0. */
export function exitCodeFor(report: RunReport, command: 'plan' | 'apply'): number {
  if (report.error || report.counts.errors > 0) return EXIT.error;
  if (report.counts.guards > 0) return EXIT.blocked;
  if (command === 'plan' && report.counts.changesPlanned > 0) return EXIT.changesPending;
  return EXIT.ok;
}

function explain(error: unknown, io: CliIo): number {
  if (error instanceof ConfigError) io.err(error.message);
  else if (error instanceof SettingsError) io.err(`error: ${error.message}`);
  else io.err(`error: ${(error as Error).message ?? String(error)}`);
  return EXIT.error;
}

export async function reconcileCommand(
  command: 'plan' | 'apply',
  options: RunCommandOptions,
  io: CliIo,
): Promise<{ exitCode: number; report?: RunReport }> {
  let cli: CliReconciler | undefined;
  try {
    cli = await createCliReconciler({
      config: loadConfigFile(resolve(io.cwd, options.config)),
      env: io.env,
      statePath: resolve(io.cwd, options.state ?? DEFAULT_STATE_FILE),
      recorder: io.recorder,
      clock: io.clock,
      tuning: io.tuning,
    });
    const { reconciler, recorder } = cli;
    const report = await reconciler.run({ trigger: 'cli', dryRun: command === 'plan', force: options.force });
    await recorder.flush();
    const exitCode = exitCodeFor(report, command);
    io.out(options.json ? JSON.stringify({ ...report, exitCode }, null, 2) : renderReport(report));
    for (const line of errorLines(report)) io.err(line);
    return { exitCode, report };
  } catch (error) {
    return { exitCode: explain(error, io) };
  } finally {
    await cli?.close();
  }
}

export function validateCommand(options: { config: string }, io: CliIo): number {
  try {
    const config = loadConfigFile(resolve(io.cwd, options.config));
    const sources = Object.keys(config.sources).length;
    io.out(
      `${options.config} is valid: ${sources} source${sources === 1 ? '' : 's'}, ${config.targets.length} target${config.targets.length === 1 ? '' : 's'}.`,
    );
    return EXIT.ok;
  } catch (error) {
    return explain(error, io);
  }
}

export function schemaCommand(io: CliIo): number {
  io.out(JSON.stringify(configJsonSchema(), null, 2));
  return EXIT.ok;
}
