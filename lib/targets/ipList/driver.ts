import type Cloudflare from 'cloudflare';
import { remoteFailure } from '../../remote';
import { KeyedLimiter, sleep } from '../../net/limits';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { failureLine, readFailure, retryAfterFrom } from '../common/cloudflare';
import {
  ipListResource,
  planIpList,
  stillSafe,
  type IpListActual,
  type IpListWrite,
  type ListItem,
} from './plan';
import type { IpListTarget } from './schema';
import type { ApplyItem, ApplyOutcome, TargetDriver } from '../target';

/**
 * `cloudflare.ipList` over the `cloudflare` SDK. Writes are asynchronous bulk operations, polled to
 * completion, and Cloudflare allows one pending operation per account: every write of an account goes
 * through one queue, and a 429 for another writer's pending operation is waited out within the bound.
 */

export interface IpListOptions {
  /** Between two polls of a bulk operation, and between two tries while another operation is pending. */
  pollIntervalMs: number;
  /** The longest one target's writes may wait (for operations to complete, for 429s to clear). */
  timeoutMs: number;
  /** Items per page when reading a list (the API allows up to 500). */
  perPage?: number;
  /** Retries of a bulk write answered 5xx or not at all (default 2, as the SDK's own). */
  maxRetries?: number;
  /** What is left of the run's budget: no wait goes past it. */
  remainingMs?: () => number;
}

const READ_PERMISSION = 'Account → Account Filter Lists → Read';
const WRITE_PERMISSION = 'Account → Account Filter Lists → Edit';
/** Cloudflare's rate-limit code; any other 429 on a list write means a bulk operation is pending. */
const RATE_LIMITED = '971';

/** Reads one item from the SDK's response union at the edge; only IP items matter here. */
function toItem(value: unknown): ListItem | undefined {
  const r = value as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.ip !== 'string') return undefined;
  return { id: r.id, ip: r.ip, comment: typeof r.comment === 'string' ? r.comment : '' };
}

class WriteFailure extends Error {
  constructor(readonly outcome: Exclude<ApplyOutcome, { status: 'applied' }>) {
    super(outcome.error);
  }
}

export class CloudflareIpListDriver implements TargetDriver<IpListTarget, IpListActual, IpListWrite> {
  /** One bulk operation per account at a time, as Cloudflare requires. */
  private readonly accounts = new KeyedLimiter(1);

  constructor(
    private readonly client: Cloudflare,
    private readonly options: IpListOptions,
  ) {}

  resource(target: IpListTarget): string {
    return ipListResource(target);
  }

  async read(target: IpListTarget): Promise<IpListActual> {
    try {
      return { items: await this.listItems(target.accountId, target.listId) };
    } catch (error) {
      throw readFailure(
        `cannot list the items of IP list ${target.listId} in account ${target.accountId}`,
        error,
        READ_PERMISSION,
        target.accountId,
        `check listId and accountId of target ${target.name} (the reconciler fills, never creates, lists)`,
      );
    }
  }

  plan(target: IpListTarget, actual: IpListActual, context: PlanContext): TargetPlan<IpListWrite> {
    return planIpList(target, actual, context);
  }

