import type { TargetState } from '../state/store';
import type { Block, Phase, TargetPlan } from './types';

/** A plan that changes nothing because a guard tripped while planning; `nextState` is what stays remembered. */
export function blockedPlan<W = never>(block: Block, nextState: TargetState, phase: Phase): TargetPlan<W> {
  return { changes: [], additions: [], removals: 0, deferred: [], nextState, phase, blocked: block };
}

/** A plan with nothing to write: the target already holds what it should. */
export function emptyPlan<W = never>(nextState: TargetState, phase: Phase): TargetPlan<W> {
  return { changes: [], additions: [], removals: 0, deferred: [], nextState, phase };
}
