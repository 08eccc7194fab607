/**
 * The telemetry contract of docs/design/product.md §7: event names and property names, in one place.
 * The infra's alert and workbook queries are checked against these names.
 */
export const EVENT = {
  run: 'Reconcile.Run',
  sourceObserved: 'Reconcile.SourceObserved',
  change: 'Reconcile.Change',
  blocked: 'Reconcile.Blocked',
} as const;

export type EventName = (typeof EVENT)[keyof typeof EVENT];

export type Trigger = 'timer' | 'http' | 'cli' | 'event';
export type Mode = 'enforce' | 'observe';
export type RunOutcome = 'noop' | 'changed' | 'partial' | 'blocked' | 'failed';
export type ChangeAction = 'add' | 'remove' | 'update' | 'create' | 'delete' | 'adopt';
export type ChangeResult = 'planned' | 'applied' | 'failed';

export const RUN_OUTCOMES: readonly RunOutcome[] = ['noop', 'changed', 'partial', 'blocked', 'failed'];

/** Guard codes of docs/design/product.md §5. */
export const GUARD = {
  sourceUnavailable: 'SourceUnavailable',
  sourceNotRunning: 'SourceNotRunning',
  emptySource: 'EmptySource',
  invalidAddress: 'InvalidAddress',
  openSite: 'OpenSite',
  broadPrefix: 'BroadPrefix',
  tooManyRemovals: 'TooManyRemovals',
  notOwned: 'NotOwned',
  lostRace: 'LostRace',
} as const;

export type GuardCode = (typeof GUARD)[keyof typeof GUARD];

/** Every event carries these properties. */
export interface CommonProperties {
  runId: string;
  trigger: Trigger;
  mode: Mode;
}

/** One telemetry event: string properties and numeric measurements, as Application Insights stores them. */
export interface TelemetryEvent {
  name: EventName;
  properties: Record<string, string>;
  measurements?: Record<string, number>;
}

/** Where events go: Application Insights in Azure, memory in tests, nowhere for a plain CLI run. */
export interface Recorder {
  event(event: TelemetryEvent): void;
  exception(error: Error, properties: Record<string, string>): void;
  flush(): Promise<void>;
}