  /** Targets of different accounts write in parallel; those of one account one after another. */
  async apply(items: ApplyItem<IpListTarget, IpListActual, IpListWrite>[]): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(({ plan }) => this.accounts.run(plan.write!.accountId, () => this.write(plan.write!))),
    );
  }

  private async listItems(accountId: string, listId: string): Promise<ListItem[]> {
    const items: ListItem[] = [];
    // The SDK follows `result_info.cursors.after` and stops when it is absent: no request past the end.
    for await (const value of this.client.rules.lists.items.list(listId, {
      account_id: accountId,
      per_page: this.options.perPage ?? 500,
    })) {
      const item = toItem(value);
      if (item) items.push(item);
    }
    return items;
  }

  private async write(write: IpListWrite): Promise<ApplyOutcome> {
    const limitMs = Math.min(this.options.timeoutMs, this.options.remainingMs?.() ?? Infinity);
    const deadline = Date.now() + limitMs;
    try {
      if (write.post.length > 0) {
        const body = write.post.map(({ ip, comment }) => ({ ip, comment }));
        await this.operation(write, 'append', deadline, limitMs, { post: write.post, delete: [] }, () =>
          this.client.rules.lists.items.create(
            write.listId,
            { account_id: write.accountId, body },
            { maxRetries: 0 },
          ),
        );
      }
      if (write.delete.length > 0) {
        const ids = write.delete.map(({ id }) => ({ id }));
        await this.operation(write, 'delete', deadline, limitMs, { post: [], delete: write.delete }, () =>
          this.client.rules.lists.items.delete(
            write.listId,
            { account_id: write.accountId, items: ids },
            { maxRetries: 0 },
          ),
        );
      }
      return { status: 'applied' };
    } catch (error) {
      if (error instanceof WriteFailure) return error.outcome;
      throw error;
    }
  }

  /**
   * Starts one bulk operation and polls it to completion. A 429 is waited out (Retry-After, else the poll
   * interval) and the request sent again; when the 429 was another writer's pending operation, the list is
   * read first, since that operation may have changed it under our plan. The SDK's retries are off here (it
   * would retry those 429s too), so a 5xx or a request with no answer is retried here as the SDK would: an
   * append of a listed address updates it and a delete of a gone item is ignored, so sending again is safe.
   */
  private async operation(
    write: IpListWrite,
    kind: 'append' | 'delete',
    deadline: number,
    limitMs: number,
    part: Pick<IpListWrite, 'post' | 'delete'>,
    send: () => Promise<{ operation_id: string }>,
  ): Promise<void> {
    const what = `${kind} on IP list ${write.listId}`;
    for (let retries = 0; ;) {
      let operationId: string;
      try {
        operationId = (await send()).operation_id;
      } catch (error) {
        const failure = remoteFailure(error);
        if (failure.status !== 429) {
          const transient = failure.network || (failure.status ?? 0) >= 500;
          const backoff = this.options.pollIntervalMs * 2 ** retries;
          if (transient && retries < (this.options.maxRetries ?? 2) && Date.now() + backoff <= deadline) {
            retries++;
            await sleep(backoff);
            continue;
          }
          throw this.failed(what, write.accountId, error);
        }
        const rateLimited = failure.code === RATE_LIMITED;
        const wait = retryAfterFrom(error) ?? this.options.pollIntervalMs;
        if (Date.now() + wait > deadline) {
          throw new WriteFailure({
            status: 'failed',
            error: rateLimited
              ? `${what}: throttled by Cloudflare for ${Math.ceil(wait / 1000)} s, longer than the ${this.bound(limitMs)} the reconciler waits; the next run retries`
              : `${what}: another bulk operation of account ${write.accountId} was still pending after ${this.bound(limitMs)}; the next run retries`,
          });
        }
        await sleep(wait);
        if (!rateLimited) await this.checkUnchanged(write, part);
        continue;
      }
      return this.poll(what, write.accountId, operationId, deadline, limitMs);
    }
  }

  private async checkUnchanged(
    write: IpListWrite,
    part: Pick<IpListWrite, 'post' | 'delete'>,
  ): Promise<void> {
    let items: ListItem[];
    try {
      items = await this.listItems(write.accountId, write.listId);
    } catch (error) {
      throw this.failed(`re-reading IP list ${write.listId}`, write.accountId, error);
    }
    if (!stillSafe(part, items)) {
      throw new WriteFailure({
        status: 'lost-race',
        error: `IP list ${write.listId} changed while another bulk operation ran: an address to add is now held by another item, or an item to remove lost the mark`,
      });
    }
  }

  private async poll(
    what: string,
    accountId: string,
    operationId: string,
    deadline: number,
    limitMs: number,
  ): Promise<void> {
    for (;;) {
      if (Date.now() + this.options.pollIntervalMs > deadline) {
        throw new WriteFailure({
          status: 'failed',
          error: `${what}: bulk operation ${operationId} did not complete within ${this.bound(limitMs)}; it may still complete, and the next run checks the list again`,
        });
      }
      await sleep(this.options.pollIntervalMs);
      let status: unknown;
      let message: unknown;
      try {
        const result = await this.client.rules.lists.bulkOperations.get(operationId, {
          account_id: accountId,
        });
        status = result.status;
        message = (result as { error?: unknown }).error;
      } catch (error) {
        throw this.failed(`polling bulk operation ${operationId} (${what})`, accountId, error);
      }
      if (status === 'completed') return;
      if (status === 'failed') {
        throw new WriteFailure({
          status: 'failed',
          error: `${what}: bulk operation ${operationId} failed: ${typeof message === 'string' ? message : 'no reason given'}; nothing was changed by it`,
        });
      }
    }
  }

  private failed(what: string, accountId: string, error: unknown): WriteFailure {
    const { message, hint } = failureLine(what, error, WRITE_PERMISSION, accountId);
    return new WriteFailure({ status: 'failed', error: hint ? `${message} — ${hint}` : message });
  }

  private bound(ms: number): string {
    return `${Math.round(ms / 100) / 10} s`;
  }
}
