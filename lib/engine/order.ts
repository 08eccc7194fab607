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
