import type Cloudflare from 'cloudflare';
import type { DnsRecordsTarget } from '../config/schema';
import { displayText, isHost, parsePrefix, type Prefix } from '../net/addresses';
import { describeFailure, hintFor, remoteFailure } from '../remote';
import {
  COMMENT_MARK,
  TargetError,
  type ApplyItem,
  type ApplyOutcome,
  type PlanContext,
  type PlannedChange,
  type TargetDriver,
  type TargetPlan,
} from './target';

/**
 * `cloudflare.dnsRecords`: the A/AAAA records at one name equal the selected IPs (round robin when several).
 * Records are updated in place before any delete or create, and every change of a zone goes in one batch.
 */

export interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  proxied: boolean;
  ttl: number;
  comment: string;
}

export interface DnsActual {
  /** Every record at the name, of any type. */
  records: DnsRecord[];
}

export interface DnsRecordFields {
  name: string;
  type: 'A' | 'AAAA';
  content: string;
  proxied: boolean;
  ttl: number;
  comment: string;
}

export interface DnsWrite {
  zoneId: string;
  deletes: Array<{ id: string }>;
  patches: Array<DnsRecordFields & { id: string }>;
  posts: DnsRecordFields[];
}

/** Free zones allow 100 characters of comment. */
const COMMENT_LIMIT = 100;
const PER_PAGE = 100;

export function isMarked(record: DnsRecord): boolean {
  return record.comment.startsWith(COMMENT_MARK);
}

/** The mark, followed by what the comment said before (shortened to fit). */
export function markedComment(comment: string): string {
  if (comment.startsWith(COMMENT_MARK)) return comment;
  const rest = comment.trim();
  return rest ? `${COMMENT_MARK} ${rest}`.slice(0, COMMENT_LIMIT) : COMMENT_MARK;
}

function sameAddress(content: string, prefix: Prefix): boolean {
  return parsePrefix(content)?.key === prefix.key;
}

const label = (r: { name: string; type: string }) => `${r.name} ${r.type}`;

/** The pure plan of a DNS record set. */
export function planDnsRecords(
  target: DnsRecordsTarget,
  actual: DnsActual,
  context: PlanContext,
): TargetPlan<DnsWrite> {
  const nextState = { resource: target.recordName, owned: [], departed: {} };
  const base = { changes: [], additions: [], removals: 0, deferred: [], nextState, phase: 'dns' as const };
  const prefixes = context.desired.filter((p) => !isHost(p));
  if (prefixes.length > 0) {
    return {
      ...base,
      blocked: {
        reason: 'BroadPrefix',
        detail: `DNS records hold single addresses but the source gives ${prefixes.map((p) => p.key).join(', ')}; select "inbound" addresses for target ${target.name}`,
      },
    };
  }
  const cname = actual.records.find((r) => r.type === 'CNAME');
  if (cname) {
    return {
      ...base,
      blocked: {
        reason: 'NotOwned',
        detail: `a CNAME record sits at ${target.recordName} (→ ${cname.content}) where A records are wanted; delete it, or use a cloudflare.dnsCname target`,
      },
    };
  }
  const addressRecords = actual.records.filter((r) => r.type === 'A' || r.type === 'AAAA');
  const unmarked = addressRecords.filter((r) => !isMarked(r));
  if (unmarked.length > 0 && !target.adopt) {
    const list = unmarked.map((r) => `${r.type} ${r.content}`).join(', ');
    return {
      ...base,
      blocked: {
        reason: 'NotOwned',
        detail: `${target.recordName} has ${list} without the comment mark "${COMMENT_MARK}"; set "adopt": true on target ${target.name} to take the record set over, or delete those records`,
      },
    };
  }

  // New records join the set: same proxied/ttl as the records already there (never a mixed set).
  const joined = addressRecords[0];
  const proxied = target.proxied ?? joined?.proxied ?? true;
  const ttlFor = (p: boolean, current?: number) => (p ? 1 : (target.ttl ?? current ?? joined?.ttl ?? 1));

  const write: DnsWrite = { zoneId: target.zoneId, deletes: [], patches: [], posts: [] };
  const changes: PlannedChange[] = [];
  for (const [type, family] of [
    ['A', 'ipv4'],
    ['AAAA', 'ipv6'],
  ] as const) {
    const want = context.desired.filter((p) => p.family === family);
    const have = addressRecords.filter((r) => r.type === type);
    const kept = new Map<DnsRecord, Prefix>();
    const missing: Prefix[] = [];
    for (const p of want) {
      const match = have.find((r) => !kept.has(r) && sameAddress(r.content, p));
      if (match) kept.set(match, p);
      else missing.push(p);
    }
    const surplus = have.filter((r) => !kept.has(r));

    for (const [record] of kept) {
      const fields = settled(record, record.content);
      if (!differs(record, fields)) continue;
      write.patches.push({ id: record.id, ...fields });
      if (!isMarked(record)) {
        changes.push({
          action: 'adopt',
          subject: label(record),
          before: record.content,
          after: record.content,
          note: 'writes the mark',
        });
      } else {
        changes.push({
          action: 'update',
          subject: label(record),
          before: settings(record),
          after: settings(fields),
        });
      }
    }
    surplus.forEach((record, i) => {
      const next = missing[i];
      if (next) {
        const fields = settled(record, displayText(next));
        write.patches.push({ id: record.id, ...fields });
        changes.push({
          action: 'update',
          subject: label(record),
          before: record.content,
          after: fields.content,
        });
      } else {
        write.deletes.push({ id: record.id });
        changes.push({ action: 'delete', subject: label(record), before: record.content, after: '' });
      }
    });
    for (const p of missing.slice(surplus.length)) {
      const fields: DnsRecordFields = {
        name: target.recordName,
        type,
        content: displayText(p),
        proxied,
        ttl: ttlFor(proxied),
        comment: COMMENT_MARK,
      };
      write.posts.push(fields);
      changes.push({ action: 'create', subject: label(fields), before: '', after: fields.content });
    }
  }

  function settled(record: DnsRecord, content: string): DnsRecordFields {
    const p = target.proxied ?? record.proxied;
    return {
      name: record.name,
      type: record.type as 'A' | 'AAAA',
      content,
      proxied: p,
      ttl: ttlFor(p, record.ttl),
      comment: markedComment(record.comment),
    };
  }

  const empty = write.deletes.length + write.patches.length + write.posts.length === 0;
  return {
    ...base,
    changes,
    additions: context.desired,
    removals: write.deletes.length,
    write: empty ? undefined : write,
  };
}

