import { COMMENT_MARK } from '../../plan/marks';

/**
 * A Cloudflare DNS record set at one name, as the DNS targets see it: the records, their ownership mark,
 * and the writes of one zone batch. Pure: no SDK here.
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
  type: 'A' | 'AAAA' | 'CNAME';
  content: string;
  proxied: boolean;
  ttl: number;
  comment: string;
}

/** The operations of one record set; the driver merges those of a zone into one batch. */
export interface DnsWrite {
  zoneId: string;
  deletes: Array<{ id: string }>;
  patches: Array<DnsRecordFields & { id: string }>;
  posts: DnsRecordFields[];
}

export function isMarked(record: DnsRecord): boolean {
  return record.comment.startsWith(COMMENT_MARK);
}

export const recordLabel = (r: { name: string; type: string }) => `${r.name} ${r.type}`;

/** Proxied records always have automatic TTL (1); otherwise the first of the candidates that is set. */
export function ttlFor(proxied: boolean, ...candidates: Array<number | undefined>): number {
  return proxied ? 1 : (candidates.find((t) => t !== undefined) ?? 1);
}

export function isEmptyWrite(write: DnsWrite): boolean {
  return write.deletes.length + write.patches.length + write.posts.length === 0;
}
