import type { ChangeResult, Mode, RunOutcome, Trigger } from '../telemetry/events';
import type { Block, Deferred, PlannedChange } from '../plan/types';
import type { AddressSource } from '../source/observation';

/** The result of one run: what every trigger renders (plan text, JSON, events). */

export interface SourceReport {
  name: string;
  resourceId: string;
  status: 'observed' | 'blocked' | 'unavailable';
  provisioningState?: string;
  sku?: string;
  gatewayHost?: string;
  addresses?: { inbound: string[]; outbound: string[]; private: string[] };
  regions?: Array<{ location: string; inbound: string[]; outbound: string[]; private: string[] }>;
  block?: Block;
  error?: string;
}

export type TargetStatus = 'in-sync' | 'planned' | 'changed' | 'blocked' | 'failed' | 'skipped';

export interface ChangeReport extends PlannedChange {
  result: ChangeResult;
}

export interface TargetReport {
  name: string;
  type: string;
  source: string;
  resource: string;
  status: TargetStatus;
  changes: ChangeReport[];
  deferred: Deferred[];
  block?: Block;
  /** Entries owned again because the state had no record of this marked target (state lost). */
  reowned?: string[];
  /** Which addresses of the source the target follows, and why (e.g. the private ones of an internal VNet). */
  addresses?: AddressSource;
  /** The block is its source's (not running, unavailable...), reported once on the source. */
  heldBySource?: boolean;
  error?: string;
  hint?: string;
}

export interface RunCounts {
  targets: number;
  changesPlanned: number;
  changesApplied: number;
  changesFailed: number;
  guards: number;
  errors: number;
}

export interface RunReport {
  runId: string;
  trigger: Trigger;
  mode: Mode;
  dryRun: boolean;
  force: boolean;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  outcome: RunOutcome;
  sources: SourceReport[];
  targets: TargetReport[];
  counts: RunCounts;
  /** A failure of the run as a whole (state unreadable, lock...). */
  error?: string;
}

export function countRun(sources: SourceReport[], targets: TargetReport[]): RunCounts {
  const changes = targets.flatMap((t) => t.changes);
  const sourceGuards = sources.filter((s) => s.block).length;
  const targetGuards = targets.filter((t) => t.block && !t.heldBySource).length;
  return {
    targets: targets.length,
    changesPlanned: changes.length,
    changesApplied: changes.filter((c) => c.result === 'applied').length,
    changesFailed: changes.filter((c) => c.result === 'failed').length,
    guards: sourceGuards + targetGuards,
    errors:
      sources.filter((s) => s.status === 'unavailable').length +
      targets.filter((t) => t.status === 'failed' || (t.status === 'skipped' && t.error)).length,
  };
}

/** One word for the run, first that applies: failed, partial, blocked, changed, noop. */
export function outcomeOf(counts: RunCounts, targets: TargetReport[], runError?: string): RunOutcome {
  if (runError) return 'failed';
  if (counts.errors > 0) {
    const anyDone = targets.some(
      (t) => t.status === 'changed' || t.status === 'in-sync' || t.status === 'planned',
    );
    return anyDone ? 'partial' : 'failed';
  }
  if (counts.guards > 0) return 'blocked';
  if (counts.changesPlanned > 0) return 'changed';
  return 'noop';
}

/** A run that failed as a whole before any target was looked at (configuration, state, lock): one error. */
export function failedRunReport(run: {
  runId: string;
  trigger: Trigger;
  mode: Mode;
  dryRun: boolean;
  force: boolean;
  startedAt: Date;
  finishedAt: Date;
  error: string;
}): RunReport {
  return {
    runId: run.runId,
    trigger: run.trigger,
    mode: run.mode,
    dryRun: run.dryRun,
    force: run.force,
    startedAt: run.startedAt.toISOString(),
    finishedAt: run.finishedAt.toISOString(),
    durationMs: run.finishedAt.getTime() - run.startedAt.getTime(),
    outcome: 'failed',
    sources: [],
    targets: [],
    counts: { ...countRun([], []), errors: 1 },
    error: run.error,
  };
}
