import type { DnsCnameTarget } from '../../lib/targets/dnsCname/schema';
import { planDnsCname } from '../../lib/targets/dnsCname/plan';
import type { DnsRecord } from '../../lib/targets/common/dnsRecordSet';
import { observation, planContext } from '../support/planContext';

const MARK = 'managed-by:apim-ip-reconciler';
const target = (extra: Partial<DnsCnameTarget> = {}): DnsCnameTarget => ({
  name: 'api-cname',
  type: 'cloudflare.dnsCname',
  source: 'prod',
  zoneId: 'z1',
  recordName: 'api.contoso.com',
  adopt: false,
  ...extra,
});
const context = (gatewayHost?: string) => planContext([], { observation: observation({ gatewayHost }) });
let seq = 0;
const record = (type: string, content: string, extra: Partial<DnsRecord> = {}): DnsRecord => ({
  id: `r${++seq}`,
  type,
  name: 'api.contoso.com',
  content,
  proxied: true,
  ttl: 1,
  comment: MARK,
  ...extra,
});

describe('planDnsCname', () => {
  it('creates the CNAME to the gateway host, even for a tier without IPs', () => {
    const plan = planDnsCname(target(), { records: [] }, context('contoso.azure-api.net'));
    expect(plan.write?.posts).toEqual([
      {
        name: 'api.contoso.com',
        type: 'CNAME',
        content: 'contoso.azure-api.net',
        proxied: true,
        ttl: 1,
        comment: MARK,
      },
    ]);
    expect(plan.additions).toEqual([]);
  });

  it('migrates an owned A set to the CNAME in one batch (deletes run before the post)', () => {
    const a1 = record('A', '20.1.1.1', { proxied: false, ttl: 300 });
    const a2 = record('A', '20.1.1.2', { proxied: false, ttl: 300 });
    const plan = planDnsCname(
      target(),
      { records: [a1, a2, record('TXT', 'x', { comment: '' })] },
      context('contoso.azure-api.net'),
    );
    expect(plan.write).toMatchObject({
      deletes: [{ id: a1.id }, { id: a2.id }],
      posts: [{ type: 'CNAME', content: 'contoso.azure-api.net', proxied: false, ttl: 300 }],
      patches: [],
    });
    expect(plan.removals).toBe(2);
  });

  it('is in sync when the CNAME already points at the host (case and trailing dot aside)', () => {
    expect(
      planDnsCname(
        target(),
        { records: [record('CNAME', 'Contoso.Azure-API.net.')] },
        context('contoso.azure-api.net'),
      ).write,
    ).toBeUndefined();
  });

  it('follows a moved gateway host, and honours a configured target', () => {
    const cname = record('CNAME', 'old.azure-api.net');
    expect(planDnsCname(target(), { records: [cname] }, context('contoso.azure-api.net')).changes).toEqual([
      {
        action: 'update',
        subject: 'api.contoso.com CNAME',
        before: 'old.azure-api.net',
        after: 'contoso.azure-api.net',
      },
    ]);
    expect(
      planDnsCname(target({ target: 'edge.contoso.net' }), { records: [] }, context('contoso.azure-api.net'))
        .write?.posts[0]?.content,
    ).toBe('edge.contoso.net');
  });

  it('holds records without the mark unless adopted', () => {
    const hand = record('A', '20.1.1.1', { comment: '' });
    expect(
      planDnsCname(target(), { records: [hand] }, context('contoso.azure-api.net')).blocked?.reason,
    ).toBe('NotOwned');
    const foreignCname = record('CNAME', 'contoso.azure-api.net', { comment: 'by hand' });
    expect(
      planDnsCname(target(), { records: [foreignCname] }, context('contoso.azure-api.net')).blocked?.reason,
    ).toBe('NotOwned');
    const adopted = planDnsCname(
      target({ adopt: true }),
      { records: [foreignCname] },
      context('contoso.azure-api.net'),
    );
    expect(adopted.changes).toEqual([
      {
        action: 'adopt',
        subject: 'api.contoso.com CNAME',
        before: 'contoso.azure-api.net',
        after: 'contoso.azure-api.net',
        note: 'writes the mark',
      },
    ]);
    expect(adopted.write?.patches[0]?.comment).toBe(`${MARK} by hand`);
  });

  it('holds as EmptySource when there is no gateway host and no target', () => {
    expect(planDnsCname(target(), { records: [] }, context(undefined)).blocked?.reason).toBe('EmptySource');
  });
});
