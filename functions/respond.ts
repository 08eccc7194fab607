import type { RunResponse } from '../lib/wiring/runtime';

/** One log line per invocation: the outcome and its counts, or why nothing ran. */
export function describeResponse(response: RunResponse): string {
  switch (response.kind) {
    case 'done': {
      const { runId, outcome, counts } = response.report;
      return `run ${runId}: ${outcome} (${counts.changesApplied} applied, ${counts.changesPlanned} planned, ${counts.guards} blocked, ${counts.errors} errors)`;
    }
    case 'locked':
      return `skipped: run ${response.heldBy?.runId ?? '(unknown)'} (${response.heldBy?.trigger ?? '?'}, since ${response.heldBy?.startedAt ?? '?'}) holds the lock`;
    case 'failed':
      return `failed: ${response.error}`;
  }
}
