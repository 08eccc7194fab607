import type { SafetyConfig, TargetConfig } from '../config/schema';
import type { Prefix } from '../net/addresses';
import type { Observation } from '../source/observation';
import type { TargetState } from '../state/store';
import type { ChangeAction, GuardCode } from '../telemetry/events';

/**
 * The one interface every target type implements (PRODUCT §4): read the actual state, plan the
 * difference (a pure function returning data), apply a plan. Guards and ordering live in the engine.
 */

/** The mark the reconciler writes on everything it owns (PRODUCT §6). */
export const OWNER_MARK = 'managed-by=apim-ip-reconciler';
/** Cloudflare comments use a colon: `managed-by:apim-ip-reconciler`. */
export const COMMENT_MARK = 'managed-by:apim-ip-reconciler';
export const OWNER_TAG = { name: 'managed-by', value: 'apim-ip-reconciler' } as const;

/** When a plan is written, relative to the others (make before break, PRODUCT §5). */
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

export interface Deferred {
  /** The entry as written in the target. */
  entry: string;
  /** When it may be removed (ISO 8601). */
  retiresAt: string;
  /** Due, but held by a guard. */
  heldBy?: GuardCode;
}

export interface TargetPlan<W = unknown> {
  changes: PlannedChange[];
  /** Every address this plan would add to the target: checked by the BroadPrefix guard. */
  additions: Prefix[];
  /** How many entries this plan removes: checked by the TooManyRemovals guard. */
  removals: number;
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
  /** Plan additions only and keep every removal for later (TooManyRemovals held them). */
  holdRemovals?: boolean;
}

export type ApplyOutcome =
  { status: 'applied' } | { status: 'lost-race'; error: string } | { status: 'failed'; error: string };

export interface ApplyItem<T, A, W> {
  target: T;
  actual: A;
  plan: TargetPlan<W>;
}

/**
 * A target type (or a family of types served together). `apply` receives every plan this driver has due in
 * the same phase, so a driver that can batch (Cloudflare: one batch per zone) does; it answers one outcome
 * per item, in order.
 */
export interface TargetDriver<T extends TargetConfig = TargetConfig, A = unknown, W = unknown> {
  readonly type: T['type'];
  /** The resource the target writes, for events and output (a resource ID or a DNS name). */
  resource(target: T): string;
  /** False for a target that follows something other than the source's addresses (a CNAME); default true. */
  needsAddresses?(target: T): boolean;
  read(target: T): Promise<A>;
  /** Reads several targets at once when that takes fewer requests; one result (or Error) per target, in order. */
  readMany?(targets: T[]): Promise<Array<A | Error>>;
  plan(target: T, actual: A, context: PlanContext): TargetPlan<W>;
  apply(items: ApplyItem<T, A, W>[]): Promise<ApplyOutcome[]>;
}

/** A read that failed in a way the operator must fix (missing resource, no permission...). */
export class TargetError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'TargetError';
  }
}
