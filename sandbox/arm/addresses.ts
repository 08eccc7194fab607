/**
 * IP addresses, prefixes and service tags as the ARM resource providers read them: NSG rules, IP Groups, firewall
 * policy rules and App Service access restrictions. An own implementation: the sandbox shares nothing with lib/.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Prefix {
  family: 4 | 6;
  network: bigint;
  length: number;
}

export function ipv4ToBigInt(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6ToBigInt(text: string): bigint {
  let s = text;
  if (s.includes('.')) {
    const cut = s.lastIndexOf(':');
    const v4 = ipv4ToBigInt(s.slice(cut + 1));
    s = `${s.slice(0, cut + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...fill, ...tailGroups].reduce(
    (acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)),
    0n,
  );
}

function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (isIPv4(text)) return { family: 4, value: ipv4ToBigInt(text) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, value: ipv6ToBigInt(text) };
  return undefined;
}

/** An address or a CIDR whose host bits are zero; anything else is undefined. */
export function parsePrefix(text: string): Prefix | undefined {
  const [address = '', length, extra] = text.split('/');
  if (extra !== undefined) return undefined;
  const parsed = parseAddress(address);
  if (!parsed) return undefined;
  const bits = parsed.family === 4 ? 32 : 128;
  let prefixLength = bits;
  if (length !== undefined) {
    if (!/^\d{1,3}$/.test(length) || Number(length) > bits) return undefined;
    prefixLength = Number(length);
  }
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  if ((parsed.value & hostMask) !== 0n) return undefined;
  return { family: parsed.family, network: parsed.value, length: prefixLength };
}

export function prefixRange(p: Prefix): { start: bigint; end: bigint } {
  const hostBits = BigInt((p.family === 4 ? 32 : 128) - p.length);
  return { start: p.network, end: p.network | ((1n << hostBits) - 1n) };
}

export function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - Math.min(a.length, b.length));
  return a.network >> shift === b.network >> shift;
}

/** Service tags accepted in a singular address prefix (case-insensitive, optionally `.region`). */
// prettier-ignore
const SERVICE_TAGS = new Set(
  [
    'VirtualNetwork', 'AzureLoadBalancer', 'Internet', 'AzureCloud', 'ApiManagement', 'AppService',
    'AppServiceManagement', 'AzureActiveDirectory', 'AzureMonitor', 'AzureFrontDoor.Backend', 'AzureFrontDoor.Frontend',
    'AzureFrontDoor.FirstParty', 'AzureTrafficManager', 'Storage', 'Sql', 'SqlManagement', 'EventHub', 'ServiceBus',
    'AzureKeyVault', 'AzureContainerRegistry', 'MicrosoftContainerRegistry', 'AzureCosmosDB', 'GatewayManager',
    'AzureBackup', 'AzureDevOps', 'AzureConnectors', 'LogicApps', 'AzureSiteRecovery', 'BatchNodeManagement',
    'DataFactory', 'AzurePlatformDNS', 'AzurePlatformIMDS', 'AzurePlatformLKM', 'GuestAndHybridManagement',
    'HDInsight', 'AzureMachineLearning', 'AzureDatabricks', 'AzureSignalR', 'AzureResourceManager', 'PowerPlatformInfra',
    'AzureCloud', 'CorpNetSaw', 'CorpNetPublic',
  ].map((t) => t.toLowerCase()),
);

export function isServiceTag(text: string): boolean {
  if (text === '*') return true;
  const lower = text.toLowerCase();
  if (SERVICE_TAGS.has(lower)) return true;
  const dot = lower.lastIndexOf('.');
  return dot > 0 && SERVICE_TAGS.has(lower.slice(0, dot)) && /^[a-z0-9]+$/.test(lower.slice(dot + 1));
}
