import type { TargetConfig } from '../config/schema';
import type { PlanContext, TargetPlan } from '../plan/types';
import { remoteFailure, describeFailure } from '../remote';
import { TargetError, type TargetDriver } from '../targets/target';
import type { TargetReport } from './report';

/**
 * A target's progress through one run. Its type grows stage by stage, so a later stage never has to assume
 * that an earlier one filled something in: a Candidate has a driver and a report; a Ready one also knows what it
 * should hold; a Planned one has been read and has a plan.
 */

export interface Candidate {
  target: TargetConfig;
  driver: TargetDriver<TargetConfig>;
  report: TargetReport;
}

export interface Ready extends Candidate {
  context: PlanContext;
}

export interface Read extends Ready {
  actual: unknown;
}

export interface Planned extends Read {
  plan: TargetPlan;
  /** Re-read and re-planned once after a lost race (docs/design/product.md §5 LostRace). */
  retried?: boolean;
}

/** A target that has a write to make. */
export const hasWrite = (item: Planned): boolean =>
  item.report.status === 'planned' && item.plan.write !== undefined;

/** Marks a target failed, with the error's one line and what to do. */
export function fail(item: Candidate, error: unknown): void {
  item.report.status = 'failed';
  if (error instanceof TargetError) {
    item.report.error = error.message;
    item.report.hint = error.hint;
  } else {
    item.report.error = describeFailure(remoteFailure(error));
  }
}

/** Not applied this run: its changes were neither planned for a dry run nor made, so none is reported. */
export function skip(item: Candidate, why: string): void {
  item.report.status = 'skipped';
  item.report.error = `not applied: ${why}`;
  item.report.changes = [];
}
