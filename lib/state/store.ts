import type { RunOutcome, Trigger } from '../telemetry/events';

/**
 * What the reconciler remembers between runs (docs/design/product.md §5, §6): which entries it owns in each target,
 * when each owned address left its source (for retireAfter), what each source looked like, and the last run.
 */
export interface TargetState {
  /** The resource this state belongs to; a target pointed at another resource starts afresh. */
  resource: string;
  /** Canonical keys of the entries the reconciler added or adopted. */
  owned: string[];
  /** Canonical key → when the source stopped reporting it (ISO 8601). */
  departed: Record<string, string>;
  /**
   * Keys the reconciler is about to add, saved before it writes (write-ahead): if the write's answer is lost or
   * the process dies, the next run still knows the entries are its own.
   */
  pending?: string[];
}

export interface SourceState {
  observedAt: string;
  provisioningState: string;
  sku: string;
  addresses: { inbound: string[]; outbound: string[]; private: string[] };
  /** The same, region by region (the status page); absent in documents saved before it was kept. */
  regions?: Array<{ location: string; inbound: string[]; outbound: string[]; private: string[] }>;
}

/**
 * What the last run that looked at a target found (docs/operations.md#the-status-page): kept for people, never
 * read by a run to decide anything.
 */
export interface TargetSummary {
  type: string;
  source: string;
  resource: string;
  /** in-sync, planned (drift not written: observe mode), changed, blocked, failed, skipped. */
  status: string;
  /** When the run that found this ended. */
  checkedAt: string;
  block?: { reason: string; detail: string; bySource?: boolean };
  error?: string;
  /** Changes found but not written (observe mode, a failure). */
  pending?: number;
  /** The last run that changed the target, and what it changed. */
  lastChange?: {
    at: string;
    runId: string;
    changes: Array<{ action: string; subject?: string; before?: string; after?: string }>;
  };
  /** Entries leaving the target: when each goes, or the guard holding its removal. */
  retiring: Array<{ entry: string; retiresAt: string; heldBy?: string }>;
}

/** One run, as the status page lists the last ones. */
export interface RunSummary {
  runId: string;
  trigger: Trigger;
  mode: string;
  outcome: RunOutcome;
  startedAt: string;
  finishedAt: string;
  changesApplied: number;
  changesPlanned: number;
  heldTargets: number;
  failedTargets: number;
  error?: string;
}

/** How many runs the state keeps for the status page. */
export const RUNS_KEPT = 20;

export interface LastRun {
  runId: string;
  trigger: Trigger;
  outcome: RunOutcome;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  changesApplied: number;
  changesPlanned: number;
  guards: number;
  errors: number;
}

export interface State {
  version: 1;
  targets: Record<string, TargetState>;
  sources: Record<string, SourceState>;
  lastRun?: LastRun;
  /**
   * For the status page, by target name; optional, so documents written before they existed (or by an older
   * version, which drops them) still load: the next run writes them again.
   */
  targetStatus?: Record<string, TargetSummary>;
  /** The last runs, newest first (at most RUNS_KEPT). */
  runs?: RunSummary[];
}

export function emptyState(): State {
  return { version: 1, targets: {}, sources: {} };
}

export interface Versioned<T> {
  value: T;
  /** Opaque version for a conditional save (an etag, a content hash); undefined when nothing was stored yet. */
  version: string | undefined;
}

/** The state document changed since it was loaded: another run wrote it. */
export class StateConflictError extends Error {
  constructor(message = 'the state document was changed by another run since it was read') {
    super(message);
    this.name = 'StateConflictError';
  }
}

export interface StateStore {
  load(): Promise<Versioned<State>>;
  /** Saves only if the stored version is still `version`; throws StateConflictError otherwise. */
  save(state: State, version: string | undefined): Promise<string>;
  /** Where the state lives, for messages. */
  readonly location: string;
}

/** Checks a parsed document is a State; older or foreign documents are refused rather than guessed at. */
export function parseState(input: unknown, location: string): State {
  const doc = input as Partial<State> | null;
  if (!doc || typeof doc !== 'object' || doc.version !== 1 || typeof doc.targets !== 'object') {
    throw new Error(`${location} is not a state document of this reconciler (expected "version": 1)`);
  }
  const state: State = {
    version: 1,
    targets: doc.targets ?? {},
    sources: doc.sources ?? {},
    lastRun: doc.lastRun,
  };
  // The status page's summaries are kept only when they have the expected shape: never a reason to refuse a state.
  if (doc.targetStatus && typeof doc.targetStatus === 'object' && !Array.isArray(doc.targetStatus))
    state.targetStatus = doc.targetStatus;
  if (Array.isArray(doc.runs))
    state.runs = doc.runs.filter((r) => r && typeof r === 'object').slice(0, RUNS_KEPT);
  return state;
}

/** Who holds the run lock, as shown to a run that could not get it. */
export interface LockHolder {
  runId: string;
  trigger: Trigger;
  startedAt: string;
}

export type LockResult =
  { acquired: true; release(): Promise<void> } | { acquired: false; heldBy: LockHolder | undefined };

/** One run at a time (docs/design/product.md §2: a forced run answers 409 while another holds the lock). */
export interface RunLock {
  acquire(holder: LockHolder): Promise<LockResult>;
  /** Who holds the lock now, without taking it (optional: the status page shows a run in progress). */
  peek?(): Promise<{ leased: boolean; holder: LockHolder | undefined }>;
  /** Where the lock lives, for messages. */
  readonly location?: string;
}
