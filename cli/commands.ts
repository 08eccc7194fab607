import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { ConfigError, loadConfigFile } from '../lib/config/load';
import { configJsonSchema } from '../lib/config/schema';
import { SettingsError } from '../lib/config/settings';
import type { Clock } from '../lib/engine/clock';
import type { RunReport } from '../lib/engine/report';
import type { LockHolder } from '../lib/state/store';
import type { Recorder } from '../lib/telemetry/events';
import { createCliReconciler, type CliReconciler } from '../lib/wiring/cli';
import { AzureSignInError, SIGN_IN_FIX } from '../lib/wiring/identity';
import type { ProgressReporter } from '../lib/wiring/progress';
import { systemClock, type Tuning } from '../lib/wiring/reconciler';
import { stderrProgress } from './progress';
import { defaultExitCode, errorLines, renderReport } from './render';

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
  /** Where progress goes (default: lines on `err`); never used under --json. */
  progress?: ProgressReporter;
}

export interface RunCommandOptions {
  config: string;
  json?: boolean;
  /** A state file, or the Functions app's state blob URL (docs/cli.md#state). */
  state?: string;
  force?: boolean;
}

export const DEFAULT_STATE_FILE = '.apim-ip-reconciler/state.json';

/** The first that applies of 1 (error), 3 (blocked), 2 (changes pending, plan only), 0. */
export function exitCodeFor(report: RunReport, command: 'plan' | 'apply'): number {
  return defaultExitCode(report, command);
}

/** Another run holds the lock: who, since when, and where. */
export class LockHeldError extends Error {
  constructor(
    readonly heldBy: LockHolder | undefined,
    readonly location: string,
    now: Date,
  ) {
    const since = heldBy ? Date.parse(heldBy.startedAt) : Number.NaN;
    const ago = Number.isNaN(since)
      ? ''
      : ` (${Math.max(0, Math.round((now.getTime() - since) / 1000))} s ago)`;
    super(
      heldBy
        ? `run ${heldBy.runId} (${heldBy.trigger}) has held the lock on ${location} since ${heldBy.startedAt}${ago}; nothing was done: try again when it ends (a run's lock lasts at most a few minutes; one left by a crashed run expires within 60 s)`
        : `another run holds the lock on ${location}; nothing was done: try again when it ends`,
    );
    this.name = 'LockHeldError';
  }
}

/** What `--json` prints when a command could not run: one object on stdout. */
export interface JsonError {
  error: {
    code: 'config' | 'settings' | 'locked' | 'sign-in' | 'usage' | 'error';
    message: string;
    problems?: string[];
    heldBy?: LockHolder | null;
    fix?: string;
  };
  exitCode: number;
}

export function jsonError(error: unknown): JsonError {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof ConfigError)
    return {
      error: { code: 'config', message: `invalid configuration (${error.origin})`, problems: error.problems },
      exitCode: EXIT.error,
    };
  if (error instanceof SettingsError) return { error: { code: 'settings', message }, exitCode: EXIT.error };
  if (error instanceof LockHeldError)
    return { error: { code: 'locked', message, heldBy: error.heldBy ?? null }, exitCode: EXIT.error };
  if (error instanceof AzureSignInError)
    return { error: { code: 'sign-in', message, fix: SIGN_IN_FIX }, exitCode: EXIT.error };
  return { error: { code: 'error', message }, exitCode: EXIT.error };
}

/** Says why a command could not run: on stderr, and under --json also as one JSON object on stdout. */
export function explain(error: unknown, io: CliIo, json = false): number {
  if (error instanceof ConfigError) io.err(error.message);
  else if (error instanceof AzureSignInError) io.err(`error: ${error.message} — ${SIGN_IN_FIX}`);
  else io.err(`error: ${(error as Error)?.message ?? String(error)}`);
  if (json) io.out(JSON.stringify(jsonError(error), null, 2));
  return EXIT.error;
}

export async function reconcileCommand(
  command: 'plan' | 'apply',
  options: RunCommandOptions,
  io: CliIo,
): Promise<{ exitCode: number; report?: RunReport }> {
  const json = options.json === true;
  const clock = io.clock ?? systemClock;
  let cli: CliReconciler | undefined;
  try {
    cli = await createCliReconciler({
      config: loadConfigFile(resolve(io.cwd, options.config)),
      env: io.env,
      statePath: options.state ?? DEFAULT_STATE_FILE,
      cwd: io.cwd,
      recorder: io.recorder,
      clock: io.clock,
      tuning: io.tuning,
      progress: json ? undefined : (io.progress ?? stderrProgress((line) => io.err(line))),
    });
    const { reconciler, recorder, lock } = cli;
    // The same lock as the app's when the state is its blob: one run at a time, whoever starts it.
    const holder: LockHolder = { runId: randomUUID(), trigger: 'cli', startedAt: clock.now().toISOString() };
    const location = lock.location ?? cli.store.location;
    let taken;
    try {
      taken = await lock.acquire(holder);
    } catch (error) {
      throw lockFailure(error, location);
    }
    if (!taken.acquired) throw new LockHeldError(taken.heldBy, location, clock.now());
    let report: RunReport;
    try {
      report = await reconciler.run({
        runId: holder.runId,
        trigger: 'cli',
        dryRun: command === 'plan',
        force: options.force,
      });
    } finally {
      await taken.release().catch(() => undefined);
    }
    await recorder.flush();
    const exitCode = exitCodeFor(report, command);
    io.out(json ? JSON.stringify({ ...report, exitCode }, null, 2) : renderReport(report, command, exitCode));
    for (const line of errorLines(report)) io.err(line);
    return { exitCode, report };
  } catch (error) {
    return { exitCode: explain(error, io, json) };
  } finally {
    await cli?.close();
  }
}

/** A lock that could not even be asked for: mostly a storage permission, said with its fix. */
function lockFailure(error: unknown, location: string): Error {
  if (error instanceof AzureSignInError) return error;
  const status = (error as { statusCode?: unknown })?.statusCode;
  const first = String((error as Error)?.message ?? error).split('\n')[0];
  const fix =
    status === 403
      ? ': your identity needs the Storage Blob Data Contributor role on the storage account (or its container)'
      : status === 404
        ? ': check the storage account name in --state'
        : '';
  return new Error(
    `cannot take the run lock at ${location}: ${status ? `HTTP ${String(status)} ` : ''}${first}${fix}`,
  );
}

export function validateCommand(options: { config: string; json?: boolean }, io: CliIo): number {
  try {
    const config = loadConfigFile(resolve(io.cwd, options.config));
    const sources = Object.keys(config.sources).length;
    if (options.json) {
      io.out(
        JSON.stringify(
          { valid: true, config: options.config, sources, targets: config.targets.length, exitCode: EXIT.ok },
          null,
          2,
        ),
      );
      return EXIT.ok;
    }
    io.out(
      `${options.config} is valid: ${sources} source${sources === 1 ? '' : 's'}, ${config.targets.length} target${config.targets.length === 1 ? '' : 's'}.`,
    );
    return EXIT.ok;
  } catch (error) {
    return explain(error, io, options.json);
  }
}

export function schemaCommand(io: CliIo): number {
  io.out(JSON.stringify(configJsonSchema(), null, 2));
  return EXIT.ok;
}
