import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { functionsRuntime, type FunctionsRuntime } from '../lib/wiring/runtime';
import { describeResponse } from './respond';
import { prefersHtml, renderStatusPage, STATUS_PAGE_CSP, staleAfterMs } from './statusPage';

/**
 * POST /api/reconcile[?dryRun=true][&force=true]: a run on demand (dryRun returns the plan, writes nothing;
 * force lifts TooManyRemovals only). 409 when a run holds the lock. GET /api/reconcile/status: the last run, as
 * JSON, or as the status page for a browser (docs/operations.md#the-status-page).
 */

const FLAGS = ['dryRun', 'force'] as const;
type Flags = Record<(typeof FLAGS)[number], boolean>;

function json(status: number, body: unknown): HttpResponseInit {
  return { status, jsonBody: body, headers: { 'Cache-Control': 'no-store' } };
}

/** Parses the query strictly: only dryRun and force, each true/false (or 1/0, or present without a value). */
/** The status page: no caching, no sniffing, no framing, nothing but its own style (functions/statusPage.ts). */
function page(status: number, body: string): HttpResponseInit {
  return {
    status,
    body,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': STATUS_PAGE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      Vary: 'Accept',
    },
  };
}

export function parseFlags(query: URLSearchParams): Flags | string {
  const flags: Flags = { dryRun: false, force: false };
  for (const [key, value] of query) {
    if (key === 'code') continue; // the function key, when passed in the query
    if (!(FLAGS as readonly string[]).includes(key))
      return `unknown query parameter "${key}"; expected dryRun and/or force`;
    const normalized = value.toLowerCase();
    if (['', 'true', '1'].includes(normalized)) flags[key as keyof Flags] = true;
    else if (['false', '0'].includes(normalized)) flags[key as keyof Flags] = false;
    else return `${key} must be true or false, got "${value}"`;
  }
  return flags;
}

export function reconcileHandler(runtime: () => FunctionsRuntime) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const flags = parseFlags(request.query);
    if (typeof flags === 'string') return json(400, { error: flags });
    if ((await request.text()).trim() !== '') {
      return json(400, { error: 'the request takes no body; use the dryRun and force query parameters' });
    }
    const response = await runtime().reconcile({ trigger: 'http', ...flags });
    context.log(describeResponse(response));
    switch (response.kind) {
      case 'done':
        return json(200, response.report);
      case 'locked':
        return json(409, {
          error: `run ${response.heldBy?.runId ?? '(unknown)'} (${response.heldBy?.trigger ?? 'unknown trigger'}) holds the lock; try again when it ends`,
          heldBy: response.heldBy ?? null,
        });
      case 'failed':
        return json(500, { error: response.error });
    }
  };
}

export function statusHandler(runtime: () => FunctionsRuntime) {
  return async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
    const flags = parseFlags(request.query);
    if (typeof flags === 'string' || flags.dryRun || flags.force) {
      return json(400, { error: 'the status endpoint takes no query parameters' });
    }
    const html = prefersHtml(request.headers.get('accept'));
    try {
      const status = await runtime().status();
      if (!html) return json(status.error ? 500 : 200, status);
      return page(
        status.error ? 500 : 200,
        renderStatusPage(status, new Date(status.generatedAt), {
          staleAfterMs: staleAfterMs(process.env.RECONCILE_SCHEDULE),
        }),
      );
    } catch (error) {
      context.error(`status failed: ${(error as Error).message}`);
      if (!html) return json(500, { error: (error as Error).message });
      const failed = {
        lastRun: null,
        sources: {},
        targets: {},
        runs: [],
        running: null,
        mode: 'enforce' as const,
        generatedAt: new Date().toISOString(),
        error: `cannot read the state: ${(error as Error).message}`,
      };
      return page(500, renderStatusPage(failed, new Date()));
    }
  };
}

export const reconcileHttp = reconcileHandler(functionsRuntime);
export const reconcileStatus = statusHandler(functionsRuntime);

app.http('reconcileHttp', {
  route: 'reconcile',
  methods: ['POST'],
  authLevel: 'function',
  handler: reconcileHttp,
});
app.http('reconcileStatus', {
  route: 'reconcile/status',
  methods: ['GET'],
  authLevel: 'function',
  handler: reconcileStatus,
});
