import type { Phase } from '../plan/types';

/**
 * Make before break (docs/design/product.md §5): allowlists gain new addresses first, then DNS and pool origins move,
 * then allowlists drop addresses that have been gone from the source for retireAfter.
 */
export const PHASES: readonly Phase[] = ['allowlist-add', 'dns', 'allowlist-remove'];

/** Groups items by phase, in PHASES order, keeping their order within a phase. */
export function inPhases<T extends { phase: Phase }>(items: readonly T[]): Array<[Phase, T[]]> {
  return PHASES.map((phase) => [phase, items.filter((i) => i.phase === phase)] as [Phase, T[]]).filter(
    ([, group]) => group.length > 0,
  );
}

/**
 * The reports of a run in the order apply changes them (docs/cli.md#output): targets with changes phase by phase,
 * then the rest (in sync, held, failed) as configured. The sort is stable, so the configuration's order holds
 * within each group.
 */
export function inApplyOrder<R extends { changes: readonly unknown[] }>(
  reports: readonly R[],
  phaseOf: (report: R) => Phase | undefined,
): R[] {
  const rank = (report: R) => {
    const phase = phaseOf(report);
    return phase !== undefined && report.changes.length > 0 ? PHASES.indexOf(phase) : PHASES.length;
  };
  return [...reports].sort((a, b) => rank(a) - rank(b));
}
