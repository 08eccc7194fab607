import { parseDuration } from '../config/duration';
import { selectorOf, type Config, type TargetConfig } from '../config/schema';
import type { Block, PlanContext } from '../plan/types';
import { normalizeRegion, parseSelection, selection, type Observation } from '../source/observation';
import type { State } from '../state/store';
import { driverFor, type DriverTable } from '../targets/registry';
import type { Clock } from './clock';
import { addressBlock, planBlock } from './guards';
import type { ObservedSource } from './observe';
import { fail, type Candidate, type Planned, type Read, type Ready } from './work';

/**
 * Stage 2, prepare: for every target, the source checks and the addresses it should hold (Ready), one read of
 * what it holds (Read), and a plan checked by the guards (Planned). A target that cannot be read holds back the
 * allowlist removals of its source this run.
 */

export interface PrepareContext {
  config: Config;
  clock: Clock;
  force: boolean;
  sources: Map<string, ObservedSource>;
  /** The state as it is now: a re-plan after a lost race sees what the announce stage saved. */
  state(): State;
  /** Resolves after `ms` (a timer, injected); without it DNS waits for every allowlist addition. */
  wait?: (ms: number) => Promise<void>;
  /** How long DNS waits for the allowlists' additions (safety.dnsWaitForAllowlists). */
  dnsWaitMs: number;
}

export interface Prepared {
  /** Every target of the run, in configuration order. */
  candidates: Candidate[];
  /** The targets whose source let them be planned. */
  ready: Ready[];
  /** The targets read and planned (in sync, blocked by a guard, or with a write to make). */
  planned: Planned[];
}

export function candidateOf(target: TargetConfig, drivers: DriverTable): Candidate {
  const driver = driverFor(drivers, target);
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

export async function prepare(candidates: Candidate[], run: PrepareContext): Promise<Prepared> {
  const ready = candidates.flatMap((c) => {
    const r = readyOf(c, run);
    return r ? [r] : [];
  });
  const read = await readAll(ready);
  const planned = read.flatMap((r) => {
    const p = planOf(r, run);
    return p ? [p] : [];
  });
  holdRemovalsOfHalfSeenSources(candidates, planned);
  return { candidates, ready, planned };
}

/** One target again, after a lost race: ready, read and planned anew (undefined when it no longer gets there). */
export async function prepareAgain(item: Planned, run: PrepareContext): Promise<Planned | undefined> {
  const ready = readyOf(item, run);
  if (!ready) return undefined;
  try {
    const actual = await ready.driver.read(ready.target);
    return planOf({ ...ready, actual }, run);
  } catch (error) {
    fail(ready, error);
    return undefined;
  }
}

/** Source checks and the desired addresses; undefined when the target is held before anything is read. */
function readyOf(candidate: Candidate, run: PrepareContext): Ready | undefined {
  const { report, target, driver } = candidate;
  const source = run.sources.get(target.source);
  if (!source?.observation || source.report.block) {
    report.status = 'blocked';
    report.block = source?.report.block;
    report.heldBySource = true;
    return undefined;
  }
  const selected = selection(source.observation, selectorOf(target), target.regions);
  report.addresses = selected.source;
  const invalid = addressBlock(source.observation, selected);
  if (invalid) {
    report.status = 'blocked';
    report.block = invalid;
    return undefined;
  }
  const context = contextOf(target, source.observation, parseSelection(selected), run);
  if (context.desired.length === 0 && driver.needsAddresses?.(target) !== false) {
    report.status = 'blocked';
    report.block = emptySourceBlock(target, source.observation);
    return undefined;
  }
  return { ...candidate, context };
}

function contextOf(
  target: TargetConfig,
  observation: Observation,
  desired: PlanContext['desired'],
  run: PrepareContext,
): PlanContext {
  return {
    desired,
    observation,
    state: run.state().targets[target.name],
    now: run.clock.now(),
    safety: run.config.safety,
    retireAfterMs: parseDuration(run.config.safety.retireAfter) ?? 3_600_000,
  };
}

/** Reads every target, letting a driver that can (Cloudflare DNS: one list per zone) read its targets together. */
async function readAll(items: Ready[]): Promise<Read[]> {
  const byDriver = new Map<Ready['driver'], Ready[]>();
  for (const item of items) byDriver.set(item.driver, [...(byDriver.get(item.driver) ?? []), item]);
  const read = new Map<Ready, Read>();
  await Promise.all(
    [...byDriver].map(async ([driver, group]) => {
      if (driver.readMany) {
        const results = await driver.readMany(group.map((item) => item.target));
        group.forEach((item, i) => {
          const result = results[i];
          if (result instanceof Error) fail(item, result);
          else read.set(item, { ...item, actual: result });
        });
        return;
      }
      await Promise.all(
        group.map(async (item) => {
          try {
            read.set(item, { ...item, actual: await driver.read(item.target) });
          } catch (error) {
            fail(item, error);
          }
        }),
      );
    }),
  );
  return items.flatMap((item) => {
    const r = read.get(item);
    return r ? [r] : [];
  });
}

/** Plans one target and checks its plan against the guards; undefined when planning itself failed. */
function planOf(item: Read, run: PrepareContext): Planned | undefined {
  const { report, driver, target, actual, context } = item;
  let plan;
  try {
    plan = driver.plan(target, actual, context);
  } catch (error) {
    fail(item, error);
    return undefined;
  }
  const planned: Planned = { ...item, plan };
  if (plan.reowned) report.reowned = plan.reowned;
  const block = planBlock(plan, run.config.safety, run.force);
  report.deferred = plan.deferred;
  if (block) {
    report.block = block;
    // Additions are never the danger: when only the removals are held, the additions still go out.
    const additionsOnly =
      block.reason === 'TooManyRemovals'
        ? driver.plan(target, actual, { ...context, holdRemovals: true })
        : undefined;
    if (!additionsOnly?.write || planBlock(additionsOnly, run.config.safety, false)) {
      report.status = 'blocked';
      return planned;
    }
    planned.plan = additionsOnly;
    report.deferred = additionsOnly.deferred;
  }
  report.changes = planned.plan.changes.map((c) => ({ ...c, result: 'planned' }));
  report.status = planned.plan.write ? 'planned' : 'in-sync';
  return planned;
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

/**
 * A half-seen world (docs/design/product.md §5): when a target of a source cannot be read, that source's allowlist
 * removals wait for a run that sees everything; additions, DNS and pool origins still follow the source (after a
 * reactivation the old inbound IP is dead, so holding DNS would only prolong the outage).
 */
function holdRemovalsOfHalfSeenSources(candidates: Candidate[], planned: Planned[]): void {
  const unreadable = new Set(
    candidates.filter((c) => c.report.status === 'failed').map((c) => c.target.source),
  );
  for (const item of planned) {
    const { plan, report } = item;
    if (!unreadable.has(item.target.source) || report.status !== 'planned' || plan.phase === 'dns') continue;
    if (plan.removals === 0) continue;
    const additionsOnly = item.driver.plan(item.target, item.actual, {
      ...item.context,
      holdRemovals: 'UnreadableTarget',
    });
    item.plan = additionsOnly;
    report.deferred = additionsOnly.deferred;
    report.changes = additionsOnly.changes.map((c) => ({ ...c, result: 'planned' }));
    report.status = additionsOnly.write ? 'planned' : 'in-sync';
  }
}
