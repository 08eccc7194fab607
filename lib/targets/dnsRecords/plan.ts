import { COMMENT_MARK, markedComment } from '../../plan/marks';
import type { Deferred, PlanContext, PlannedChange, TargetPlan } from '../../plan/types';
import { displayText, isHost, parsePrefix, type Prefix } from '../../net/addresses';
import {
  isEmptyWrite,
  isMarked,
  recordLabel,
  ttlFor,
  type DnsActual,
  type DnsRecord,
  type DnsRecordFields,
  type DnsWrite,
} from '../common/dnsRecordSet';
import type { DnsRecordsTarget } from './schema';

/**
 * `cloudflare.dnsRecords`: the A/AAAA records at one name equal the selected IPs (round robin when several).
 * Records are updated in place before any delete or create. An owned (or adopted) CNAME at the name is
 * replaced by the A records in the same batch: deletes run first, so the name never has both.
 */

function sameAddress(content: string, prefix: Prefix): boolean {
  return parsePrefix(content)?.key === prefix.key;
}

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
  if (cname && !isMarked(cname) && !target.adopt) {
    return {
      ...base,
      blocked: {
        reason: 'NotOwned',
        detail: `a CNAME record sits at ${target.recordName} (→ ${cname.content}) where A records are wanted; set "adopt": true on target ${target.name} to replace it, delete it, or use a cloudflare.dnsCname target`,
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

  const write: DnsWrite = { zoneId: target.zoneId, deletes: [], patches: [], posts: [] };
  const changes: PlannedChange[] = [];
  const deferred: Deferred[] = [];
  if (cname) {
    write.deletes.push({ id: cname.id });
    changes.push({ action: 'delete', subject: recordLabel(cname), before: cname.content, after: '' });
  }

  // New records join the set: same proxied/ttl as the records already there (never a mixed set).
  const joined = addressRecords[0] ?? cname;
  const proxied = target.proxied ?? joined?.proxied ?? true;
  const settled = (record: DnsRecord, content: string): DnsRecordFields => {
    const p = target.proxied ?? record.proxied;
    return {
      name: record.name,
      type: record.type as 'A' | 'AAAA',
      content,
      proxied: p,
      ttl: ttlFor(p, target.ttl, record.ttl),
      comment: markedComment(record.comment),
    };
  };

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
      changes.push(
        isMarked(record)
          ? {
              action: 'update',
              subject: recordLabel(record),
              before: settings(record),
              after: settings(fields),
            }
          : {
              action: 'adopt',
              subject: recordLabel(record),
              before: record.content,
              after: record.content,
              note: 'writes the mark',
            },
      );
    }
    surplus.forEach((record, i) => {
      const next = missing[i];
      if (next) {
        const fields = settled(record, displayText(next));
        write.patches.push({ id: record.id, ...fields });
        changes.push({
          action: 'update',
          subject: recordLabel(record),
          before: record.content,
          after: fields.content,
        });
      } else if (context.holdRemovals) {
        // TooManyRemovals held the deletes: the record stays, every update and creation still goes out.
        deferred.push({
          entry: `${recordLabel(record)} ${record.content}`,
          retiresAt: context.now.toISOString(),
          heldBy: context.holdRemovals === 'UnreadableTarget' ? 'UnreadableTarget' : 'TooManyRemovals',
        });
      } else {
        write.deletes.push({ id: record.id });
        changes.push({ action: 'delete', subject: recordLabel(record), before: record.content, after: '' });
      }
    });
    for (const p of missing.slice(surplus.length)) {
      const fields: DnsRecordFields = {
        name: target.recordName,
        type,
        content: displayText(p),
        proxied,
        ttl: ttlFor(proxied, target.ttl, joined?.ttl),
        comment: COMMENT_MARK,
      };
      write.posts.push(fields);
      changes.push({ action: 'create', subject: recordLabel(fields), before: '', after: fields.content });
    }
  }

  return {
    ...base,
    changes,
    additions: context.desired,
    removals: write.deletes.length,
    deferred,
    write: isEmptyWrite(write) ? undefined : write,
  };
}

function differs(record: DnsRecord, fields: DnsRecordFields): boolean {
  return record.proxied !== fields.proxied || record.ttl !== fields.ttl || record.comment !== fields.comment;
}

function settings(r: { proxied: boolean; ttl: number }): string {
  return `${r.proxied ? 'proxied' : 'unproxied'} ttl=${r.ttl === 1 ? 'auto' : r.ttl}`;
}
