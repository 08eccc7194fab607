import type { SafetyConfig } from '../config/schema';
import type { Prefix } from '../net/addresses';
import type { Observation } from '../source/observation';
import type { TargetState } from '../state/store';
import type { ChangeAction, GuardCode } from '../telemetry/events';

/**
 * A plan is plain data: what a target should change, computed by a pure function from the desired addresses,
 * what the target holds and what the reconciler remembers. Targets produce plans; the engine guards, orders and
 * applies them (docs/design/architecture.md).
 */

/** When a plan is written, relative to the others (make before break, docs/design/product.md §5). */
export type Phase = 'allowlist-add' | 'dns' | 'allowlist-remove';

export interface PlannedChange {
  action: ChangeAction;
  /** What the entry belongs to when that is not the target itself, e.g. `api.contoso.com A`. */
  subject?: string;
  /** What the entry was, as written in the target ('' for a new entry). */
  before: string;
  /** What it becomes ('' when removed). */
  after: string;
  /** A human note, e.g. "retired 1h ago". */
  note?: string;
}

export interface Block {
  reason: GuardCode;
  detail: string;
}

/** Why a removal that is due waits. */
export type HoldReason = 'TooManyRemovals' | 'UnreadableTarget';

export interface Deferred {
  /** The entry as written in the target. */
  entry: string;
  /** When it may be removed (ISO 8601). */
  retiresAt: string;
  /** Due, but held. */
  heldBy?: HoldReason;
}

export interface TargetPlan<W = unknown> {
  changes: PlannedChange[];
  /** Every address this plan would add to the target: checked by the BroadPrefix guard. */
  additions: Prefix[];
  /** How many entries this plan removes: checked by the TooManyRemovals guard. */
  removals: number;
  /**
   * Entries owned again because the state had no record of a marked target (docs/design/product.md §6, state
   * lost): reported, never written.
   */
  reowned?: string[];
  /** A guard tripped while planning (NotOwned, EmptySource, BroadPrefix on a DNS target...). */
  blocked?: Block;
  deferred: Deferred[];
  /** The state to save once the plan is applied (or when there is nothing to apply). */
  nextState: TargetState;
  phase: Phase;
  /** What apply() needs; undefined when there is nothing to write. */
  write?: W;
}

export interface PlanContext {
  /** The addresses the target should hold, from its source and selector. */
  desired: Prefix[];
  observation: Observation;
  /** What the reconciler recorded about this target in earlier runs. */
  state: TargetState | undefined;
  now: Date;
  safety: SafetyConfig;
  retireAfterMs: number;
  /**
   * Plan additions only and keep every removal for later: TooManyRemovals held them (`true`), or a target of the same
   * source could not be read (`UnreadableTarget`: in a half-seen world removals wait, docs/design/product.md §5).
   */
  holdRemovals?: boolean | 'UnreadableTarget';
}
