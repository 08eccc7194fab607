import { describeFailure, hasStatus, hintFor, remoteFailure } from '../../remote';
import { TargetError, type ApplyOutcome, type DriverTuning } from '../target';

/** Options shared by the Azure allowlist targets. */
export interface AzureWriteOptions {
  /** Poll interval for long-running operations when the service sends no Retry-After. */
  pollIntervalMs: number;
  /** The longest a write (its long-running operation included) may take before the run stops waiting. */
  maxWaitMs: number;
}

/** The write options of an Azure target from the run's tuning: 5 minutes per write unless a type needs more. */
export function azureWriteOptions(tuning: DriverTuning, defaultMaxWaitMs = 5 * 60_000): AzureWriteOptions {
  return {
    pollIntervalMs: tuning.pollIntervalMs ?? 2000,
    maxWaitMs: tuning.maxWriteWaitMs ?? defaultMaxWaitMs,
  };
}

/** A write whose operation outlived maxWaitMs: Azure may still finish it; the next run reads the result. */
export function isTimeout(error: unknown): boolean {
  return (error as Error)?.name === 'AbortError';
}

/** Headers for a conditional write: If-Match on the read etag, or If-None-Match: * to create. */
export function conditionalHeaders(etag: string | undefined, creating: boolean): Record<string, string> {
  if (creating) return { 'If-None-Match': '*' };
  return etag ? { 'If-Match': etag } : {};
}

/** Maps a failed ARM write to an outcome: 412 means another writer got there first. */
export function writeOutcome(error: unknown, maxWaitMs?: number): ApplyOutcome {
  if (isTimeout(error)) {
    const waited = maxWaitMs === undefined ? '' : ` after ${Math.round(maxWaitMs / 1000)}s`;
    return { status: 'failed', error: `the write was still running${waited}; the next run reads the result` };
  }
  const failure = remoteFailure(error);
  if (failure.status === 412) return { status: 'lost-race', error: describeFailure(failure) };
  const hint = hintFor(failure, 'Azure');
  return {
    status: 'failed',
    error: hint ? `${describeFailure(failure)} (${hint})` : describeFailure(failure),
  };
}

/** Re-throws a failed read as a TargetError with one line saying what to do. */
export function readError(error: unknown, what: string): TargetError {
  if (error instanceof TargetError) return error;
  const failure = remoteFailure(error);
  const hint = hintFor(failure, 'Azure');
  return new TargetError(`cannot read ${what}: ${describeFailure(failure)}`, hint || undefined);
}

export const isNotFound = (error: unknown): boolean => hasStatus(error, 404);
