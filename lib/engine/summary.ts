import type { RunSummary, State, TargetSummary } from '../state/store';
import { RUNS_KEPT } from '../state/store';
import type { RunReport } from './report';

/**
 * Part of stage 6, persist: what the status page shows (docs/operations.md#the-status-page), from the run's report
 * — each target's state, its last change, what it holds or retires and until when, and the last runs. Targets no
 * longer configured drop out; a target's last change is kept until another run changes it.
 */
export function withSummaries(next: State, previous: State, report: RunReport): State {
  const targetStatus: Record<string, TargetSummary> = {};
  for (const t of report.targets) {
    const before = previous.targetStatus?.[t.name];
    const applied = t.changes.filter((c) => c.result === 'applied');
    const pending = t.changes.filter((c) => c.result === 'planned' || c.result === 'failed').length;
    targetStatus[t.name] = {
      type: t.type,
      source: t.source,
      resource: t.resource,
      status: t.status,
      checkedAt: report.finishedAt,
      ...(t.block
        ? {
            block: {
              reason: t.block.reason,
              detail: t.block.detail,
              ...(t.heldBySource ? { bySource: true } : {}),
            },
          }
        : {}),
      ...(t.error ? { error: t.hint ? `${t.error} — ${t.hint}` : t.error } : {}),
      ...(pending > 0 ? { pending } : {}),
      ...(applied.length > 0
        ? {
            lastChange: {
              at: report.finishedAt,
              runId: report.runId,
              changes: applied.slice(0, 20).map(({ action, subject, before, after }) => ({
                action,
                ...(subject ? { subject } : {}),
                ...(before ? { before } : {}),
                ...(after ? { after } : {}),
              })),
            },
          }
        : before?.lastChange && before.resource === t.resource
          ? { lastChange: before.lastChange }
          : {}),
      retiring: t.deferred.map(({ entry, retiresAt, heldBy }) => ({
        entry,
        retiresAt,
        ...(heldBy ? { heldBy } : {}),
      })),
    };
  }
  const run: RunSummary = {
    runId: report.runId,
    trigger: report.trigger,
    mode: report.mode,
    outcome: report.outcome,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    changesApplied: report.counts.changesApplied,
    changesPlanned: report.counts.changesPlanned,
    heldTargets: report.targets.filter((t) => t.block).length,
    failedTargets: report.targets.filter((t) => t.status === 'failed' || (t.status === 'skipped' && t.error))
      .length,
    ...(report.error ? { error: report.error } : {}),
  };
  return { ...next, targetStatus, runs: [run, ...(previous.runs ?? [])].slice(0, RUNS_KEPT) };
}
