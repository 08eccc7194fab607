import type { Config } from '../config/schema';
import { readSettings } from '../config/settings';
import type { Clock } from '../engine/clock';
import { FileStateStore } from '../state/fileStore';
import type { Recorder } from '../telemetry/events';
import { MemoryRecorder } from '../telemetry/memory';
import { createReconciler, type Reconciler, type Tuning } from './reconciler';
import { recorderFromEnvironment } from './telemetry';

/**
 * The CLI's composition: state in a file, and the same events as the Functions app when
 * APPLICATIONINSIGHTS_CONNECTION_STRING is set (else in memory only).
 */
export interface CliReconcilerOptions {
  config: Config;
  env: NodeJS.ProcessEnv;
  /** The state file. */
  statePath: string;
  /** Events go here instead of Application Insights (tests, the demo). */
  recorder?: Recorder;
  clock?: Clock;
  tuning?: Tuning;
}

export interface CliReconciler {
  reconciler: Reconciler;
  recorder: Recorder;
  /** Flushes and stops telemetry: call once, before the process exits. */
  close(): Promise<void>;
}

export async function createCliReconciler(options: CliReconcilerOptions): Promise<CliReconciler> {
  const settings = readSettings(options.env);
  const telemetry = options.recorder ? undefined : recorderFromEnvironment(options.env);
  const recorder = options.recorder ?? telemetry ?? new MemoryRecorder();
  try {
    const reconciler = createReconciler({
      config: options.config,
      settings,
      store: new FileStateStore(options.statePath),
      recorder,
      clock: options.clock,
      tuning: options.tuning,
    });
    return { reconciler, recorder, close: async () => telemetry?.shutdown() };
  } catch (error) {
    await telemetry?.shutdown();
    throw error;
  }
}
