import { ConfigError, parseConfig } from '../../lib/config/load';
import { selectorOf } from '../../lib/config/schema';

const APIM = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso';
const ACCOUNT = '01A7362D577A6C3019A474FD6F485823';

const doc = (target: Record<string, unknown>) => ({
  sources: { prod: { resourceId: APIM } },
  targets: [target],
});

function problems(target: Record<string, unknown>): string[] {
  try {
    parseConfig(doc(target));
  } catch (error) {
    return (error as ConfigError).problems;
  }
  return [];
}

describe('cloudflare.ipList and cloudflare.poolOrigins configuration', () => {
  it('takes 32-hex ids (lower-cased), a host header, and their default selectors', () => {
    const [list] = parseConfig(
      doc({
        name: 'l',
        type: 'cloudflare.ipList',
        source: 'prod',
        accountId: ACCOUNT,
        listId: 'b'.repeat(32),
      }),
    ).targets;
    expect(list).toMatchObject({ accountId: ACCOUNT.toLowerCase(), adopt: false });
    expect(selectorOf(list!)).toBe('outbound');

    const [pool] = parseConfig(
      doc({
        name: 'p',
        type: 'cloudflare.poolOrigins',
        source: 'prod',
        accountId: ACCOUNT,
        poolId: 'c'.repeat(32),
        hostHeader: 'API.Contoso.com',
      }),
    ).targets;
    expect(pool).toMatchObject({ hostHeader: 'api.contoso.com' });
    expect(selectorOf(pool!)).toBe('inbound');
  });

  it('lists every problem by path', () => {
    expect(
      problems({ name: 'l', type: 'cloudflare.ipList', source: 'prod', accountId: 'acc', zoneId: 'z' }),
    ).toEqual([
      'targets[0].accountId: must be a 32-character hexadecimal Cloudflare ID',
      'targets[0].listId: required',
      'targets[0].zoneId: unknown key; the keys here are name, source, addresses, regions, adopt, type, accountId, listId',
    ]);
    expect(
      problems({
        name: 'p',
        type: 'cloudflare.poolOrigins',
        source: 'prod',
        accountId: ACCOUNT,
        poolId: 'c'.repeat(32),
        hostHeader: 'https://x',
      }),
    ).toEqual(['targets[0].hostHeader: must be a fully qualified DNS name such as api.contoso.com']);
  });
});
