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

/** What a zone's details tell the driver: its name (record names must be inside it) and its batch limit. */
interface ZoneInfo {
  name: string;
  /** Record changes one batch may hold: Free 200, Pro and above 3,500 (docs/configuration.md). */
  batchLimit: number;
}

/** The smallest batch limit, used when the zone's plan cannot be read. */
const FREE_BATCH_LIMIT = 200;
const PAID_BATCH_LIMIT = 3500;

/** A batch's size as Cloudflare counts it: every delete, patch, put and post. */
const sizeOf = (write: DnsWrite) => write.deletes.length + write.patches.length + write.posts.length;

export class CloudflareDnsDriver implements TargetDriver<DnsTarget, DnsActual, DnsWrite> {
  private readonly planners = new Map<string, RecordSetPlanner<DnsTarget>>();
  /** Zone details, read once per zone for the life of the driver (they change when a zone changes plan). */
  private readonly zones = new Map<string, Promise<ZoneInfo | undefined>>();

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
   * The zone's name and plan, or undefined when they cannot be read: then no name is refused for being outside the
   * zone (Cloudflare answers the batch) and batches keep to the smallest limit, so nothing is held for want of it.
   */
  private zoneInfo(zoneId: string): Promise<ZoneInfo | undefined> {
    let info = this.zones.get(zoneId);
    if (!info) {
      info = this.client.zones.get({ zone_id: zoneId }).then(
        (zone) => ({
          name: String(zone.name).toLowerCase(),
          batchLimit: (zone.plan?.legacy_id ?? 'free') === 'free' ? FREE_BATCH_LIMIT : PAID_BATCH_LIMIT,
        }),
        () => {
          this.zones.delete(zoneId);
          return undefined;
        },
      );
      this.zones.set(zoneId, info);
    }
    return info;
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

  /**
   * A zone's record sets change together: one batch per zone, split where the zone's plan limits a batch (a record
   * set's changes always stay in one batch, so an A → CNAME migration stays atomic). A batch Cloudflare refuses is
   * split and sent again, so one record set the zone refuses never holds the others of its zone.
   */
  async apply(items: ApplyItem<DnsTarget, DnsActual, DnsWrite>[]): Promise<ApplyOutcome[]> {
    const zones = new Map<string, Array<ApplyItem<DnsTarget, DnsActual, DnsWrite>>>();
    for (const item of items) {
      const zoneId = item.plan.write!.zoneId;
      zones.set(zoneId, [...(zones.get(zoneId) ?? []), item]);
    }
    const results = new Map<DnsWrite, ApplyOutcome>();
    await Promise.all(
      [...zones].map(async ([zoneId, group]) => {
        const writes = group.map((item) => item.plan.write!);
        // The zone's details cost a request: read only when a record is to be created (its name must be inside
        // the zone, or Cloudflare appends the zone to it) or the changes outgrow the smallest batch limit.
        const creates = writes.some((w) => w.posts.length > 0);
        const total = writes.reduce((n, w) => n + sizeOf(w), 0);
        const zone = creates || total > FREE_BATCH_LIMIT ? await this.zoneInfo(zoneId) : undefined;
        const sendable: DnsWrite[] = [];
        for (const { target, plan } of group) {
          const outside = outsideZone(target, zone);
          if (outside) results.set(plan.write!, { status: 'failed', error: outside });
          else sendable.push(plan.write!);
        }
        for (const chunk of chunks(sendable, zone?.batchLimit ?? FREE_BATCH_LIMIT)) {
          const outcomes = await this.isolate(zoneId, chunk);
          chunk.forEach((write, i) => results.set(write, outcomes[i]!));
        }
      }),
    );
    return items.map(({ plan }) => results.get(plan.write!)!);
  }

  /** Sends the batch; when Cloudflare refuses it for what it holds, halves it until the refused record set is alone. */
  private async isolate(zoneId: string, writes: DnsWrite[]): Promise<ApplyOutcome[]> {
    const outcome = await this.batch(zoneId, writes);
    if (outcome.status !== 'failed' || !outcome.refused || writes.length === 1)
      return writes.map(() => outcome);
    const half = Math.ceil(writes.length / 2);
    return [
      ...(await this.isolate(zoneId, writes.slice(0, half))),
      ...(await this.isolate(zoneId, writes.slice(half))),
    ];
  }

  private async batch(zoneId: string, writes: DnsWrite[]): Promise<ApplyOutcome & { refused?: boolean }> {
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
      const hint = ttlHint(failure) ?? hintFor(failure, 'Cloudflare');
      // A 400 refuses what the batch holds (a TTL, a content); anything else (403, 429, 5xx, no answer) would
      // refuse any batch, so splitting it would only multiply the requests.
      const refused = failure.status === 400;
      return { status: 'failed', error: hint ? `${message} — ${hint}` : message, refused };
    }
  }
}

/** Record sets in order, as few batches as fit the limit; a record set alone over it still gets a batch of its own. */
export function chunks(writes: DnsWrite[], limit: number): DnsWrite[][] {
  const out: DnsWrite[][] = [];
  let current: DnsWrite[] = [];
  let size = 0;
  for (const write of writes) {
    if (current.length > 0 && size + sizeOf(write) > limit) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(write);
    size += sizeOf(write);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A record name outside its zone (Cloudflare would append the zone to it and create another name): what to say. */
function outsideZone(target: DnsTarget, zone: ZoneInfo | undefined): string | undefined {
  if (!zone || target.recordName === zone.name || target.recordName.endsWith(`.${zone.name}`))
    return undefined;
  return `recordName ${target.recordName} is not inside zone ${zone.name} (${target.zoneId}): Cloudflare would create ${target.recordName}.${zone.name}; nothing was written — fix recordName or zoneId of target ${target.name}`;
}

/** Cloudflare's TTL refusal (1004 with 9021 in its chain) names no record: say which setting to look at. */
function ttlHint(failure: { message: string; code?: string }): string | undefined {
  return /TTL must be between/i.test(failure.message) || failure.code === '9021'
    ? 'a ttl below 60 is accepted on Enterprise zones only: set ttl to 1 (automatic) or 60–86400'
    : undefined;
}
