import { randomUUID } from 'node:crypto';
import { parseDuration } from '../config/duration';
import type { Config } from '../config/schema';
import type { FleetResolver, SourceReader } from '../source/observation';
import type { State, StateStore, Versioned } from '../state/store';
import { recordRun } from '../telemetry/record';
import type { Mode, Recorder, Trigger } from '../telemetry/events';
import type { DriverTable } from '../targets/registry';
import { announce } from './announce';
import { applyInPhases } from './apply';
import type { Clock } from './clock';
import { heldOrInvalid, observe, sourceReports } from './observe';
import { inApplyOrder } from './order';
import { persist } from './persist';
import { candidateOf, prepare, type PrepareContext } from './prepare';
import { countRun, failedRunReport, outcomeOf, type RunReport } from './report';
import { hasWrite, skip } from './work';

/**
 * One run (docs/design/architecture.md): observe → prepare → announce → apply (settling each outcome) → persist →
 * record. Knows interfaces only: no SDK, no environment, no wall clock.
 */

export interface EngineDependencies {
  config: Config;
  sources: SourceReader;
  /** Finds the services of fleet sources (Azure Resource Graph); needed only when the config has a fleet. */
  fleet?: FleetResolver;
  drivers: DriverTable;
  store: StateStore;
  recorder: Recorder;
  clock: Clock;
  mode: Mode;
  newRunId?: () => string;
  /** A timer: lets DNS stop waiting for slow allowlist writes (safety.dnsWaitForAllowlists). */
  wait?: (ms: number) => Promise<void>;
}

export interface ReconcileOptions {
  trigger: Trigger;
  /** Plan only: nothing is written to targets or state. */
  dryRun?: boolean;
  /** Lift the TooManyRemovals guard (never the others). */
  force?: boolean;
  /** The run's ID when the trigger already named it (the Functions runtime's lock holder); else a new one. */
  runId?: string;
}

export async function reconcile(deps: EngineDependencies, options: ReconcileOptions): Promise<RunReport> {
  const runId = options.runId ?? (deps.newRunId ?? randomUUID)();
  const startedAt = deps.clock.now();
  const dryRun = options.dryRun === true;
  const force = options.force === true;
  const writes = !dryRun && deps.mode === 'enforce';

  let state: Versioned<State>;
  try {
    state = await deps.store.load();
  } catch (error) {
    const report = failedRunReport({
      runId,
      trigger: options.trigger,
      mode: deps.mode,
      dryRun,
      force,
      startedAt,
      finishedAt: deps.clock.now(),
      error: `cannot read the state at ${deps.store.location}: ${(error as Error).message}`,
    });
    recordRun(deps.recorder, report);
    return report;
  }

  const world = await observe(deps.config, deps.sources, deps.fleet);
  const run: PrepareContext = {
    config: deps.config,
    clock: deps.clock,
    force,
    sources: world.sources,
    state: () => state.value,
    wait: deps.wait,
    dnsWaitMs: parseDuration(deps.config.safety.dnsWaitForAllowlists) ?? 30_000,
  };
  const candidates = world.expansion.targets.map((t) => candidateOf(t, deps.drivers));
  const prepared = await prepare(candidates, run);

  if (writes) {
    const writing = prepared.planned.filter(hasWrite);
    const announced = await announce(deps.store, state, writing);
    if ('error' in announced) {
      for (const item of writing) skip(item, announced.error);
    } else {
      state = announced;
      await applyInPhases(writing, run);
    }
  }

  const finishedAt = deps.clock.now();
  const sources = sourceReports(world);
  const phases = new Map(prepared.planned.map((p) => [p.report, p.plan.phase]));
  const targets = [
    ...inApplyOrder(
      candidates.map((c) => c.report),
      (r) => phases.get(r),
    ),
    ...heldOrInvalid(world.expansion, deps.drivers),
  ];
  const counts = countRun(sources, targets);
  const report: RunReport = {
    runId,
    trigger: options.trigger,
    mode: deps.mode,
    dryRun,
    force,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    outcome: outcomeOf(counts, targets),
    sources,
    targets,
    counts,
  };
  if (!dryRun) {
    const saveError = await persist(
      deps.store,
      state,
      { ready: prepared.ready, planned: prepared.planned, sources: world.sources, writes },
      report,
    );
    if (saveError) {
      report.error = saveError;
      report.outcome = 'failed';
    }
  }
  recordRun(deps.recorder, report);
  return report;
}
