import type Cloudflare from 'cloudflare';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { describeFailure, hintFor, remoteFailure } from '../../remote';
import type { DnsActual, DnsRecord, DnsWrite } from './dnsRecordSet';
import { TargetError, type ApplyItem, type ApplyOutcome, type TargetDriver } from '../target';

/**
 * The driver every Cloudflare DNS target type shares, over the `cloudflare` SDK: one list per record set (or per
 * zone, when several record sets share it), and one batch per zone per run however many record sets of whichever
 * types share it. Each type registers its own planner (lib/targets/dnsRecords, lib/targets/dnsCname).
 */

/** What every DNS target has: a record set at one name of one zone. */
export interface DnsTarget {
  name: string;
  type: string;
  zoneId: string;
  recordName: string;
}

export interface RecordSetPlanner<T extends DnsTarget> {
  plan(target: T, actual: DnsActual, context: PlanContext): TargetPlan<DnsWrite>;
  /** False for a type that follows something other than the source's addresses (a CNAME follows the host). */
  needsAddresses: boolean;
}

const PER_PAGE = 100;
/** Records per request when a whole zone is listed. */
const ZONE_PAGE = 5000;

function listError(error: unknown, what: string): TargetError {
  if (error instanceof TargetError) return error;
  const failure = remoteFailure(error);
  const hint = hintFor(failure, 'Cloudflare');
  return new TargetError(`cannot ${what}: ${describeFailure(failure)}`, hint || undefined);
}

/** Batch errors that mean another writer changed the zone between our read and our write. */
const RACE_CODES = new Set(['81044', '81057', '81058']);

/** Reads one record from the SDK's response union at the edge. */
function toRecord(value: unknown): DnsRecord {
  const r = value as Record<string, unknown>;
  return {
    id: String(r.id),
    type: String(r.type),
    name: String(r.name).toLowerCase(),
    content: String(r.content ?? ''),
    proxied: r.proxied === true,
    ttl: typeof r.ttl === 'number' ? r.ttl : 1,
    comment: typeof r.comment === 'string' ? r.comment : '',
  };
}

export class CloudflareDnsDriver implements TargetDriver<DnsTarget, DnsActual, DnsWrite> {
  private readonly planners = new Map<string, RecordSetPlanner<DnsTarget>>();

  constructor(private readonly client: Cloudflare) {}

  /** Serves one more DNS target type with its planner; the same driver, so its record sets share the batches. */
  serve<T extends DnsTarget>(
    type: T['type'],
    planner: RecordSetPlanner<T>,
  ): TargetDriver<T, DnsActual, DnsWrite> {
    this.planners.set(type, planner as unknown as RecordSetPlanner<DnsTarget>);
    return this;
  }

  private plannerOf(target: DnsTarget): RecordSetPlanner<DnsTarget> {
    const planner = this.planners.get(target.type);
    if (!planner) throw new Error(`the DNS driver does not serve ${target.type}`);
    return planner;
  }

  resource(target: DnsTarget): string {
    return target.recordName;
  }

  needsAddresses(target: DnsTarget): boolean {
    return this.plannerOf(target).needsAddresses;
  }

  async read(target: DnsTarget): Promise<DnsActual> {
    const records = await this.list(target.zoneId, target.recordName, PER_PAGE).catch((error: unknown) => {
      throw listError(error, `list DNS records ${target.recordName} in zone ${target.zoneId}`);
    });
    return { records: records.filter((r) => r.name === target.recordName) };
  }

  /**
   * The fewest list requests: one per record set when a zone has one target, else the whole zone at once
   * (up to ZONE_PAGE records a request) shared by all its record sets.
   */
  async readMany(targets: DnsTarget[]): Promise<Array<DnsActual | Error>> {
    const zones = new Map<string, DnsTarget[]>();
    for (const t of targets) zones.set(t.zoneId, [...(zones.get(t.zoneId) ?? []), t]);
    const results = new Map<DnsTarget, DnsActual | Error>();
    await Promise.all(
      [...zones].map(async ([zoneId, group]) => {
        if (group.length === 1) {
          const [only] = group as [DnsTarget];
          results.set(only, await this.read(only).catch((error: Error) => error));
          return;
        }
        try {
          const records = await this.list(zoneId, undefined, ZONE_PAGE);
          for (const t of group) results.set(t, { records: records.filter((r) => r.name === t.recordName) });
        } catch (error) {
          const failure = listError(error, `list the DNS records of zone ${zoneId}`);
          for (const t of group) results.set(t, failure);
        }
      }),
    );
    return targets.map((t) => results.get(t)!);
  }

  /** Pages through a listing, stopping on a short page rather than asking for the empty page past the end. */
  private async list(zoneId: string, name: string | undefined, perPage: number): Promise<DnsRecord[]> {
    const records: DnsRecord[] = [];
    let page = await this.client.dns.records.list({
      zone_id: zoneId,
      ...(name ? { name: { exact: name } } : {}),
      per_page: perPage,
    });
    records.push(...page.result.map(toRecord));
    while (page.result.length === perPage && page.hasNextPage()) {
      page = await page.getNextPage();
      records.push(...page.result.map(toRecord));
    }
    return records;
  }

  plan(target: DnsTarget, actual: DnsActual, context: PlanContext): TargetPlan<DnsWrite> {
    return this.plannerOf(target).plan(target, actual, context);
  }

  /** Every record set of a zone changes in one transaction: one batch per zone. */
  async apply(items: ApplyItem<DnsTarget, DnsActual, DnsWrite>[]): Promise<ApplyOutcome[]> {
    const zones = new Map<string, DnsWrite[]>();
    for (const { plan } of items) {
      const write = plan.write!;
      zones.set(write.zoneId, [...(zones.get(write.zoneId) ?? []), write]);
    }
    const results = new Map<string, ApplyOutcome>();
    await Promise.all(
      [...zones].map(async ([zoneId, writes]) => {
        results.set(zoneId, await this.batch(zoneId, writes));
      }),
    );
    return items.map(({ plan }) => results.get(plan.write!.zoneId)!);
  }

  private async batch(zoneId: string, writes: DnsWrite[]): Promise<ApplyOutcome> {
    try {
      const result = await this.client.dns.records.batch({
        zone_id: zoneId,
        deletes: writes.flatMap((w) => w.deletes),
        patches: writes.flatMap((w) => w.patches),
        posts: writes.flatMap((w) => w.posts),
      });
      // Cloudflare appends the zone to a name outside it (api.other.net → api.other.net.contoso.com).
      const wanted = new Set(writes.flatMap((w) => w.posts.map((p) => p.name)));
      const strays = (result.posts ?? []).map(toRecord).filter((r) => !wanted.has(r.name));
      if (strays.length > 0) {
        return {
          status: 'failed',
          error: `Cloudflare created ${strays.map((r) => r.name).join(', ')}: the recordName is not inside zone ${zoneId}; delete those records and fix recordName`,
        };
      }
      return { status: 'applied' };
    } catch (error) {
      const failure = remoteFailure(error);
      const message = `batch for zone ${zoneId}: ${describeFailure(failure)}`;
      if (failure.code && RACE_CODES.has(failure.code)) return { status: 'lost-race', error: message };
      const hint = hintFor(failure, 'Cloudflare');
      return { status: 'failed', error: hint ? `${message} — ${hint}` : message };
    }
  }
}
