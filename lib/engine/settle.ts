import type { ApplyOutcome } from '../targets/target';
import { prepareAgain, type PrepareContext } from './prepare';
import { hasWrite, type Planned } from './work';

/**
 * Stage 5, settle: an apply outcome becomes the target's report. A lost race (the target changed between read and
 * write) is re-read, re-planned and re-applied once (docs/design/product.md §5 LostRace), then reported.
 */
export async function settle(
  item: Planned,
  outcome: ApplyOutcome,
  run: PrepareContext,
  reapply: (item: Planned) => Promise<void>,
): Promise<void> {
  const { report } = item;
  if (outcome.status === 'applied') {
    report.status = 'changed';
    report.changes = report.changes.map((c) => ({ ...c, result: 'applied' }));
    return;
  }
  if (outcome.status === 'failed') {
    report.status = 'failed';
    report.error = outcome.error;
    report.changes = report.changes.map((c) => ({ ...c, result: 'failed' }));
    return;
  }
  if (item.retried) {
    report.status = 'blocked';
    report.changes = [];
    report.block = {
      reason: 'LostRace',
      detail: `the target changed between read and write twice (${outcome.error}); the next run tries again`,
    };
    return;
  }
  item.retried = true;
  const again = await prepareAgain(item, run);
  if (!again) return;
  // The item carries the new read and plan from here on: that plan's state is the one saved.
  Object.assign(item, { context: again.context, actual: again.actual, plan: again.plan });
  if (!hasWrite(item)) return;
  await reapply(item);
}
