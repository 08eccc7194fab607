import type { State, StateStore, Versioned } from '../state/store';
import { summarize } from '../source/observation';
import type { ObservedSource } from './observe';
import type { RunReport } from './report';
import { withSummaries } from './summary';
import type { Planned, Ready } from './work';

/**
 * Stage 6, persist: what this run learned, saved for the next one (docs/design/product.md §5, §6): the state of
 * every target written or found in sync, departures forgotten for addresses the source gives again, what each
 * source looked like, and the run itself. Returns an error line when the state cannot be saved.
 */
export async function persist(
  store: StateStore,
  loaded: Versioned<State>,
  run: { ready: Ready[]; planned: Planned[]; sources: Map<string, ObservedSource>; writes: boolean },
  report: RunReport,
): Promise<string | undefined> {
  const next: State = structuredClone(loaded.value);
  if (run.writes) {
    for (const { target, plan, report: r } of run.planned) {
      if (r.status === 'changed' || r.status === 'in-sync') next.targets[target.name] = plan.nextState;
    }
  }
  // An address the source gives again has not departed, even for a target this run did not write (held,
  // skipped, failed, observe mode): its old departure time would otherwise retire it at once when it next leaves.
  for (const { target, context } of run.ready) {
    const saved = next.targets[target.name];
    if (saved) for (const p of context.desired) delete saved.departed[p.key];
  }
  for (const [name, o] of run.sources) {
    if (!o.observation) continue;
    next.sources[name] = {
      observedAt: report.finishedAt,
      provisioningState: o.observation.provisioningState,
      sku: o.observation.sku,
      addresses: summarize(o.observation),
      // As the address selectors read them (docs/configuration.md): outbound falls back to the public IPs.
      regions: o.observation.regions.map((r) => ({
        location: r.location,
        inbound: r.gatewayDisabled ? [] : r.inbound,
        outbound: r.outbound.length > 0 ? r.outbound : r.inbound,
        private: r.private,
      })),
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
    await store.save(withSummaries(next, loaded.value, report), loaded.version);
    return undefined;
  } catch (error) {
    return `cannot save the state at ${store.location}: ${(error as Error).message}`;
  }
}
