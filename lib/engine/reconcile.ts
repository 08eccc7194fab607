import { randomUUID } from 'node:crypto';
import { parseDuration } from '../config/duration';
import { selectorOf, type Config, type TargetConfig, type TargetType } from '../config/schema';
import { describeFailure, hintFor, remoteFailure } from '../remote';
import {
  normalizeRegion,
  select,
  summarize,
  type FleetResolver,
  type Observation,
  type SourceReader,
} from '../source/observation';
import type { State, StateStore, TargetState } from '../state/store';
import { recordRun } from '../telemetry/record';
import type { Mode, Recorder, Trigger } from '../telemetry/events';
import {
  TargetError,
  type ApplyOutcome,
  type Block,
  type PlanContext,
  type TargetDriver,
  type TargetPlan,
} from '../targets/target';
import type { Clock } from './clock';
import { expandFleets, type Expansion, type FleetFailure } from './fleet';
import { planBlock, sourceBlock } from './guards';
import { inPhases } from './order';
import { countRun, outcomeOf, type RunReport, type SourceReport, type TargetReport } from './report';

/**
 * One run (ARCHITECTURE): observe sources → for each target read, plan, guard → apply in make-before-break
 * order → save state → record events → RunReport. Knows interfaces only.
 */

export type DriverRegistry = Record<TargetType, TargetDriver>;

