import { app, type InvocationContext, type Timer } from '@azure/functions';
import { functionsRuntime, type FunctionsRuntime } from '../lib/wiring/runtime';
import { describeResponse } from './respond';

/** The scheduled reconcile: RECONCILE_SCHEDULE (NCRONTAB), every 5 minutes by default. */
export function timerHandler(runtime: () => FunctionsRuntime) {
  return async (_timer: Timer, context: InvocationContext): Promise<void> => {
    const response = await runtime().reconcile({ trigger: 'timer', dryRun: false, force: false });
    context.log(describeResponse(response));
    // A failed run is recorded as Reconcile.Run; failing the invocation too makes it visible in the portal.
    if (response.kind === 'failed') throw new Error(response.error);
    if (response.kind === 'done' && response.report.outcome === 'failed')
      throw new Error(describeResponse(response));
  };
}

export const reconcileTimer = timerHandler(functionsRuntime);

app.timer('reconcileTimer', { schedule: '%RECONCILE_SCHEDULE%', handler: reconcileTimer });
