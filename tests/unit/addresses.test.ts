import {
  classify,
  displayText,
  entryKey,
  isBroaderThan,
  parseAll,
  parsePrefix,
} from '../../lib/net/addresses';

describe('parsePrefix', () => {
  it('treats a bare address as a host prefix', () => {
    expect(parsePrefix('20.1.2.3')).toEqual({
      family: 'ipv4',
      address: '20.1.2.3',
      length: 32,
      key: '20.1.2.3/32',
    });
    expect(parsePrefix('20.1.2.3/32')?.key).toBe('20.1.2.3/32');
  });

  it('compresses and lower-cases IPv6', () => {
    expect(parsePrefix('2001:0DB8:0000:0000:0000:0000:0000:0001')?.key).toBe('2001:db8::1/128');
    expect(parsePrefix('2603:1030:0:0::/64')?.key).toBe('2603:1030::/64');
  });

  it('normalizes a prefix to its network address', () => {
    expect(parsePrefix('60.0.0.1/31')?.key).toBe('60.0.0.0/31');
  });

  it.each([
    '',
    'garbage',
    '1.2.3',
    '1.2.3.4.5',
    '01.2.3.4',
    '0x14.1.1.1',
    '1.2.3.4/33',
    '::1/129',
    '1.2.3.4/',
    '1.2.3.4/a',
    '*',
    'Internet',
  ])('refuses %p', (text) => {
    expect(parsePrefix(text)).toBeUndefined();
  });

  it('gives non-address entries a key of their own', () => {
    expect(entryKey('Internet')).toBe('tag:internet');
    expect(entryKey('20.1.1.1')).toBe(entryKey('20.1.1.1/32'));
  });
});

describe('classify', () => {
  it.each([
    ['20.1.1.1', 'public'],
    ['203.0.113.7', 'public'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['169.254.0.5', 'link-local'],
    ['100.64.1.1', 'cgnat'],
    ['224.0.0.5', 'multicast'],
    ['0.0.0.0/0', 'unspecified'],
    ['240.0.0.1', 'reserved'],
    ['2603:1030::5', 'public'],
    ['fd00::1', 'private'],
    ['fe80::1', 'link-local'],
    ['::1', 'loopback'],
    ['ff02::1', 'multicast'],
    ['::ffff:20.1.1.1', 'ipv4-mapped'],
  ])('%s is %s', (text, expected) => {
    expect(classify(parsePrefix(text)!)).toBe(expected);
  });
});

describe('helpers', () => {
  it('judges breadth against the minimum prefix length of the family', () => {
    const min = { ipv4: 28, ipv6: 124 };
    expect(isBroaderThan(parsePrefix('60.0.0.0/31')!, min)).toBe(false);
    expect(isBroaderThan(parsePrefix('60.0.0.0/27')!, min)).toBe(true);
    expect(isBroaderThan(parsePrefix('2001:db8::/64')!, min)).toBe(true);
  });

  it('shows hosts bare and prefixes with their length', () => {
    expect(displayText(parsePrefix('20.1.1.1/32')!)).toBe('20.1.1.1');
    expect(displayText(parsePrefix('60.0.0.0/31')!)).toBe('60.0.0.0/31');
  });

  it('de-duplicates formatting variants and reports garbage', () => {
    const { prefixes, invalid } = parseAll(['20.1.1.1', '20.1.1.1/32', 'nope', '2001:DB8::1']);
    expect(prefixes.map((p) => p.key)).toEqual(['20.1.1.1/32', '2001:db8::1/128']);
    expect(invalid).toEqual(['nope']);
  });
});