function differs(record: DnsRecord, fields: DnsRecordFields): boolean {
  return record.proxied !== fields.proxied || record.ttl !== fields.ttl || record.comment !== fields.comment;
}

function settings(r: { proxied: boolean; ttl: number }): string {
  return `${r.proxied ? 'proxied' : 'unproxied'} ttl=${r.ttl === 1 ? 'auto' : r.ttl}`;
}

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

function cloudflareError(error: unknown, what: string): TargetError {
  const failure = remoteFailure(error);
  const hint = hintFor(failure, 'Cloudflare');
  return new TargetError(`cannot ${what}: ${describeFailure(failure)}`, hint || undefined);
}

/** Batch errors that mean another writer changed the zone between our read and our write. */
const RACE_CODES = new Set(['81044', '81057', '81058']);

export class DnsRecordsDriver implements TargetDriver<DnsRecordsTarget, DnsActual, DnsWrite> {
  readonly type = 'cloudflare.dnsRecords' as const;

  constructor(private readonly client: Cloudflare) {}

  resource(target: DnsRecordsTarget): string {
    return target.recordName;
  }

  async read(target: DnsRecordsTarget): Promise<DnsActual> {
    try {
      const records: DnsRecord[] = [];
      let page = await this.client.dns.records.list({
        zone_id: target.zoneId,
        name: { exact: target.recordName },
        per_page: PER_PAGE,
      });
      records.push(...page.result.map(toRecord));
      // Stop on a short page rather than asking for the empty page past the end.
      while (page.result.length === PER_PAGE && page.hasNextPage()) {
        page = await page.getNextPage();
        records.push(...page.result.map(toRecord));
      }
      return { records: records.filter((r) => r.name === target.recordName) };
    } catch (error) {
      throw cloudflareError(error, `list DNS records ${target.recordName} in zone ${target.zoneId}`);
    }
  }

  plan(target: DnsRecordsTarget, actual: DnsActual, context: PlanContext): TargetPlan<DnsWrite> {
    return planDnsRecords(target, actual, context);
  }

  /** One batch per zone: every record set of the zone changes in one transaction. */
  async apply(items: ApplyItem<DnsRecordsTarget, DnsActual, DnsWrite>[]): Promise<ApplyOutcome[]> {
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
      await this.client.dns.records.batch({
        zone_id: zoneId,
        deletes: writes.flatMap((w) => w.deletes),
        patches: writes.flatMap((w) => w.patches),
        posts: writes.flatMap((w) => w.posts),
      });
      return { status: 'applied' };
    } catch (error) {
      const failure = remoteFailure(error);
      const message = `batch for zone ${zoneId}: ${describeFailure(failure)}`;
      if (failure.code && RACE_CODES.has(failure.code)) return { status: 'lost-race', error: message };
      const hint = hintFor(failure, 'Cloudflare');
      return { status: 'failed', error: hint ? `${message} (${hint})` : message };
    }
  }
}
