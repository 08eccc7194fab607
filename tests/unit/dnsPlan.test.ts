import type { DnsRecordsTarget } from '../../lib/targets/dnsRecords/schema';
import { planDnsRecords } from '../../lib/targets/dnsRecords/plan';
import { markedComment } from '../../lib/plan/marks';
import { type DnsRecord } from '../../lib/targets/common/dnsRecordSet';
import { planContext } from '../support/planContext';

const MARK = 'managed-by:apim-ip-reconciler';
const target = (extra: Partial<DnsRecordsTarget> = {}): DnsRecordsTarget => ({
  name: 'api-dns',
  type: 'cloudflare.dnsRecords',
  source: 'prod',
  zoneId: 'z1',
  recordName: 'api.contoso.com',
  adopt: false,
  ...extra,
});

const context = (desired: string[]) => planContext(desired);

let seq = 0;
const record = (type: string, content: string, extra: Partial<DnsRecord> = {}): DnsRecord => ({
  id: `id${++seq}`,
  type,
  name: 'api.contoso.com',
  content,
  proxied: true,
  ttl: 1,
  comment: MARK,
  ...extra,
});

describe('planDnsRecords', () => {
  it('updates a record in place, keeping proxied and ttl, and leaves other types alone', () => {
    const a = record('A', '20.1.1.1');
    const txt = record('TXT', 'v=spf1', { comment: '' });
    const plan = planDnsRecords(target(), { records: [a, txt] }, context(['20.2.2.2']));
    expect(plan.changes).toEqual([
      { action: 'update', subject: 'api.contoso.com A', before: '20.1.1.1', after: '20.2.2.2' },
    ]);
    expect(plan.write).toEqual({
      zoneId: 'z1',
      deletes: [],
      posts: [],
      patches: [
        {
          id: a.id,
          name: 'api.contoso.com',
          type: 'A',
          content: '20.2.2.2',
          proxied: true,
          ttl: 1,
          comment: MARK,
        },
      ],
    });
    expect(plan.removals).toBe(0);
    expect(plan.phase).toBe('dns');
  });

  it('is in sync when the contents already match', () => {
    const plan = planDnsRecords(
      target(),
      { records: [record('A', '20.1.1.1'), record('A', '20.2.2.2')] },
      context(['20.2.2.2', '20.1.1.1']),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.write).toBeUndefined();
  });

  it('creates new records like the ones they join, and deletes surplus ones', () => {
    const join = record('A', '20.1.1.1', { proxied: false, ttl: 300 });
    const grow = planDnsRecords(target(), { records: [join] }, context(['20.1.1.1', '20.3.3.3']));
    expect(grow.write?.posts).toEqual([
      { name: 'api.contoso.com', type: 'A', content: '20.3.3.3', proxied: false, ttl: 300, comment: MARK },
    ]);
    const shrink = planDnsRecords(
      target(),
      { records: [record('A', '20.1.1.1'), record('A', '20.9.9.9'), record('AAAA', '2001:db8::1')] },
      context(['20.1.1.1']),
    );
    expect(shrink.write?.deletes).toHaveLength(2);
    expect(shrink.removals).toBe(2);
  });

  it('when TooManyRemovals holds the removals, keeps the surplus records but still updates and creates', () => {
    const records = [record('A', '20.1.1.1'), record('A', '20.8.8.8'), record('A', '20.9.9.9')];
    const held = planDnsRecords(target(), { records }, planContext(['20.2.2.2'], { holdRemovals: true }));
    // One record moves in place to the new address (an update, not a removal); the other two stay.
    expect(held.removals).toBe(0);
    expect(held.write?.deletes).toEqual([]);
    expect(held.changes).toEqual([
      { action: 'update', subject: 'api.contoso.com A', before: '20.1.1.1', after: '20.2.2.2' },
    ]);
    expect(held.deferred.map((d) => [d.entry, d.heldBy])).toEqual([
      ['api.contoso.com A 20.8.8.8', 'TooManyRemovals'],
      ['api.contoso.com A 20.9.9.9', 'TooManyRemovals'],
    ]);
  });

  it('defaults new record sets to proxied with automatic TTL, unless the config says otherwise', () => {
    expect(planDnsRecords(target(), { records: [] }, context(['20.1.1.1'])).write?.posts[0]).toMatchObject({
      proxied: true,
      ttl: 1,
    });
    expect(
      planDnsRecords(target({ proxied: false, ttl: 120 }), { records: [] }, context(['2001:DB8::5'])).write
        ?.posts[0],
    ).toMatchObject({
      type: 'AAAA',
      content: '2001:db8::5',
      proxied: false,
      ttl: 120,
    });
  });

  it('holds unmarked records as NotOwned unless adopted; adopting writes the mark and keeps the old comment', () => {
    const mine = record('A', '20.1.1.1', { comment: 'made by hand' });
    const held = planDnsRecords(target(), { records: [mine] }, context(['20.1.1.1']));
    expect(held.blocked).toMatchObject({ reason: 'NotOwned' });
    expect(held.blocked?.detail).toContain('A 20.1.1.1');
    const adopted = planDnsRecords(target({ adopt: true }), { records: [mine] }, context(['20.1.1.1']));
    expect(adopted.changes).toEqual([
      {
        action: 'adopt',
        subject: 'api.contoso.com A',
        before: '20.1.1.1',
        after: '20.1.1.1',
        note: 'writes the mark',
      },
    ]);
    expect(adopted.write?.patches[0]?.comment).toBe(`${MARK} made by hand`);
  });

  it('holds a CNAME at the name and a prefix where an address is needed', () => {
    expect(
      planDnsRecords(
        target(),
        { records: [record('CNAME', 'x.azure-api.net', { comment: '' })] },
        context(['20.1.1.1']),
      ).blocked?.reason,
    ).toBe('NotOwned');
    expect(planDnsRecords(target(), { records: [] }, context(['60.0.0.0/31'])).blocked?.reason).toBe(
      'BroadPrefix',
    );
  });

  it('keeps comments within the Free plan limit', () => {
    expect(markedComment('x'.repeat(200))).toHaveLength(100);
    expect(markedComment(`${MARK} already`)).toBe(`${MARK} already`);
  });

  it('replaces an owned or adopted CNAME with A records in one batch, deletes first', () => {
    const cname = record('CNAME', 'contoso.azure-api.net', { proxied: false, ttl: 300 });
    const plan = planDnsRecords(target(), { records: [cname] }, context(['20.1.1.1']));
    expect(plan.write).toEqual({
      zoneId: 'z1',
      deletes: [{ id: cname.id }],
      patches: [],
      posts: [
        { name: 'api.contoso.com', type: 'A', content: '20.1.1.1', proxied: false, ttl: 300, comment: MARK },
      ],
    });
    expect(plan.changes.map((c) => c.action)).toEqual(['delete', 'create']);
    const foreign = record('CNAME', 'elsewhere.example.net', { comment: 'hand made' });
    expect(
      planDnsRecords(target({ adopt: true }), { records: [foreign] }, context(['20.1.1.1'])).write?.deletes,
    ).toEqual([{ id: foreign.id }]);
  });
});
