import pLimit from 'p-limit';

/**
 * What keeps a run within the providers' rate limits and within its time: at most N requests in flight per
 * API host, and a run budget after which no request starts and no retry wait goes on.
 */

export class HostLimiter {
  private readonly limits = new Map<string, pLimit.Limit>();

  constructor(readonly perHost: number) {}

  /** Runs `task` once fewer than `perHost` requests to `url`'s host are in flight. */
  run<T>(url: string, task: () => Promise<T>): Promise<T> {
    const host = new URL(url).host;
    let limit = this.limits.get(host);
    if (!limit) this.limits.set(host, (limit = pLimit(this.perHost)));
    return limit(task);
  }
}

/** Thrown when a request would start after the run's budget is spent. */
export class BudgetExceededError extends Error {
  constructor(budgetMs: number) {
    super(
      `the run's time budget (${Math.round(budgetMs / 1000)}s, safety.runBudget) is spent; the next run goes on`,
    );
    this.name = 'BudgetExceededError';
  }
}

/**
 * The time one run may take. Clients are built once and live across runs, so the budget is restarted by each
 * run; its signal aborts SDK retry waits (Azure) and in-flight requests when it runs out.
 */
export class RunBudget {
  private deadline = Number.POSITIVE_INFINITY;
  private controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly budgetMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  begin(): void {
    this.end();
    this.controller = new AbortController();
    this.deadline = this.now() + this.budgetMs;
    this.timer = setTimeout(
      () => this.controller.abort(new BudgetExceededError(this.budgetMs)),
      this.budgetMs,
    );
    this.timer.unref();
  }

  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.deadline = Number.POSITIVE_INFINITY;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  remainingMs(): number {
    return Math.max(0, this.deadline - this.now());
  }

  /** Throws when the budget is spent, so no new request starts. */
  check(): void {
    if (this.remainingMs() <= 0) throw new BudgetExceededError(this.budgetMs);
  }
}

/** `Retry-After` (seconds or an HTTP date) or `retry-after-ms`, in milliseconds; undefined when absent. */
export function retryAfterMs(
  headers: { get(name: string): string | null | undefined },
  now = Date.now(),
): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && !Number.isNaN(Number(ms))) return Number(ms);
  const value = headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
