import type { Config } from '../config/schema';
import { readSettings } from '../config/settings';
import type { Clock } from '../engine/clock';
import type { RunLock, StateStore } from '../state/store';
import type { Recorder } from '../telemetry/events';
import { MemoryRecorder } from '../telemetry/memory';
import { openCliState, parseStateLocation, type StateLocation } from './cliState';
import type { ProgressReporter } from './progress';
import { createReconciler, type Reconciler, type Tuning } from './reconciler';
import { recorderFromEnvironment } from './telemetry';

/**
 * The CLI's composition: state and run lock in a file, or in the Functions app's own state blob and lease
 * (lib/wiring/cliState.ts), and the same events as the Functions app when APPLICATIONINSIGHTS_CONNECTION_STRING is
 * set (else in memory only).
 */
export interface CliReconcilerOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** `--state`: a state file's path (absolute, or relative to `cwd`), or the app's state blob URL. */
  statePath: string;
  cwd?: string;
  /** Told about long waits (stderr in the CLI; none under --json). */
  progress?: ProgressReporter;
  /** Events go here instead of Application Insights (tests, the demo). */
  recorder?: Recorder;
  clock?: Clock;
  tuning?: Tuning;
}

export interface CliReconciler {
  reconciler: Reconciler;
  recorder: Recorder;
  store: StateStore;
  /** The lock every run takes, the same as the app's when the state is its blob. */
  lock: RunLock;
  state: StateLocation;
  /** Flushes and stops telemetry: call once, before the process exits. */
  close(): Promise<void>;
}

export async function createCliReconciler(options: CliReconcilerOptions): Promise<CliReconciler> {
  const settings = readSettings(options.env);
  const telemetry = options.recorder ? undefined : recorderFromEnvironment(options.env);
  const recorder = options.recorder ?? telemetry ?? new MemoryRecorder();
  try {
    const { store, lock, location } = openCliState(
      parseStateLocation(options.statePath, options.cwd ?? process.cwd()),
      settings,
    );
    const reconciler = createReconciler({
      config: options.config,
      settings,
      store,
      recorder,
      clock: options.clock,
      tuning: options.tuning,
      progress: options.progress,
    });
    return { reconciler, recorder, store, lock, state: location, close: async () => telemetry?.shutdown() };
  } catch (error) {
    await telemetry?.shutdown();
    throw error;
  }
}
