import type { ApplyOutcome } from '../targets/target';
import { prepareAgain, type PrepareContext } from './prepare';
import { hasWrite, type Planned } from './work';

/**
 * Stage 5, settle: an apply outcome becomes the target's report. A lost race (the target changed between read and
 * write) is read and planned again once (docs/design/product.md §5 LostRace); the apply stage writes every target
 * that lost a race together, so targets sharing a resource still share one write. A second lost race is reported.
 */
export function settle(item: Planned, outcome: ApplyOutcome): 'done' | 'again' {
  const { report } = item;
  if (outcome.status === 'applied') {
    report.status = 'changed';
    report.changes = report.changes.map((c) => ({ ...c, result: 'applied' }));
    return 'done';
  }
  if (outcome.status === 'failed') {
    report.status = 'failed';
    report.error = outcome.error;
    report.changes = report.changes.map((c) => ({ ...c, result: 'failed' }));
    return 'done';
  }
  if (item.retried) {
    report.status = 'blocked';
    report.changes = [];
    report.block = {
      reason: 'LostRace',
      detail: `the target changed between read and write twice (${outcome.error}); the next run tries again`,
    };
    return 'done';
  }
  return 'again';
}

/** Reads and plans a target that lost a race once more; true when it still has a write to make. */
export async function replan(item: Planned, run: PrepareContext): Promise<boolean> {
  item.retried = true;
  const again = await prepareAgain(item, run);
  if (!again) return false;
  // The item carries the new read and plan from here on: that plan's state is the one saved.
  Object.assign(item, { context: again.context, actual: again.actual, plan: again.plan });
  return hasWrite(item);
}