export interface EngineDependencies {
  config: Config;
  sources: SourceReader;
  /** Finds the services of fleet sources (Azure Resource Graph); needed only when the config has a fleet. */
  fleet?: FleetResolver;
  drivers: DriverRegistry;
  store: StateStore;
  recorder: Recorder;
  clock: Clock;
  mode: Mode;
  newRunId?: () => string;
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

interface Observed {
  report: SourceReport;
  observation?: Observation;
}

/** A target's progress through the run. */
interface Work {
  target: TargetConfig;
  driver: TargetDriver;
  report: TargetReport;
  actual?: unknown;
  plan?: TargetPlan;
  context?: PlanContext;
  retried?: boolean;
}

export async function reconcile(deps: EngineDependencies, options: ReconcileOptions): Promise<RunReport> {
  const runId = options.runId ?? (deps.newRunId ?? randomUUID)();
  const started = deps.clock.now();
  const dryRun = options.dryRun === true;
  const writes = !dryRun && deps.mode === 'enforce';
  const finish = (sources: SourceReport[], targets: TargetReport[], error?: string): RunReport => {
    const finished = deps.clock.now();
    const counts = countRun(sources, targets);
    return {
      runId,
      trigger: options.trigger,
      mode: deps.mode,
      dryRun,
      force: options.force === true,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      outcome: outcomeOf(counts, targets, error),
      sources,
      targets,
      counts,
      error,
    };
  };

  let loaded: { value: State; version: string | undefined };
  try {
    loaded = await deps.store.load();
  } catch (error) {
    const report = finish(
      [],
      [],
      `cannot read the state at ${deps.store.location}: ${(error as Error).message}`,
    );
    recordRun(deps.recorder, report);
    return report;
  }

  const expansion = await expandFleets(deps.config, deps.fleet);
  const observed = await observeSources(deps, expansion);
  const works = expansion.targets.map((target) => newWork(target, deps.drivers));
  const context = (work: Work, observation: Observation): PlanContext => ({
    desired: select(observation, selectorOf(work.target), work.target.regions),
    observation,
    // Read at plan time: a re-plan after a lost race sees what announce() saved.
    state: loaded.value.targets[work.target.name],
    now: deps.clock.now(),
    safety: deps.config.safety,
    retireAfterMs: parseDuration(deps.config.safety.retireAfter) ?? 3_600_000,
  });
  /** Source checks and the desired addresses; false when the target is held before anything is read. */
  const ready = (work: Work): boolean => {
    const source = observed.get(work.target.source)!;
    if (!source.observation || source.report.block) {
      work.report.status = 'blocked';
      work.report.block = source.report.block;
      work.report.heldBySource = true;
      return false;
    }
    work.context = context(work, source.observation);
    if (work.context.desired.length === 0 && work.driver.needsAddresses?.(work.target) !== false) {
      work.report.status = 'blocked';
      work.report.block = emptySourceBlock(work.target, source.observation);
      return false;
    }
    return true;
  };
  const plan = (work: Work): void => {
    try {
      work.plan = work.driver.plan(work.target, work.actual, work.context!);
    } catch (error) {
      fail(work, error);
      return;
    }
    const block = planBlock(work.plan, deps.config.safety, options.force === true);
    work.report.deferred = work.plan.deferred;
    if (block) {
      work.report.block = block;
      // Additions are never the danger: when only the removals are held, the additions still go out.
      const additionsOnly =
        block.reason === 'TooManyRemovals'
          ? work.driver.plan(work.target, work.actual, { ...work.context!, holdRemovals: true })
          : undefined;
      if (!additionsOnly?.write || planBlock(additionsOnly, deps.config.safety, false)) {
        work.report.status = 'blocked';
        return;
      }
      work.plan = additionsOnly;
      work.report.deferred = additionsOnly.deferred;
    }
    work.report.changes = work.plan.changes.map((c) => ({ ...c, result: 'planned' }));
    work.report.status = work.plan.write ? 'planned' : 'in-sync';
  };
  /** One target again, after a lost race. */
  const prepare = async (work: Work): Promise<void> => {
    if (!ready(work)) return;
    try {
      work.actual = await work.driver.read(work.target);
    } catch (error) {
      fail(work, error);
      return;
    }
    plan(work);
  };

  const readable = works.filter(ready);
  await readAll(readable);
  for (const work of readable) if (work.report.status !== 'failed') plan(work);
  holdSourcesWithFailedReads(works);

  if (writes) {
    const ready = works.filter((w) => w.report.status === 'planned' && w.plan?.write !== undefined);
    const announced = await announce(deps.store, loaded, ready);
    if ('error' in announced) {
      for (const w of ready) skip(w, announced.error);
    } else {
      loaded = announced;
      for (const [, group] of inPhases(ready.map((w) => ({ work: w, phase: w.plan!.phase })))) {
        await applyGroup(
          group.map((g) => g.work),
          prepare,
        );
      }
    }
  }

  const sourceReports = [...observed.values()].map((o) => o.report);
  const report = finish(
    [...sourceReports, ...expansion.failedFleets.map(fleetReport)],
    [...works.map((w) => w.report), ...heldOrInvalid(expansion, deps.drivers)],
  );
  if (!dryRun) {
    const saveError = await saveState(deps, loaded, works, observed, report, writes);
    if (saveError) {
      report.error = saveError;
      report.outcome = 'failed';
    }
  }
  recordRun(deps.recorder, report);
  return report;
}

/** Reads every target, letting a driver that can (Cloudflare DNS: one list per zone) read its targets together. */
async function readAll(works: Work[]): Promise<void> {
  const byDriver = new Map<TargetDriver, Work[]>();
  for (const w of works) byDriver.set(w.driver, [...(byDriver.get(w.driver) ?? []), w]);
  await Promise.all(
    [...byDriver].map(async ([driver, group]) => {
      if (driver.readMany) {
        const results = await driver.readMany(group.map((w) => w.target));
        group.forEach((w, i) => {
          const result = results[i];
          if (result instanceof Error) fail(w, result);
          else w.actual = result;
        });
        return;
      }
      await Promise.all(
        group.map(async (w) => {
          try {
            w.actual = await driver.read(w.target);
          } catch (error) {
            fail(w, error);
          }
        }),
      );
    }),
  );
}

function newWork(target: TargetConfig, drivers: DriverRegistry): Work {
  const driver = drivers[target.type];
  return {
    target,
    driver,
    report: {
      name: target.name,
      type: target.type,
      source: target.source,
      resource: driver.resource(target),
      status: 'in-sync',
      changes: [],
      deferred: [],
    },
  };
}

function fleetReport(failure: FleetFailure): SourceReport {
  return {
    name: failure.fleet,
    resourceId: `Resource Graph: APIM services tagged ${failure.query.tag}`,
    status: 'unavailable',
    error: failure.error,
    block: {
      reason: 'SourceUnavailable',
      detail: `the fleet query failed: ${failure.error}; no target of fleet ${failure.fleet} changes`,
    },
  };
}

/** Reports for the targets of a failed fleet (held) and for expansions that are not valid targets (failed). */
function heldOrInvalid(expansion: Expansion, drivers: DriverRegistry): TargetReport[] {
  const base = { changes: [], deferred: [] };
  return [
    ...expansion.heldTemplates.map((t): TargetReport => {
      const fleet = expansion.failedFleets.find((f) => f.fleet === t.source);
      return {
        ...base,
        name: t.name,
        type: t.type,
        source: t.source,
        resource: drivers[t.type].resource(t),
        status: 'blocked',
        heldBySource: true,
        block: fleetReport(fleet!).block,
      };
    }),
    ...expansion.invalid.map((i): TargetReport => ({
      ...base,
      name: i.name,
      type: i.type,
      source: i.source,
      resource: '',
      status: 'failed',
      error: i.error,
      hint: 'fix the target template of the fleet',
    })),
  ];
}

async function observeSources(
  deps: EngineDependencies,
  expansion: Expansion,
): Promise<Map<string, Observed>> {
  const used = [...new Set(expansion.targets.map((t) => t.source))];
  const entries = await Promise.all(
    used.map(async (name): Promise<[string, Observed]> => {
      const resourceId = expansion.sources[name]!;
      try {
        const observation = await deps.sources.observe(name, resourceId);
        const block = sourceBlock(observation);
        return [
          name,
          {
            observation,
            report: {
              name,
              resourceId,
              status: block ? 'blocked' : 'observed',
              provisioningState: observation.provisioningState,
              sku: observation.sku,
              gatewayHost: observation.gatewayHost,
              addresses: summarize(observation),
              regions: observation.regions.map(({ location, inbound, outbound, private: priv }) => ({
                location,
                inbound,
                outbound,
                private: priv,
              })),
              block,
            },
          },
        ];
      } catch (error) {
        const remote = remoteFailure(error);
        const hint = hintFor(remote, 'Azure');
        const failure = describeFailure(remote);
        return [
          name,
          {
            report: {
              name,
              resourceId,
              status: 'unavailable',
              error: failure,
              block: {
                reason: 'SourceUnavailable',
                detail: `cannot read ${resourceId}: ${failure}; no target of source ${name} changes${hint ? ` — ${hint}` : ''}`,
              },
            },
          },
        ];
      }
    }),
  );
  return new Map(entries);
}

function emptySourceBlock(target: TargetConfig, observation: Observation): Block {
  const selector = selectorOf(target);
  const where = target.regions ? ` in ${target.regions.join(', ')}` : '';
  const known = observation.regions.map((r) => r.location);
  const unknownRegions = (target.regions ?? []).filter(
    (r) => !known.some((k) => normalizeRegion(k) === normalizeRegion(r)),
  );
  const why =
    /v2$/i.test(observation.sku) || observation.sku === 'Consumption'
      ? ` (the ${observation.sku} tier publishes no dedicated IP addresses)`
      : unknownRegions.length > 0
        ? ` (the service has no region ${unknownRegions.join(', ')}; it runs in ${known.join(', ')})`
        : '';
  return {
    reason: 'EmptySource',
    detail: `${observation.serviceName} reports no ${selector} addresses${where}${why}; holding: an allowlist or DNS name is never emptied`,
  };
}

function fail(work: Work, error: unknown): void {
  work.report.status = 'failed';
  if (error instanceof TargetError) {
    work.report.error = error.message;
    work.report.hint = error.hint;
  } else {
    work.report.error = describeFailure(remoteFailure(error));
  }
}

/** Not applied this run: its changes were neither planned for a dry run nor made, so none is reported. */
function skip(work: Work, why: string): void {
  work.report.status = 'skipped';
  work.report.error = `not applied: ${why}`;
  work.report.changes = [];
}

/** A target that could not be read may hide a problem: no target of the same source writes this run. */
function holdSourcesWithFailedReads(works: Work[]): void {
  const failed = new Map<string, string>();
  for (const w of works) if (w.report.status === 'failed') failed.set(w.target.source, w.target.name);
  for (const w of works) {
    const culprit = failed.get(w.target.source);
    if (culprit && w.report.status === 'planned')
      skip(w, `target ${culprit} of the same source could not be read`);
  }
}

async function applyGroup(group: Work[], prepare: (work: Work) => Promise<void>): Promise<void> {
  // One apply per driver, so a driver serving several target types (Cloudflare DNS) can batch them all.
  const byDriver = new Map<TargetDriver, Work[]>();
  for (const w of group) byDriver.set(w.driver, [...(byDriver.get(w.driver) ?? []), w]);
  await Promise.all(
    [...byDriver].map(async ([driver, works]) => {
      const outcomes = await driver.apply(
        works.map((w) => ({ target: w.target, actual: w.actual, plan: w.plan! })),
      );
      await Promise.all(works.map((w, i) => settle(w, outcomes[i]!, prepare)));
    }),
  );
}

/** Records an apply outcome; a lost race is re-read, re-planned and re-applied once (PRODUCT §5 LostRace). */
async function settle(
  work: Work,
  outcome: ApplyOutcome,
  prepare: (work: Work) => Promise<void>,
): Promise<void> {
  if (outcome.status === 'applied') {
    work.report.status = 'changed';
    work.report.changes = work.report.changes.map((c) => ({ ...c, result: 'applied' }));
    return;
  }
  if (outcome.status === 'failed') {
    work.report.status = 'failed';
    work.report.error = outcome.error;
    work.report.changes = work.report.changes.map((c) => ({ ...c, result: 'failed' }));
    return;
  }
  if (work.retried) {
    work.report.status = 'blocked';
    work.report.changes = [];
    work.report.block = {
      reason: 'LostRace',
      detail: `the target changed between read and write twice (${outcome.error}); the next run tries again`,
    };
    return;
  }
  work.retried = true;
  await prepare(work);
  if (work.report.status !== 'planned' || !work.plan?.write) return;
  await applyGroup([work], prepare);
}

/**
 * Write-ahead: before any write, saves which entries each target is about to gain (`pending`), so that an entry
 * whose write answer is lost (a timeout, a killed process) is still known as the reconciler's own next run.
 * Nothing is saved when no target adds anything.
 */
async function announce(
  store: StateStore,
  loaded: { value: State; version: string | undefined },
  ready: Work[],
): Promise<{ value: State; version: string | undefined } | { error: string }> {
  const adding = ready.filter((w) => w.plan!.additions.length > 0);
  if (adding.length === 0) return loaded;
  const next: State = structuredClone(loaded.value);
  for (const w of adding) {
    const plan = w.plan!;
    const saved = next.targets[w.target.name];
    const current =
      saved?.resource === plan.nextState.resource ? saved : { ...plan.nextState, owned: [], departed: {} };
    const pending = new Set([...(current.pending ?? []), ...plan.additions.map((p) => p.key)]);
    next.targets[w.target.name] = { ...current, pending: [...pending] };
  }
  try {
    return { value: next, version: await store.save(next, loaded.version) };
  } catch (error) {
    return {
      error: `cannot record the writes about to be made at ${store.location}: ${(error as Error).message}`,
    };
  }
}

async function saveState(
  deps: EngineDependencies,
  loaded: { value: State; version: string | undefined },
  works: Work[],
  observed: Map<string, Observed>,
  report: RunReport,
  writes: boolean,
): Promise<string | undefined> {
  const next: State = structuredClone(loaded.value);
  if (writes) {
    for (const w of works) {
      if (w.plan && (w.report.status === 'changed' || w.report.status === 'in-sync')) {
        next.targets[w.target.name] = w.plan.nextState satisfies TargetState;
      }
    }
  }
  // An address the source gives again has not departed, even for a target this run did not write (held,
  // skipped, failed, observe mode): its old departure time would otherwise retire it at once when it next leaves.
  for (const w of works) {
    const saved = next.targets[w.target.name];
    if (saved && w.context) for (const p of w.context.desired) delete saved.departed[p.key];
  }
  for (const [name, o] of observed) {
    if (!o.observation) continue;
    next.sources[name] = {
      observedAt: report.finishedAt,
      provisioningState: o.observation.provisioningState,
      sku: o.observation.sku,
      addresses: summarize(o.observation),
    };
  }
  next.lastRun = {
    runId: report.runId,
    trigger: report.trigger,
    outcome: report.outcome,
    dryRun: report.dryRun,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    changesApplied: report.counts.changesApplied,
    changesPlanned: report.counts.changesPlanned,
    guards: report.counts.guards,
    errors: report.counts.errors,
  };
  try {
    await deps.store.save(next, loaded.version);
    return undefined;
  } catch (error) {
    return `cannot save the state at ${deps.store.location}: ${(error as Error).message}`;
  }
}
