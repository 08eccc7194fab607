import pLimit from 'p-limit';

/**
 * What keeps a run within the providers' rate limits and within its time: at most N requests in flight per
 * API host, and a run budget after which no request starts and no retry wait goes on.
 */

/** At most `perKey` tasks at once per key (an API host; an account whose writes must go one at a time). */
export class KeyedLimiter {
  private readonly limits = new Map<string, pLimit.Limit>();

  constructor(readonly perKey: number) {}

  /** Runs `task` once fewer than `perKey` tasks of `key` are running, in the order they came. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let limit = this.limits.get(key);
    if (!limit) this.limits.set(key, (limit = pLimit(this.perKey)));
    return limit(task);
  }
}

/** The per-host limit of requests in flight. */
export class HostLimiter extends KeyedLimiter {
  forUrl<T>(url: string, task: () => Promise<T>): Promise<T> {
    return this.run(new URL(url).host, task);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

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
