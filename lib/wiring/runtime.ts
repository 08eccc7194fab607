import { randomUUID } from 'node:crypto';
import { loadConfigFromEnvironment } from '../config/load';
import { readSettings, SETTINGS } from '../config/settings';
import type { Clock } from '../engine/clock';
import { failedRunReport, type RunReport } from '../engine/report';
import {
  BlobRunLock,
  BlobStateStore,
  blobServiceFromEnvironment,
  stateContainerFromEnvironment,
} from '../state/blobStore';
import type {
  LastRun,
  LockHolder,
  RunLock,
  RunSummary,
  SourceState,
  StateStore,
  TargetSummary,
} from '../state/store';
import type { Recorder, Trigger } from '../telemetry/events';
import { MemoryRecorder } from '../telemetry/memory';
import { recordRun } from '../telemetry/record';
import { storageCredential } from './identity';
import { createReconciler, systemClock, type Reconciler, type Tuning } from './reconciler';
import { recorderFromEnvironment } from './telemetry';

/**
 * The Functions app's composition: configuration read once at start-up, state and run lock in Blob Storage,
 * events to Application Insights. Each invocation takes the lock, runs the engine, releases, flushes.
 * A configuration or settings error found at start-up is kept, and every invocation fails fast with it.
 */

export interface RunRequest {
  trigger: Trigger;
  dryRun: boolean;
  force: boolean;
}

export type RunResponse =
  | { kind: 'done'; report: RunReport }
  | { kind: 'locked'; heldBy: LockHolder | undefined }
  | { kind: 'failed'; error: string };

export interface StatusDocument {
  lastRun: LastRun | null;
  sources: Record<string, SourceState>;
  /** Each target as the last run found it (docs/operations.md#the-status-page). */
  targets: Record<string, TargetSummary>;
  /** The last runs, newest first. */
  runs: RunSummary[];
  /** The run holding the lock now, if one does. */
  running: LockHolder | null;
  mode: 'enforce' | 'observe';
  /** When this document was made. */
  generatedAt: string;
  error?: string;
}

export interface FunctionsRuntime {
  reconcile(request: RunRequest): Promise<RunResponse>;
  status(): Promise<StatusDocument>;
}

/** Where state, lock and events go; undefined store/lock when storage itself could not be set up. */
export interface RuntimeParts {
  store?: StateStore;
  lock?: RunLock;
  recorder: Recorder;
  clock?: Clock;
  tuning?: Tuning;
}

export interface RuntimeOverrides {
  clock?: Clock;
  tuning?: Tuning;
}

type Startup =
  { ok: true; reconciler: Reconciler; store: StateStore; lock: RunLock } | { ok: false; error: string };

function start(env: NodeJS.ProcessEnv, baseDir: string, parts: RuntimeParts, storageError?: string): Startup {
  try {
    const config = loadConfigFromEnvironment(env, baseDir);
    const settings = readSettings(env);
    if (!parts.store || !parts.lock) return { ok: false, error: storageError ?? 'no state store' };
    const reconciler = createReconciler({
      config,
      settings,
      store: parts.store,
      recorder: parts.recorder,
      clock: parts.clock,
      tuning: parts.tuning,
    });
    return { ok: true, reconciler, store: parts.store, lock: parts.lock };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

export function createRuntime(
  env: NodeJS.ProcessEnv,
  baseDir: string,
  parts: RuntimeParts,
  storageError?: string,
): FunctionsRuntime {
  const startup = start(env, baseDir, parts, storageError);
  const clock = parts.clock ?? systemClock;

  const failedRun = async (
    request: RunRequest,
    error: string,
    runId: string = randomUUID(),
    startedAt: Date = clock.now(),
  ): Promise<RunResponse> => {
    recordRun(
      parts.recorder,
      failedRunReport({
        runId,
        trigger: request.trigger,
        mode: env[SETTINGS.mode] === 'observe' ? 'observe' : 'enforce',
        dryRun: request.dryRun,
        force: request.force,
        startedAt,
        finishedAt: clock.now(),
        error,
      }),
    );
    await parts.recorder.flush();
    return { kind: 'failed', error };
  };

  return {
    async reconcile(request) {
      if (!startup.ok) return failedRun(request, startup.error);
      const holder: LockHolder = {
        runId: randomUUID(),
        trigger: request.trigger,
        startedAt: clock.now().toISOString(),
      };
      let lock;
      try {
        lock = await startup.lock.acquire(holder);
      } catch (error) {
        return failedRun(request, `cannot take the run lock: ${(error as Error).message}`);
      }
      if (!lock.acquired) return { kind: 'locked', heldBy: lock.heldBy };
      try {
        // The run carries the ID its lock holder shows, so a 409 names a run that its events can be found by.
        const report = await startup.reconciler.run({
          runId: holder.runId,
          trigger: request.trigger,
          dryRun: request.dryRun,
          force: request.force,
        });
        return { kind: 'done', report };
      } catch (error) {
        parts.recorder.exception(error as Error, { runId: holder.runId, trigger: request.trigger });
        return failedRun(request, (error as Error).message, holder.runId, new Date(holder.startedAt));
      } finally {
        await lock.release().catch(() => undefined);
        await parts.recorder.flush();
      }
    },
    async status() {
      const mode: StatusDocument['mode'] = env[SETTINGS.mode]?.trim() === 'observe' ? 'observe' : 'enforce';
      const empty = { lastRun: null, sources: {}, targets: {}, runs: [], running: null, mode };
      const generatedAt = clock.now().toISOString();
      if (!startup.ok && !parts.store) return { ...empty, generatedAt, error: startup.error };
      const lock = startup.ok ? startup.lock : parts.lock;
      const [{ value }, held] = await Promise.all([
        (startup.ok ? startup.store : parts.store!).load(),
        // A run in progress shows as running; a lock that cannot be read does not hide the last state.
        lock?.peek?.().catch(() => undefined),
      ]);
      return {
        lastRun: value.lastRun ?? null,
        sources: value.sources,
        targets: value.targetStatus ?? {},
        runs: value.runs ?? [],
        running: held?.leased
          ? (held.holder ?? { runId: '(unknown)', trigger: 'timer', startedAt: '' })
          : null,
        mode,
        generatedAt,
        ...(startup.ok ? {} : { error: startup.error }),
      };
    },
  };
}

/** Builds the runtime from the app settings: Blob Storage from AzureWebJobsStorage, events from App Insights. */
export function buildFunctionsRuntime(
  env: NodeJS.ProcessEnv,
  overrides: RuntimeOverrides = {},
): FunctionsRuntime {
  const baseDir = env.AzureWebJobsScriptRoot ?? process.cwd();
  let recorder: Recorder = new MemoryRecorder();
  try {
    recorder = recorderFromEnvironment(env) ?? recorder;
  } catch (error) {
    return createRuntime(env, baseDir, { recorder }, (error as Error).message);
  }
  try {
    const service = blobServiceFromEnvironment(env, storageCredential(env));
    const container = stateContainerFromEnvironment(env);
    const store = new BlobStateStore(service, { container });
    const lock = new BlobRunLock(service, { container });
    return createRuntime(env, baseDir, { store, lock, recorder, ...overrides });
  } catch (error) {
    return createRuntime(env, baseDir, { recorder, ...overrides }, (error as Error).message);
  }
}

let runtime: FunctionsRuntime | undefined;

/** The process-wide runtime of the Functions app, built on first use from the app settings. */
export function functionsRuntime(): FunctionsRuntime {
  return (runtime ??= buildFunctionsRuntime(process.env));
}
