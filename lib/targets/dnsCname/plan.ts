import { COMMENT_MARK, markedComment } from '../../plan/marks';
import type { PlanContext, PlannedChange, TargetPlan } from '../../plan/types';
import {
  isEmptyWrite,
  isMarked,
  recordLabel,
  ttlFor,
  type DnsActual,
  type DnsRecordFields,
  type DnsWrite,
} from '../common/dnsRecordSet';
import type { DnsCnameTarget } from './schema';

/**
 * `cloudflare.dnsCname`: one CNAME at `recordName` → the APIM gateway host (from `gatewayUrl`, or `target`),
 * the permanent fix: the name then follows APIM wherever its IP goes. Owned or adopted A/AAAA records at the
 * name are replaced in one batch (deletes run before posts, atomically).
 */

const host = (name: string) => name.trim().toLowerCase().replace(/\.$/, '');

export function planDnsCname(
  target: DnsCnameTarget,
  actual: DnsActual,
  context: PlanContext,
): TargetPlan<DnsWrite> {
  const nextState = { resource: target.recordName, owned: [], departed: {} };
  const base = { changes: [], additions: [], removals: 0, deferred: [], nextState, phase: 'dns' as const };
  const wanted = target.target ?? context.observation.gatewayHost;
  if (!wanted) {
    return {
      ...base,
      blocked: {
        reason: 'EmptySource',
        detail: `${context.observation.serviceName} publishes no gatewayUrl; set "target" on target ${target.name} to the host the CNAME should point at`,
      },
    };
  }
  const cname = actual.records.find((r) => r.type === 'CNAME');
  const addressRecords = actual.records.filter((r) => r.type === 'A' || r.type === 'AAAA');
  const foreign = [cname, ...addressRecords].filter((r) => r && !isMarked(r));
  if (foreign.length > 0 && !target.adopt) {
    const list = foreign.map((r) => `${r!.type} ${r!.content}`).join(', ');
    return {
      ...base,
      blocked: {
        reason: 'NotOwned',
        detail: `${target.recordName} has ${list} without the comment mark "${COMMENT_MARK}"; set "adopt": true on target ${target.name} to take the name over, or delete those records`,
      },
    };
  }

  const joined = cname ?? addressRecords[0];
  const proxied = target.proxied ?? joined?.proxied ?? true;
  const fields: DnsRecordFields = {
    name: target.recordName,
    type: 'CNAME',
    content: wanted,
    proxied,
    ttl: ttlFor(proxied, target.ttl, joined?.ttl),
    comment: markedComment(cname?.comment ?? ''),
  };
  const write: DnsWrite = { zoneId: target.zoneId, deletes: [], patches: [], posts: [] };
  const changes: PlannedChange[] = [];

  for (const record of addressRecords) {
    write.deletes.push({ id: record.id });
    changes.push({ action: 'delete', subject: recordLabel(record), before: record.content, after: '' });
  }
  if (!cname) {
    write.posts.push(fields);
    changes.push({ action: 'create', subject: recordLabel(fields), before: '', after: wanted });
  } else if (
    host(cname.content) !== host(wanted) ||
    cname.proxied !== fields.proxied ||
    cname.ttl !== fields.ttl ||
    cname.comment !== fields.comment
  ) {
    write.patches.push({ id: cname.id, ...fields });
    const adopting = !isMarked(cname) && host(cname.content) === host(wanted);
    changes.push(
      adopting
        ? {
            action: 'adopt',
            subject: recordLabel(cname),
            before: cname.content,
            after: wanted,
            note: 'writes the mark',
          }
        : { action: 'update', subject: recordLabel(cname), before: cname.content, after: wanted },
    );
  }

  return { ...base, changes, removals: write.deletes.length, write: isEmptyWrite(write) ? undefined : write };
}
