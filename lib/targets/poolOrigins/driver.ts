import type Cloudflare from 'cloudflare';
import { KeyedLimiter } from '../../net/limits';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { failureLine, readFailure } from '../common/cloudflare';
import { planPoolOrigins, poolResource, type PoolActual, type PoolOrigin, type PoolWrite } from './plan';
import type { PoolOriginsTarget } from './schema';
import type { ApplyItem, ApplyOutcome, TargetDriver } from '../target';

/**
 * `cloudflare.poolOrigins` over the `cloudflare` SDK: one GET to read, and to write a fresh GET then one
 * PATCH with the full origins array. Pools have no etag, so that fresh read is the only way to see another
 * writer: any change to the origins since the plan's read is a lost race (the engine re-plans once).
 */

const READ_PERMISSION = 'Account → Load Balancing: Monitors and Pools → Read';
const WRITE_PERMISSION = 'Account → Load Balancing: Monitors and Pools → Edit';

type OriginParams = Parameters<Cloudflare['loadBalancers']['pools']['edit']>[1]['origins'];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads the pool from the SDK's response at the edge. */
function toPool(value: unknown): PoolActual {
  const p = isObject(value) ? value : {};
  const origins = Array.isArray(p.origins) ? p.origins.filter(isObject).map(toOrigin) : [];
  return {
    name: typeof p.name === 'string' ? p.name : String(p.id ?? ''),
    minimumOrigins: typeof p.minimum_origins === 'number' ? p.minimum_origins : 1,
    origins,
  };
}

function toOrigin(body: Record<string, unknown>): PoolOrigin {
  return {
    name: typeof body.name === 'string' ? body.name : '',
    address: typeof body.address === 'string' ? body.address : '',
    enabled: body.enabled !== false,
    weight: typeof body.weight === 'number' ? body.weight : 1,
    header: body.header === undefined || body.header === null ? '' : JSON.stringify(body.header),
    body,
  };
}

const sameOrigins = (a: readonly PoolOrigin[], b: readonly PoolOrigin[]): boolean =>
  JSON.stringify(a.map((o) => o.body)) === JSON.stringify(b.map((o) => o.body));

export class CloudflarePoolOriginsDriver implements TargetDriver<PoolOriginsTarget, PoolActual, PoolWrite> {
  private readonly pools = new KeyedLimiter(1);

  constructor(private readonly client: Cloudflare) {}

  resource(target: PoolOriginsTarget): string {
    return poolResource(target);
  }

  async read(target: PoolOriginsTarget): Promise<PoolActual> {
    try {
      return await this.get(target.accountId, target.poolId);
    } catch (error) {
      throw readFailure(
        `cannot read load balancer pool ${target.poolId} in account ${target.accountId}`,
        error,
        READ_PERMISSION,
        target.accountId,
        `check poolId and accountId of target ${target.name} (the reconciler fills, never creates, pools)`,
      );
    }
  }

  plan(target: PoolOriginsTarget, actual: PoolActual, context: PlanContext): TargetPlan<PoolWrite> {
    return planPoolOrigins(target, actual, context);
  }

  async apply(items: ApplyItem<PoolOriginsTarget, PoolActual, PoolWrite>[]): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(({ actual, plan }) => {
        const write = plan.write!;
        return this.pools.run(`${write.accountId}/${write.poolId}`, () => this.write(actual, write));
      }),
    );
  }

  private async get(accountId: string, poolId: string): Promise<PoolActual> {
    return toPool(await this.client.loadBalancers.pools.get(poolId, { account_id: accountId }));
  }

  private async write(actual: PoolActual, write: PoolWrite): Promise<ApplyOutcome> {
    const pool = `pool ${actual.name || write.poolId}`;
    const failed = (what: string, error: unknown): ApplyOutcome => {
      const { message, hint } = failureLine(what, error, WRITE_PERMISSION, write.accountId);
      return { status: 'failed', error: hint ? `${message} — ${hint}` : message };
    };
    let fresh: PoolActual;
    try {
      fresh = await this.get(write.accountId, write.poolId);
    } catch (error) {
      return failed(`re-reading ${pool} before writing`, error);
    }
    if (!sameOrigins(actual.origins, fresh.origins)) {
      return { status: 'lost-race', error: `the origins of ${pool} changed since they were read` };
    }
    try {
      await this.client.loadBalancers.pools.edit(write.poolId, {
        account_id: write.accountId,
        // Origins we do not own go back exactly as read; the SDK's OriginParam names only the known fields.
        origins: write.origins as OriginParams,
      });
      return { status: 'applied' };
    } catch (error) {
      return failed(`PATCH of ${pool}`, error);
    }
  }
}
