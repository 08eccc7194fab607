import type { DnsRecordFields, DnsWrite } from '../../lib/targets/common/dnsRecordSet';
import { chunks } from '../../lib/targets/common/dnsZoneDriver';

/** How a zone's record sets are cut into batches within the plan's limit. */

const post = (name: string): DnsRecordFields => ({
  name,
  type: 'A',
  content: '20.1.1.1',
  proxied: true,
  ttl: 1,
  comment: '',
});
/** A record set with `ops` changes: one delete (a CNAME it replaces) and posts. */
const recordSet = (name: string, ops: number): DnsWrite => ({
  zoneId: 'z',
  deletes: [{ id: `${name}-cname` }],
  patches: [],
  posts: Array.from({ length: ops - 1 }, (_, i) => post(`${name}${i}`)),
});
const sizes = (batches: DnsWrite[][]) =>
  batches.map((b) => b.reduce((n, w) => n + w.deletes.length + w.patches.length + w.posts.length, 0));

test('fills each batch up to the limit, in order, never splitting a record set', () => {
  const writes = [recordSet('a', 3), recordSet('b', 3), recordSet('c', 3), recordSet('d', 2)];
  const batches = chunks(writes, 7);
  expect(sizes(batches)).toEqual([6, 5]);
  // Each record set (a CNAME's delete and the posts replacing it) is one item of one batch, in the order given.
  expect(batches).toEqual([
    [writes[0], writes[1]],
    [writes[2], writes[3]],
  ]);
});

test('gives a record set larger than the limit a batch of its own rather than cutting it', () => {
  expect(sizes(chunks([recordSet('a', 2), recordSet('big', 9), recordSet('c', 2)], 5))).toEqual([2, 9, 2]);
});
