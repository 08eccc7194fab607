import type { RunReport } from '../engine/report';
import { EVENT, type CommonProperties, type Recorder } from './events';

/** Turns a RunReport into the events of docs/design/product.md §7, in order: sources, guards, changes, then the run. */
export function recordRun(recorder: Recorder, report: RunReport): void {
  const common: CommonProperties & Record<string, string> = {
    runId: report.runId,
    trigger: report.trigger,
    mode: report.mode,
  };

  for (const s of report.sources) {
    if (s.status === 'unavailable') continue;
    recorder.event({
      name: EVENT.sourceObserved,
      properties: {
        ...common,
        source: s.name,
        resourceId: s.resourceId,
        provisioningState: s.provisioningState ?? '',
        sku: s.sku ?? '',
        inbound: (s.addresses?.inbound ?? []).join(','),
        outbound: (s.addresses?.outbound ?? []).join(','),
        private: (s.addresses?.private ?? []).join(','),
        regions: JSON.stringify(s.regions ?? []),
      },
    });
  }

  for (const s of report.sources) {
    if (!s.block) continue;
    recorder.event({
      name: EVENT.blocked,
      properties: { ...common, source: s.name, reason: s.block.reason, detail: s.block.detail },
    });
  }
  for (const t of report.targets) {
    if (!t.block || t.heldBySource) continue;
    recorder.event({
      name: EVENT.blocked,
      properties: {
        ...common,
        target: t.name,
        source: t.source,
        reason: t.block.reason,
        detail: t.block.detail,
      },
    });
  }

  for (const t of report.targets) {
    for (const c of t.changes) {
      recorder.event({
        name: EVENT.change,
        properties: {
          ...common,
          target: t.name,
          targetType: t.type,
          source: t.source,
          resource: t.resource,
          action: c.action,
          before: c.before,
          after: c.after,
          result: c.result,
          error: c.result === 'failed' ? (t.error ?? '') : '',
          ...(c.subject ? { subject: c.subject } : {}),
        },
      });
    }
  }

  recorder.event({
    name: EVENT.run,
    properties: {
      ...common,
      outcome: report.outcome,
      dryRun: String(report.dryRun),
      error: report.error ?? '',
      failures: report.targets
        .filter((t) => t.error)
        .map((t) => `${t.name}: ${t.error}`)
        .join('; '),
      // Targets whose state was lost and whose entries equal to the source were owned again (state lost).
      reowned: report.targets
        .filter((t) => t.reowned)
        .map((t) => `${t.name}: ${(t.reowned ?? []).join(' ')}`)
        .join('; '),
    },
    measurements: {
      targets: report.counts.targets,
      changesPlanned: report.counts.changesPlanned,
      changesApplied: report.counts.changesApplied,
      changesFailed: report.counts.changesFailed,
      guards: report.counts.guards,
      errors: report.counts.errors,
      durationMs: report.durationMs,
    },
  });
}
