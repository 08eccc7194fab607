import ipaddr from 'ipaddr.js';

/**
 * IP addresses and prefixes as the reconciler compares them: parsed strictly, normalized
 * (`20.1.2.3` = `20.1.2.3/32`, IPv6 compressed and lower-case), and classified.
 */

export type Family = 'ipv4' | 'ipv6';

export interface Prefix {
  family: Family;
  /** The network address in canonical text. */
  address: string;
  length: number;
  /** Canonical `address/length`, the identity used for comparing. */
  key: string;
}

export type AddressClass =
  | 'public'
  | 'private'
  | 'loopback'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'ipv4-mapped';

const IPV4_CLASSES: Record<string, AddressClass> = {
  unicast: 'public',
  private: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  carrierGradeNat: 'cgnat',
  multicast: 'multicast',
  unspecified: 'unspecified',
  broadcast: 'reserved',
};

const IPV6_CLASSES: Record<string, AddressClass> = {
  uniqueLocal: 'private',
  loopback: 'loopback',
  linkLocal: 'link-local',
  multicast: 'multicast',
  unspecified: 'unspecified',
  ipv4Mapped: 'ipv4-mapped',
};

const FULL_LENGTH: Record<Family, number> = { ipv4: 32, ipv6: 128 };

function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (text.includes(':') && ipaddr.IPv6.isValid(text)) return ipaddr.IPv6.parse(text);
  return undefined;
}

function canonical(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  return address.kind() === 'ipv6' ? (address as ipaddr.IPv6).toRFC5952String() : address.toString();
}

/** Parses `1.2.3.4`, `1.2.3.0/24`, `2001:DB8::1` or `2001:db8::/64`; undefined for anything else. */
export function parsePrefix(input: string): Prefix | undefined {
  const text = input.trim();
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const address = parseAddress(addressText);
  if (!address) return undefined;
  const family: Family = address.kind();
  let length = FULL_LENGTH[family];
  if (slash !== -1) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return undefined;
    length = Number(lengthText);
    if (length > FULL_LENGTH[family]) return undefined;
  }
  const network =
    family === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${address.toString()}/${length}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${address.toString()}/${length}`);
  const networkText = canonical(network);
  return { family, address: networkText, length, key: `${networkText}/${length}` };
}

/** The prefix length of an IPv4 subnet mask (`255.255.255.0` → 24); undefined for anything else. */
export function maskLength(mask: string): number | undefined {
  if (!ipaddr.IPv4.isValidFourPartDecimal(mask.trim())) return undefined;
  const length = ipaddr.IPv4.parse(mask.trim()).prefixLengthFromSubnetMask();
  return length ?? undefined;
}

/** The comparison key of an entry as written in a target; non-address entries (service tags, `*`) keep their own. */
export function entryKey(text: string): string {
  return parsePrefix(text)?.key ?? `tag:${text.trim().toLowerCase()}`;
}

export function isHost(prefix: Prefix): boolean {
  return prefix.length === FULL_LENGTH[prefix.family];
}

/** `20.1.2.3/32`: the form written to allowlists (NSG, IP Group, firewall and App Service all take CIDR). */
export function cidrText(prefix: Prefix): string {
  return prefix.key;
}

/** `20.1.2.3` for a host, `60.0.0.0/31` for a wider prefix: the form shown to people and written to DNS. */
export function displayText(prefix: Prefix): string {
  return isHost(prefix) ? prefix.address : prefix.key;
}

export function classify(prefix: Prefix): AddressClass {
  const address = ipaddr.parse(prefix.address);
  const range = address.range();
  if (prefix.family === 'ipv4') {
    if (range === 'reserved') {
      // 240.0.0.0/4 is not routable; the documentation ranges (TEST-NET) are kept usable for examples.
      return (address as ipaddr.IPv4).match(ipaddr.IPv4.parseCIDR('240.0.0.0/4')) ? 'reserved' : 'public';
    }
    return IPV4_CLASSES[range] ?? 'public';
  }
  return IPV6_CLASSES[range] ?? 'public';
}

/** True when the prefix is wider than the configured minimum prefix length of its family. */
export function isBroaderThan(prefix: Prefix, minPrefixLength: Record<Family, number>): boolean {
  return prefix.length < minPrefixLength[prefix.family];
}

/** Parses, normalizes and de-duplicates a list, keeping first-seen order; `invalid` holds what did not parse. */
export function parseAll(values: readonly string[]): { prefixes: Prefix[]; invalid: string[] } {
  const prefixes: Prefix[] = [];
  const invalid: string[] = [];
  const seen = new Set<string>();
  for (const value of values) {
    const prefix = parsePrefix(value);
    if (!prefix) {
      invalid.push(value);
      continue;
    }
    if (seen.has(prefix.key)) continue;
    seen.add(prefix.key);
    prefixes.push(prefix);
  }
  return { prefixes, invalid };
}

/** An allowlist entry naming addresses explicitly: an address, a prefix, or an IPv4 range `a-b` (firewalls, IP Groups). */
export function isExplicitEntry(text: string): boolean {
  if (parsePrefix(text)) return true;
  const range = /^([^-\s]+)-([^-\s]+)$/.exec(text.trim());
  return (
    range !== null &&
    ipaddr.IPv4.isValidFourPartDecimal(range[1]!) &&
    ipaddr.IPv4.isValidFourPartDecimal(range[2]!)
  );
}
