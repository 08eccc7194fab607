/**
 * Azure Resource Manager emulator: APIM services (read), NSG security rules and IP Groups (read/write, long-running),
 * served over HTTPS with ARM's envelopes, headers and awkward parts. Independent of lib/ by design.
 *
 * Sources (see ../shared/reference/AZURE.md for the tagged list) and what was chosen where they are silent:
 * - Error texts quoted from real traffic in public issues: MissingApiVersionParameter, NoRegisteredProviderFound
 *   (azure-cli#28496), ResourceNotFound (…ARMResourceNotFoundFix), SecurityRuleInvalidPriority (pulumi-azure-native#2221),
 *   SecurityRuleConflict "…conflicts with rule … To learn more, see aka.ms/nsgrules." (existing rule named first,
 *   terraform-provider-azurerm#11137), SecurityRuleInvalidAddressPrefix and SecurityRuleParameterContainsUnsupportedValue
 *   (terraform-provider-azurerm#5617; a CIDR with host bits set is rejected: azure-powershell#4557),
 *   OverlappingSubnetsNotPermittedInSecurityRule (cloud-provider-azure#6775; an exact duplicate is treated as an overlap),
 *   ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies (gardener-extension-provider-azure#397: IPv4 and IPv6
 *   never share one rule), SecurityRuleParametersMissing / SecurityRuleParameterMissing (Azure/sap-hana#135,
 *   clong/DetectionLab#479), SecurityRuleInvalidProtocol (azure-cli#25181), SecurityRuleCountLimitReached (1000 rules,
 *   azure-rest-api-specs#3003), InvalidAddressPrefixFormat "IP Prefix x is invalid." for IP Groups
 *   (azure-service-operator#3081), IPGroupsIPAddressCountZero (bicep-registry-modules#6747: some regions reject an empty
 *   IP Group; this emulator rejects it everywhere), IpGroupsUpdateFailed (terraform-provider-azurerm#27279).
 * - Invented where no real text was found (clients must key on the HTTP status, not these codes):
 *   SecurityRuleInvalidAccess/-Direction (by analogy with the Protocol one), SecurityRuleDescriptionTooLong,
 *   SecurityRuleMutuallyExclusiveParameters (singular and plural of one side both set), SecurityGroupAddressPrefixLimitReached
 *   (the documented 4,000 source / 4,000 destination addresses per NSG), IPGroupsIPAddressCountExceeded (5,000),
 *   the 412 message, and the throttling messages. From memory, not re-verified here: the 401 texts and WWW-Authenticate,
 *   InvalidSubscriptionId / SubscriptionNotFound / ResourceGroupNotFound / LocationRequired / InvalidResourceLocation /
 *   InvalidRequestContent / UnsupportedMediaType wording, and CanceledAndSupersededDueToAnotherOperation.
 * - Authentication: ARM answers a missing api-version before it looks at the token (an anonymous GET of
 *   management.azure.com returns MissingApiVersionParameter); a missing header is AuthenticationFailed, a wrong token
 *   InvalidAuthenticationToken, both 401 with a WWW-Authenticate challenge. Then subscription checks, throttling,
 *   authorization (403 before the resource group is looked up, so nothing leaks), then the resource group.
 * - Enum values (protocol/access/direction) must be spelled exactly as the API documents them; whether NRP accepts
 *   other casings is unknown, and a client that sends "tcp" would otherwise see drift on every read.
 * - ETags: an NSG and its rules are one document in NRP (recordings show child rules reporting the parent's
 *   provisioningState; identical etags are recalled, not verified), so every rule carries the NSG's etag (W/"guid") and
 *   any change to any rule changes all of them. The etag changes when a write is accepted AND again when its operation ends,
 *   so the etag in a PUT response is stale once the operation completes: re-read before the next conditional write.
 *   If-Match compares exact strings (for IP Groups, whose body etag is a bare GUID and whose ETag header is quoted,
 *   both forms are accepted).
 * - Long-running operations: 201 (create) / 200 (update) with provisioningState "Updating", an absolute
 *   Azure-AsyncOperation URL on this host (…/operations/{id}, …/nfvOperations/{id} for IP Groups; the id is the PUT's
 *   x-ms-request-id, as in azure-powershell#19436) and Retry-After. Polls answer InProgress `lroPolls` times, then the terminal
 *   status. The resource changes state only when its operation ends, which happens on the poll that observes it (or on
 *   settleOperations()). Failed keeps the new content with provisioningState "Failed" (NRP does not roll back; a re-PUT
 *   repairs it); Canceled restores the previous content (or removes a resource the operation was creating). A second
 *   write to a resource with an operation in flight supersedes it: the first operation ends Canceled with
 *   CanceledAndSupersededDueToAnotherOperation. DELETE of a rule answers 202 with Azure-AsyncOperation and Location.
 * - concurrentModification faults on a PUT: "another writer" changed the resource just before the request (new etag;
 *   a rule using a plural address list and an IP Group also gain one TEST-NET address). Nothing happens to a missing one.
 * - APIM: the payload follows the 2024-05-01 examples; fields absent from older api-versions are dropped
 *   (outboundPublicIPAddresses and natGatewayState before 2022-08-01, platformVersion and publicNetworkAccess before
 *   2021-08-01). IP fields the seed omits are absent from the wire (v2 / Consumption). Lists page by `pageSize`
 *   (default 2, so clients must follow nextLink, which carries api-version and $skipToken).
 * - Subscriptions and resource groups exist once a seed names them; a malformed subscription id is InvalidSubscriptionId.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import {
  Emulator,
  route,
  type EmulatorOptions,
  type Reply,
  type Route,
  type RouteContext,
  type TlsIdentity,
} from './emulator';

// ---------------------------------------------------------------------------------------------------------------
// Public types

export interface ArmEmulatorOptions extends EmulatorOptions {
  tls: TlsIdentity;
  /** The accepted bearer token (default `sandbox-arm-token`). */
  token?: string;
  /** InProgress poll answers before an operation reaches its terminal status (default 1). */
  lroPolls?: number;
  /** Retry-After on LRO responses and InProgress polls (default 0; real NRP says 3 for rules, 10 for IP Groups). */
  retryAfterSeconds?: number;
  /** Items per list page (default 2). */
  pageSize?: number;
}

export interface ApimSku {
  name: string;
  capacity: number;
}

export interface ApimRegionSeed {
  location: string;
  sku?: ApimSku;
  publicIPAddresses?: string[];
  privateIPAddresses?: string[];
  outboundPublicIPAddresses?: string[];
  disableGateway?: boolean;
  gatewayRegionalUrl?: string;
  natGatewayState?: string;
  platformVersion?: string;
  zones?: string[];
}

export interface ApimSeed {
  location: string;
  sku: ApimSku;
  provisioningState: string;
  publicIPAddresses?: string[];
  privateIPAddresses?: string[];
  outboundPublicIPAddresses?: string[];
  additionalLocations?: ApimRegionSeed[];
  gatewayUrl?: string;
  tags?: Record<string, string>;
  natGatewayState?: string;
  platformVersion?: string;
  disableGateway?: boolean;
  virtualNetworkType?: string;
  /** Default: "" when idle, "Activating" while Created/Activating, else the provisioningState. */
  targetProvisioningState?: string;
  publisherEmail?: string;
  publisherName?: string;
}

/** The wire `properties` of a security rule. */
export interface SecurityRuleSeed {
  description?: string;
  protocol: string;
  access: string;
  priority: number;
  direction: string;
  sourcePortRange?: string;
  sourcePortRanges?: string[];
  destinationPortRange?: string;
  destinationPortRanges?: string[];
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationAddressPrefix?: string;
  destinationAddressPrefixes?: string[];
  sourceApplicationSecurityGroups?: Array<{ id: string }>;
  destinationApplicationSecurityGroups?: Array<{ id: string }>;
}

export type ThrottleCode =
  'TooManyRequests' | 'RetryableErrorDueToAnotherOperation' | 'SubscriptionRequestsThrottled';

// ---------------------------------------------------------------------------------------------------------------
// Constants

const DEFAULT_TOKEN = 'sandbox-arm-token';
const CLIENT_OBJECT_ID = '5e0c1b7a-2f4d-4c8e-9a61-3b7d2c9e0f14';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const RESOURCE_NOT_FOUND_HELP = 'For more details please go to https://aka.ms/ARMResourceNotFoundFix';
const RULE_TYPE = 'Microsoft.Network/networkSecurityGroups/securityRules';
const MAX_RULES_PER_NSG = 1000;
const MAX_PREFIXES_PER_NSG_SIDE = 4000;
const MAX_IP_GROUP_ENTRIES = 5000;
const MAX_DESCRIPTION = 140;
/** Legacy per-hour budgets behind x-ms-ratelimit-remaining-subscription-* (recordings show values like 11879). */
const RATE_LIMIT_BUDGET = { reads: 11999, writes: 1199, deletes: 14999 };

// prettier-ignore
const APIM_VERSIONS = [
  '2016-07-07', '2016-10-10', '2017-03-01', '2018-01-01', '2019-01-01', '2019-12-01', '2020-12-01', '2021-08-01',
  '2022-08-01', '2023-03-01-preview', '2023-05-01-preview', '2023-09-01-preview', '2024-05-01', '2024-06-01-preview',
  '2024-10-01-preview', '2025-03-01-preview', '2025-09-01-preview',
];

// prettier-ignore
const NETWORK_VERSIONS = [
  '2015-06-15', '2016-03-30', '2016-06-01', '2016-09-01', '2016-12-01', '2017-03-01', '2017-06-01', '2017-08-01',
  '2017-09-01', '2017-10-01', '2017-11-01', '2018-01-01', '2018-02-01', '2018-04-01', '2018-06-01', '2018-07-01',
  '2018-08-01', '2018-10-01', '2018-11-01', '2018-12-01', '2019-02-01', '2019-04-01', '2019-06-01', '2019-07-01',
  '2019-08-01', '2019-09-01', '2019-11-01', '2019-12-01', '2020-03-01', '2020-04-01', '2020-05-01', '2020-06-01',
  '2020-07-01', '2020-08-01', '2020-11-01', '2021-02-01', '2021-03-01', '2021-05-01', '2021-08-01', '2022-01-01',
  '2022-05-01', '2022-07-01', '2022-09-01', '2022-11-01', '2023-02-01', '2023-04-01', '2023-05-01', '2023-06-01',
  '2023-09-01', '2023-11-01', '2024-01-01', '2024-03-01', '2024-05-01', '2024-07-01', '2024-10-01', '2025-01-01',
  '2025-03-01', '2025-05-01', '2025-07-01', '2026-01-01',
];

/** IP Groups appeared in 2019-09-01. */
const IP_GROUP_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2019-09-01');

const SUPPORTED_LOCATIONS =
  'eastus, eastus2, westus, westus2, westus3, centralus, northeurope, westeurope, uksouth, swedencentral, ' +
  'germanywestcentral, francecentral, japaneast, australiaeast, southeastasia, eastasia, canadacentral, brazilsouth';

// prettier-ignore
const RULE_WIRE_ORDER = [
  'description', 'protocol', 'sourcePortRange', 'destinationPortRange', 'sourceAddressPrefix',
  'sourceApplicationSecurityGroups', 'destinationAddressPrefix', 'destinationApplicationSecurityGroups', 'access',
  'priority', 'direction', 'sourcePortRanges', 'destinationPortRanges', 'sourceAddressPrefixes',
  'destinationAddressPrefixes',
] as const;

const PROTOCOLS = ['Tcp', 'Udp', 'Icmp', 'Esp', '*', 'Ah'];
const ACCESSES = ['Allow', 'Deny'];
const DIRECTIONS = ['Inbound', 'Outbound'];

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

// prettier-ignore
const DEFAULT_RULES: Array<{ name: string; description: string } & SecurityRuleSeed> = [
  { name: 'AllowVnetInBound', description: 'Allow inbound traffic from all VMs in VNET', protocol: '*', access: 'Allow', priority: 65000, direction: 'Inbound', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork' },
  { name: 'AllowAzureLoadBalancerInBound', description: 'Allow inbound traffic from azure load balancer', protocol: '*', access: 'Allow', priority: 65001, direction: 'Inbound', sourceAddressPrefix: 'AzureLoadBalancer', destinationAddressPrefix: '*' },
  { name: 'DenyAllInBound', description: 'Deny all inbound traffic', protocol: '*', access: 'Deny', priority: 65500, direction: 'Inbound', sourceAddressPrefix: '*', destinationAddressPrefix: '*' },
  { name: 'AllowVnetOutBound', description: 'Allow outbound traffic from all VMs to all VMs in VNET', protocol: '*', access: 'Allow', priority: 65000, direction: 'Outbound', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork' },
  { name: 'AllowInternetOutBound', description: 'Allow outbound traffic from all VMs to Internet', protocol: '*', access: 'Allow', priority: 65001, direction: 'Outbound', sourceAddressPrefix: '*', destinationAddressPrefix: 'Internet' },
  { name: 'DenyAllOutBound', description: 'Deny all outbound traffic', protocol: '*', access: 'Deny', priority: 65500, direction: 'Outbound', sourceAddressPrefix: '*', destinationAddressPrefix: '*' },
];

// ---------------------------------------------------------------------------------------------------------------
// Errors

interface ErrorBody {
  code: string;
  message: string;
}

/** An ARM error answer; thrown inside handlers and turned into a reply at the route boundary. */
class ArmFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { details?: unknown[]; headers?: Record<string, string> } = {},
  ) {
    super(message);
  }

  reply(): Reply {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.options.details) error.details = this.options.details;
    return { status: this.status, body: { error }, headers: this.options.headers };
  }
}

/** Network RP errors carry an empty `details` array. */
function nrpFailure(status: number, code: string, message: string): ArmFailure {
  return new ArmFailure(status, code, message, { details: [] });
}

// ---------------------------------------------------------------------------------------------------------------
// Resource ids

interface ApimRef {
  subscription: string;
  resourceGroup: string;
  name: string;
}
type NsgRef = ApimRef;
interface RuleRef extends NsgRef {
  rule: string;
}
type IpGroupRef = ApimRef;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseId(id: string, pattern: RegExp, what: string): string[] {
  const m = pattern.exec(id);
  if (!m) throw new Error(`not a ${what} resource id: ${id}`);
  const parts = m.slice(1) as string[];
  if (!GUID.test(parts[0] as string)) throw new Error(`malformed subscription id in ${id}`);
  return parts;
}

const RG_PREFIX = '^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/';

function parseApimId(id: string): ApimRef {
  const [subscription, resourceGroup, name] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.ApiManagement/service/([^/]+)$`, 'i'),
    'Microsoft.ApiManagement/service',
  ) as [string, string, string];
  return { subscription, resourceGroup, name };
}

function parseNsgId(id: string): NsgRef {
  const [subscription, resourceGroup, name] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/networkSecurityGroups/([^/]+)$`, 'i'),
    'Microsoft.Network/networkSecurityGroups',
  ) as [string, string, string];
  return { subscription, resourceGroup, name };
}

function parseRuleId(id: string): RuleRef {
  const [subscription, resourceGroup, name, rule] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/networkSecurityGroups/([^/]+)/securityRules/([^/]+)$`, 'i'),
    'Microsoft.Network/networkSecurityGroups/securityRules',
  ) as [string, string, string, string];
  return { subscription, resourceGroup, name, rule };
}

function parseIpGroupId(id: string): IpGroupRef {
  const [subscription, resourceGroup, name] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/ipGroups/([^/]+)$`, 'i'),
    'Microsoft.Network/ipGroups',
  ) as [string, string, string];
  return { subscription, resourceGroup, name };
}

function rgPath(subscription: string, resourceGroup: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}`;
}

function apimPath(ref: ApimRef): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/Microsoft.ApiManagement/service/${ref.name}`;
}

function nsgPath(ref: NsgRef): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/Microsoft.Network/networkSecurityGroups/${ref.name}`;
}

function ipGroupPath(ref: IpGroupRef): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/Microsoft.Network/ipGroups/${ref.name}`;
}

const key = (id: string) => id.toLowerCase();

/** "West Europe" → "westeurope", as NRP returns locations. */
function normalizeLocation(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/** ARM's rule for child resource names (InvalidResourceName). */
function checkResourceName(name: string): void {
  if (!/^\w(?:[\w.-]{0,78}\w)?$/.test(name)) {
    throw nrpFailure(
      400,
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, ` +
        `and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// IP addresses (own implementation: the sandbox shares nothing with lib/)

interface Prefix {
  family: 4 | 6;
  network: bigint;
  length: number;
}

function ipv4ToBigInt(text: string): bigint {
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
function parsePrefix(text: string): Prefix | undefined {
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

function prefixRange(p: Prefix): { start: bigint; end: bigint } {
  const hostBits = BigInt((p.family === 4 ? 32 : 128) - p.length);
  return { start: p.network, end: p.network | ((1n << hostBits) - 1n) };
}

function prefixesOverlap(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const shift = BigInt((a.family === 4 ? 32 : 128) - Math.min(a.length, b.length));
  return a.network >> shift === b.network >> shift;
}

/** IP Group entries: IPv4 address, IPv4 CIDR, or an ascending IPv4 range `a-b` (the documented formats). */
function isIpGroupEntry(text: string): boolean {
  const range = text.split('-');
  if (range.length === 2) {
    const [from = '', to = ''] = range;
    return isIPv4(from) && isIPv4(to) && ipv4ToBigInt(from) <= ipv4ToBigInt(to);
  }
  const prefix = parsePrefix(text);
  return prefix !== undefined && prefix.family === 4;
}

// ---------------------------------------------------------------------------------------------------------------
// Security rule validation (NRP's checks, in the order a client would meet them)

interface RuleProps {
  description?: string;
  protocol: string;
  access: string;
  priority: number;
  direction: string;
  sourcePortRange?: string;
  destinationPortRange?: string;
  sourceAddressPrefix?: string;
  destinationAddressPrefix?: string;
  sourcePortRanges: string[];
  destinationPortRanges: string[];
  sourceAddressPrefixes: string[];
  destinationAddressPrefixes: string[];
  sourceApplicationSecurityGroups?: Array<{ id: string }>;
  destinationApplicationSecurityGroups?: Array<{ id: string }>;
}

type Side = 'source' | 'destination';
const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function invalidJson(path: string, detail: string): ArmFailure {
  return new ArmFailure(400, 'InvalidRequestFormat', 'Cannot parse the request.', {
    details: [{ code: 'InvalidJson', message: `${detail} Path '${path}'.` }],
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

class RuleReader {
  constructor(
    private readonly props: Record<string, unknown>,
    readonly ruleId: string,
  ) {}

  string(name: string): string | undefined {
    const value = this.props[name];
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string')
      throw invalidJson(`properties.${name}`, `Error converting value to type 'String'.`);
    return value;
  }

  strings(name: string): string[] {
    const value = this.props[name];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
      throw invalidJson(`properties.${name}`, `Error converting value to type 'List<String>'.`);
    }
    return value as string[];
  }

  refs(name: string): Array<{ id: string }> | undefined {
    const value = this.props[name];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((v) => isRecord(v) && typeof v.id === 'string')) {
      throw invalidJson(
        `properties.${name}`,
        `Error converting value to type 'List<ApplicationSecurityGroup>'.`,
      );
    }
    return value.map((v) => ({ id: (v as { id: string }).id }));
  }

  integer(name: string): number | undefined {
    const value = this.props[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      throw invalidJson(
        `properties.${name}`,
        `Error converting value ${JSON.stringify(value)} to type 'System.Int32'.`,
      );
    }
    return value;
  }
}

function missingParameter(reader: RuleReader, name: string): ArmFailure {
  return nrpFailure(
    400,
    'SecurityRuleParameterMissing',
    `Required security rule parameter ${name} is missing for security rule with Id: ${reader.ruleId}.`,
  );
}

function readEnum(reader: RuleReader, field: string, allowed: string[], code: string): string {
  const value = reader.string(field);
  const label = capitalize(field);
  if (value === undefined) throw missingParameter(reader, label);
  if (!allowed.includes(value)) {
    throw nrpFailure(
      400,
      code,
      `Security rule has invalid ${label}. Value provided: ${value} Allowed values: ${allowed.join(',')}.`,
    );
  }
  return value;
}

function readPriority(reader: RuleReader): number {
  const priority = reader.integer('priority') ?? 0;
  if (priority < 100 || priority > 4096) {
    throw nrpFailure(
      400,
      'SecurityRuleInvalidPriority',
      `Security rule has invalid Priority. Value provided: ${priority} Allowed range 100-4096.`,
    );
  }
  return priority;
}

function readDescription(reader: RuleReader): string | undefined {
  const description = reader.string('description');
  if (description !== undefined && description.length > MAX_DESCRIPTION) {
    throw nrpFailure(
      400,
      'SecurityRuleDescriptionTooLong',
      `Security rule ${reader.ruleId} has a description of ${description.length} characters. ` +
        `The description is restricted to ${MAX_DESCRIPTION} characters.`,
    );
  }
  return description;
}

function mutuallyExclusive(reader: RuleReader, singular: string): ArmFailure {
  const label = capitalize(singular);
  return nrpFailure(
    400,
    'SecurityRuleMutuallyExclusiveParameters',
    `Security rule ${reader.ruleId} specifies both ${label} and ${label}es. Only one of them may be specified.`,
  );
}

function isPortRange(text: string): boolean {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return false;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from <= to && to <= 65535;
}

function invalidPortRange(value: string): ArmFailure {
  return nrpFailure(
    400,
    'SecurityRuleInvalidPortRange',
    `Security rule has invalid Port range. Value provided: ${value}. ` +
      `Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.`,
  );
}

function readPorts(reader: RuleReader, side: Side): { single?: string; plural: string[] } {
  const single = reader.string(`${side}PortRange`);
  const plural = reader.strings(`${side}PortRanges`);
  if (single !== undefined && plural.length > 0) throw mutuallyExclusive(reader, `${side}PortRange`);
  if (single === undefined && plural.length === 0)
    throw missingParameter(reader, `${capitalize(side)}PortRange`);
  if (single !== undefined && single !== '*' && !isPortRange(single)) throw invalidPortRange(single);
  const bad = plural.find((p) => !isPortRange(p));
  if (bad !== undefined) throw invalidPortRange(bad);
  return { single, plural };
}

function invalidAddressPrefix(reader: RuleReader, value: string): ArmFailure {
  return nrpFailure(
    400,
    'SecurityRuleInvalidAddressPrefix',
    `Security rule ${reader.ruleId} has invalid Address prefix. Value provided: ${value}`,
  );
}

function isServiceTag(text: string): boolean {
  if (text === '*') return true;
  const lower = text.toLowerCase();
  if (SERVICE_TAGS.has(lower)) return true;
  const dot = lower.lastIndexOf('.');
  return dot > 0 && SERVICE_TAGS.has(lower.slice(0, dot)) && /^[a-z0-9]+$/.test(lower.slice(dot + 1));
}

interface AddressSide {
  single?: string;
  plural: string[];
  asgs?: Array<{ id: string }>;
  prefixes: Prefix[];
}

function readAddresses(reader: RuleReader, side: Side): AddressSide {
  const label = capitalize(side);
  const single = reader.string(`${side}AddressPrefix`);
  const plural = reader.strings(`${side}AddressPrefixes`);
  const asgs = reader.refs(`${side}ApplicationSecurityGroups`);
  if (single !== undefined && plural.length > 0) throw mutuallyExclusive(reader, `${side}AddressPrefix`);
  if (single === undefined && plural.length === 0 && (asgs === undefined || asgs.length === 0)) {
    throw nrpFailure(
      400,
      'SecurityRuleParametersMissing',
      `Required security rule parameters are missing for security rule with Id: ${reader.ruleId}. Security rule must ` +
        `specify ${label}AddressPrefixes, ${label}AddressPrefix, or ${label}ApplicationSecurityGroups.`,
    );
  }
  const prefixes: Prefix[] = [];
  if (single !== undefined) {
    const prefix = parsePrefix(single);
    if (prefix) prefixes.push(prefix);
    else if (!isServiceTag(single)) throw invalidAddressPrefix(reader, single);
  }
  for (const entry of plural) prefixes.push(readPluralEntry(reader, `${label}AddressPrefixes`, entry));
  checkOverlaps(reader, `${label}AddressPrefix${single === undefined ? 'es' : ''}`, plural, prefixes);
  return { single, plural, asgs, prefixes };
}

function readPluralEntry(reader: RuleReader, parameter: string, entry: string): Prefix {
  const prefix = parsePrefix(entry);
  if (prefix) return prefix;
  if (isServiceTag(entry)) {
    throw nrpFailure(
      400,
      'SecurityRuleParameterContainsUnsupportedValue',
      `Security rule parameter ${parameter} for rule with Id ${reader.ruleId} cannot specify existing VIRTUALNETWORK, ` +
        `INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: ${entry}.`,
    );
  }
  throw invalidAddressPrefix(reader, entry);
}

/** Sort-and-sweep over address ranges: a range starting before the widest end seen so far overlaps it. */
function checkOverlaps(reader: RuleReader, parameter: string, texts: string[], prefixes: Prefix[]): void {
  const ranges = prefixes
    .map((p, i) => ({ ...prefixRange(p), family: p.family, text: texts[i] ?? '' }))
    .sort((a, b) => a.family - b.family || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let widest: (typeof ranges)[number] | undefined;
  for (const range of ranges) {
    if (widest && widest.family === range.family && range.start <= widest.end) {
      throw nrpFailure(
        400,
        'OverlappingSubnetsNotPermittedInSecurityRule',
        `Security rule parameter ${parameter} for rule with Id ${reader.ruleId} contains overlapping subnets ` +
          `[${widest.text}, ${range.text}], which is not permitted.`,
      );
    }
    if (!widest || widest.family !== range.family || range.end > widest.end) widest = range;
  }
}

function checkAddressFamilies(reader: RuleReader, prefixes: Prefix[]): void {
  if (new Set(prefixes.map((p) => p.family)).size > 1) {
    throw nrpFailure(
      400,
      'ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies',
      `Resource ${reader.ruleId} contains IP addresses or prefixes that belong to different address families. ` +
        `All IP addresses or prefixes in the resource should belong to the same address family.`,
    );
  }
}

/** Validates one rule's wire properties as NRP does, returning what will be stored. */
function validateRuleProperties(raw: unknown, ruleId: string): RuleProps {
  if (!isRecord(raw)) throw missingParameter(new RuleReader({}, ruleId), 'Protocol');
  const reader = new RuleReader(raw, ruleId);
  const protocol = readEnum(reader, 'protocol', PROTOCOLS, 'SecurityRuleInvalidProtocol');
  const access = readEnum(reader, 'access', ACCESSES, 'SecurityRuleInvalidAccess');
  const direction = readEnum(reader, 'direction', DIRECTIONS, 'SecurityRuleInvalidDirection');
  const priority = readPriority(reader);
  const description = readDescription(reader);
  const sourcePorts = readPorts(reader, 'source');
  const destinationPorts = readPorts(reader, 'destination');
  const source = readAddresses(reader, 'source');
  const destination = readAddresses(reader, 'destination');
  checkAddressFamilies(reader, [...source.prefixes, ...destination.prefixes]);
  return dropUndefined({
    description,
    protocol,
    sourcePortRange: sourcePorts.single,
    destinationPortRange: destinationPorts.single,
    sourceAddressPrefix: source.single,
    destinationAddressPrefix: destination.single,
    access,
    priority,
    direction,
    sourcePortRanges: sourcePorts.plural,
    destinationPortRanges: destinationPorts.plural,
    sourceAddressPrefixes: source.plural,
    destinationAddressPrefixes: destination.plural,
    sourceApplicationSecurityGroups: source.asgs,
    destinationApplicationSecurityGroups: destination.asgs,
  });
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Number of literal addresses and ranges a rule names on one side (tags are not counted). */
function literalCount(props: RuleProps, side: Side): number {
  const single = side === 'source' ? props.sourceAddressPrefix : props.destinationAddressPrefix;
  const plural = side === 'source' ? props.sourceAddressPrefixes : props.destinationAddressPrefixes;
  return plural.length + (single !== undefined && parsePrefix(single) ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------------------------
// State

interface RuleRecord {
  id: string;
  name: string;
  props: RuleProps;
  provisioningState: string;
  pendingOp?: string;
  /** What a Canceled write restores: the last settled properties, or null when the rule did not exist. */
  rollback?: RuleProps | null;
}

interface NsgRecord {
  ref: NsgRef;
  id: string;
  location: string;
  etag: string;
  resourceGuid: string;
  rules: Map<string, RuleRecord>;
}

interface IpGroupContent {
  location: string;
  tags?: Record<string, string>;
  ipAddresses: string[];
}

interface IpGroupRecord extends IpGroupContent {
  ref: IpGroupRef;
  id: string;
  etag: string;
  provisioningState: string;
  pendingOp?: string;
  rollback?: IpGroupContent | null;
}

interface ApimRecord {
  ref: ApimRef;
  id: string;
  seed: ApimSeed;
  etag: bigint;
  createdAt: string;
  modifiedAt: string;
  principalId: string;
}

type TerminalStatus = 'Succeeded' | 'Failed' | 'Canceled';

interface PlannedOutcome {
  status: TerminalStatus;
  error?: ErrorBody;
}

interface Operation {
  id: string;
  name: string;
  subscription: string;
  location: string;
  kind: 'operations' | 'nfvOperations';
  status: 'InProgress' | TerminalStatus;
  pollsLeft: number;
  planned: PlannedOutcome;
  error?: ErrorBody;
  apply(status: TerminalStatus): void;
}

interface Forbid {
  scope: string;
  access: 'read' | 'write' | 'all';
}

interface ArmRequest {
  ctx: RouteContext;
  apiVersion: string;
  params: Record<string, string>;
}

const weakEtag = () => `W/"${randomUUID()}"`;

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function etagListMatches(headerValue: string, forms: string[]): boolean {
  return headerValue
    .split(',')
    .map((t) => t.trim())
    .some((t) => forms.includes(t));
}

function base64Etag(counter: bigint): string {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(counter);
  return buffer.toString('base64');
}

/** .NET-style timestamp with 7 fractional digits, as APIM writes them. */
function netTimestamp(date = new Date()): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function apiVersionAtLeast(version: string, minimum: string): boolean {
  return version.slice(0, 10) >= minimum;
}

// ---------------------------------------------------------------------------------------------------------------
// The emulator

export class ArmEmulator extends Emulator {
  private readonly token: string;
  private readonly lroPolls: number;
  private readonly retryAfterSeconds: number;
  private readonly pageSize: number;
  private readonly routeTable: Route[];

  private readonly subscriptions = new Map<string, string>();
  private readonly resourceGroups = new Map<string, string>();
  private readonly apims = new Map<string, ApimRecord>();
  private readonly nsgs = new Map<string, NsgRecord>();
  private readonly ipGroups = new Map<string, IpGroupRecord>();
  private readonly operations = new Map<string, Operation>();
  private readonly plannedOutcomes = new Map<string, PlannedOutcome[]>();
  private readonly throttles = new Map<string, Array<{ retryAfter: number; code: ThrottleCode }>>();
  private forbids: Forbid[] = [];
  private apimEtagCounter = 0x16_37_fe_00n;
  private readonly requestsUsed = { reads: 0, writes: 0, deletes: 0 };
  private concurrentWrites = 0;
  /** notFound() only sees the path; authenticate() runs just before it for the same request and keeps this. */
  private lastApiVersion = '';

  private constructor(options: ArmEmulatorOptions) {
    super(options);
    this.token = options.token ?? DEFAULT_TOKEN;
    this.lroPolls = options.lroPolls ?? 1;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 0;
    this.pageSize = options.pageSize ?? 2;
    this.routeTable = this.buildRoutes();
  }

  static async start(options: ArmEmulatorOptions): Promise<ArmEmulator> {
    const emulator = new ArmEmulator(options);
    await emulator.listen();
    return emulator;
  }

  // ----- seeding and inspection ----------------------------------------------------------------------------------

  /** Creates or replaces an APIM service. */
  setApim(resourceId: string, seed: ApimSeed): void {
    const ref = parseApimId(resourceId);
    this.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const existing = this.apims.get(key(apimPath(ref)));
    const now = netTimestamp();
    this.apims.set(key(apimPath(ref)), {
      ref,
      id: apimPath(ref),
      seed: structuredClone(seed),
      etag: this.nextApimEtag(),
      createdAt: existing?.createdAt ?? now,
      modifiedAt: now,
      principalId: existing?.principalId ?? randomUUID(),
    });
  }

  /** Changes some fields of an existing APIM service (e.g. new IPs after a reactivation). */
  patchApim(resourceId: string, patch: Partial<ApimSeed>): void {
    const record = this.apims.get(key(apimPath(parseApimId(resourceId))));
    if (!record) throw new Error(`no APIM service ${resourceId}`);
    record.seed = { ...record.seed, ...structuredClone(patch) };
    record.etag = this.nextApimEtag();
    record.modifiedAt = netTimestamp();
  }

  setNsg(nsgId: string, seed: { location: string; rules?: Record<string, SecurityRuleSeed> }): void {
    const ref = parseNsgId(nsgId);
    this.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const nsg: NsgRecord = {
      ref,
      id: nsgPath(ref),
      location: normalizeLocation(seed.location),
      etag: weakEtag(),
      resourceGuid: randomUUID(),
      rules: new Map(),
    };
    this.nsgs.set(key(nsg.id), nsg);
    for (const [name, properties] of Object.entries(seed.rules ?? {})) {
      this.setSecurityRule(`${nsg.id}/securityRules/${name}`, properties);
    }
  }

  /** Creates or replaces a rule as if someone else had written it (validated like a PUT). The NSG must exist. */
  setSecurityRule(ruleId: string, properties: SecurityRuleSeed): void {
    const { nsg, ruleKey } = this.requireNsgOf(ruleId);
    const ref = parseRuleId(ruleId);
    const id = `${nsg.id}/securityRules/${ref.rule}`;
    const props = seedOrThrow(() => this.validateRuleInNsg(nsg, ruleKey, properties, id));
    nsg.rules.set(ruleKey, { id, name: ref.rule, props, provisioningState: 'Succeeded' });
    nsg.etag = weakEtag();
  }

  deleteSecurityRule(ruleId: string): void {
    const { nsg, ruleKey } = this.requireNsgOf(ruleId);
    if (nsg.rules.delete(ruleKey)) nsg.etag = weakEtag();
  }

  /** Exactly the JSON a GET of the rule would return now. */
  securityRule(ruleId: string): Record<string, unknown> | undefined {
    const ref = parseRuleId(ruleId);
    const nsg = this.nsgs.get(key(nsgPath(ref)));
    const rule = nsg?.rules.get(ref.rule.toLowerCase());
    return nsg && rule ? this.renderRule(nsg, rule) : undefined;
  }

  setIpGroup(
    id: string,
    seed: { location: string; tags?: Record<string, string>; ipAddresses: string[] },
  ): void {
    const ref = parseIpGroupId(id);
    this.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const content = seedOrThrow(() =>
      this.validateIpGroupContent({ ...seed, location: normalizeLocation(seed.location) }),
    );
    this.ipGroups.set(key(ipGroupPath(ref)), {
      ...structuredClone(content),
      ref,
      id: ipGroupPath(ref),
      etag: randomUUID(),
      provisioningState: 'Succeeded',
    });
  }

  ipGroup(id: string): Record<string, unknown> | undefined {
    const record = this.ipGroups.get(key(ipGroupPath(parseIpGroupId(id))));
    return record ? this.renderIpGroup(record) : undefined;
  }

  /** 403 AuthorizationFailed for requests on resources at or under `scopeId`. */
  forbid(scopeId: string, access: 'read' | 'write' | 'all' = 'all'): void {
    this.forbids.push({ scope: key(scopeId.replace(/\/+$/, '')), access });
  }

  /** Lifts every forbid() at exactly `scopeId`. */
  permit(scopeId: string): void {
    const scope = key(scopeId.replace(/\/+$/, ''));
    this.forbids = this.forbids.filter((f) => f.scope !== scope);
  }

  /** The next long-running operation started on `route` ends Failed or Canceled. */
  failNextOperation(
    route: string,
    status: 'Failed' | 'Canceled',
    error?: { code: string; message: string },
  ): void {
    const queue = this.plannedOutcomes.get(route) ?? [];
    queue.push({ status, error: error ?? defaultOperationError(route, status) });
    this.plannedOutcomes.set(route, queue);
  }

  /** 429 with Retry-After and ARM's envelope for the next `times` requests on `route`. */
  throttle(
    route: string,
    retryAfterSeconds: number,
    times = 1,
    code: ThrottleCode = 'TooManyRequests',
  ): void {
    const queue = this.throttles.get(route) ?? [];
    for (let i = 0; i < times; i++) queue.push({ retryAfter: retryAfterSeconds, code });
    this.throttles.set(route, queue);
  }

  /** Ends every operation still in progress with its planned outcome, as time passing would. */
  settleOperations(): void {
    for (const op of this.operations.values()) if (op.status === 'InProgress') this.settle(op);
  }

  // ----- Emulator hooks ------------------------------------------------------------------------------------------

  protected routes(): Route[] {
    return this.routeTable;
  }

  protected override authenticate(req: IncomingMessage, url: URL): Reply | undefined {
    this.lastApiVersion = url.searchParams.get('api-version') ?? '';
    try {
      this.checkApiVersion(url);
      this.checkToken(req);
      return undefined;
    } catch (error) {
      if (error instanceof ArmFailure) return error.reply();
      throw error;
    }
  }

  protected override commonHeaders(req: IncomingMessage): Record<string, string> {
    const correlation = header(req, 'x-ms-correlation-request-id') ?? randomUUID();
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const headers: Record<string, string> = {
      'cache-control': 'no-cache',
      pragma: 'no-cache',
      expires: '-1',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-ms-request-id': randomUUID(),
      'x-ms-correlation-request-id': correlation,
      'x-ms-routing-request-id': `WESTEUROPE:${stamp}:${correlation}`,
    };
    const method = (req.method ?? 'GET').toUpperCase();
    const bucket = method === 'GET' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
    const left = Math.max(0, RATE_LIMIT_BUDGET[bucket] - this.requestsUsed[bucket]++);
    headers[`x-ms-ratelimit-remaining-subscription-${bucket}`] = String(left);
    return headers;
  }

  protected notFound(method: string, path: string): Reply {
    if (this.routeTable.some((r) => r.pattern.test(path))) {
      return new ArmFailure(
        405,
        'MethodNotAllowed',
        `The requested resource does not support http method '${method}'.`,
      ).reply();
    }
    const type = resourceTypeOf(path);
    if (type) {
      return new ArmFailure(
        400,
        'InvalidResourceType',
        `The resource type '${type.type}' could not be found in the namespace '${type.namespace}' for api version ` +
          `'${this.lastApiVersion}'.`,
      ).reply();
    }
    return new ArmFailure(404, 'NotFound', `The requested path '${path}' was not found.`).reply();
  }

  protected badJson(): Reply {
    return new ArmFailure(
      400,
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'Unexpected character encountered while " +
        "parsing value. Path '', line 1, position 1.'.",
    ).reply();
  }

  // ----- request pipeline ----------------------------------------------------------------------------------------

  private buildRoutes(): Route[] {
    const rg = '/subscriptions/{subscription}/resourceGroups/{resourceGroup}';
    const nsg = `${rg}/providers/Microsoft.Network/networkSecurityGroups/{nsg}`;
    const ipg = `${rg}/providers/Microsoft.Network/ipGroups/{ipGroup}`;
    const locations = '/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}';
    const a = (name: string, method: string, template: string, handle: (r: ArmRequest) => Reply): Route =>
      route(name, method, template, (ctx) => this.run(name, ctx, handle));
    return [
      a('apim.get', 'GET', `${rg}/providers/Microsoft.ApiManagement/service/{service}`, (r) =>
        this.getApim(r),
      ),
      a('apim.list', 'GET', '/subscriptions/{subscription}/providers/Microsoft.ApiManagement/service', (r) =>
        this.listApims(r),
      ),
      a('apim.list', 'GET', `${rg}/providers/Microsoft.ApiManagement/service`, (r) => this.listApims(r)),
      a('nsg.get', 'GET', nsg, (r) => this.getNsg(r)),
      a('securityRule.list', 'GET', `${nsg}/securityRules`, (r) => this.listRules(r)),
      a('securityRule.get', 'GET', `${nsg}/securityRules/{rule}`, (r) => this.getRule(r)),
      a('securityRule.put', 'PUT', `${nsg}/securityRules/{rule}`, (r) => this.putRule(r)),
      a('securityRule.delete', 'DELETE', `${nsg}/securityRules/{rule}`, (r) => this.deleteRule(r)),
      a('ipGroup.get', 'GET', ipg, (r) => this.getIpGroup(r)),
      a('ipGroup.put', 'PUT', ipg, (r) => this.putIpGroup(r)),
      a('operation.get', 'GET', `${locations}/operations/{operation}`, (r) =>
        this.getOperation(r, 'operations'),
      ),
      a('operation.get', 'GET', `${locations}/nfvOperations/{operation}`, (r) =>
        this.getOperation(r, 'nfvOperations'),
      ),
      a('operationResult.get', 'GET', `${locations}/operationResults/{operation}`, (r) =>
        this.getOperationResult(r),
      ),
    ];
  }

  private run(routeName: string, ctx: RouteContext, handle: (r: ArmRequest) => Reply): Reply {
    try {
      const request: ArmRequest = {
        ctx,
        apiVersion: ctx.url.searchParams.get('api-version') ?? '',
        params: ctx.params,
      };
      this.guard(routeName, request);
      return handle(request);
    } catch (error) {
      if (error instanceof ArmFailure) return error.reply();
      throw error;
    }
  }

  /** ARM front door: subscription, throttling, authorization, resource group, request content. */
  private guard(routeName: string, request: ArmRequest): void {
    const { subscription, resourceGroup } = request.params;
    if (subscription !== undefined) this.checkSubscription(subscription);
    this.checkThrottle(routeName, request);
    this.checkAuthorization(routeName, request);
    if (subscription !== undefined && resourceGroup !== undefined) {
      this.requireResourceGroup(subscription, resourceGroup);
    }
    if (request.ctx.method === 'PUT') checkPutContent(request.ctx);
  }

  private checkApiVersion(url: URL): void {
    const version = url.searchParams.get('api-version');
    if (!version) {
      throw new ArmFailure(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    }
    const target = resourceTypeOf(url.pathname);
    if (!target) return;
    const supported = supportedVersions(target);
    if (!supported) return;
    if (!/^\d{4}-\d{2}-\d{2}(-[a-z]+)?$/i.test(version)) {
      throw new ArmFailure(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${version}' is invalid. The supported versions are '${supported.join(',')}'.`,
      );
    }
    if (!supported.includes(version)) {
      throw new ArmFailure(
        400,
        'NoRegisteredProviderFound',
        `No registered resource provider found for location '${this.locationForMessage(url.pathname)}' and API ` +
          `version '${version}' for type '${target.type}'. The supported api-versions are '${supported.join(', ')}'. ` +
          `The supported locations are '${SUPPORTED_LOCATIONS}'.`,
      );
    }
  }

  private checkToken(req: IncomingMessage): void {
    const authorization = header(req, 'authorization');
    const challenge = (description: string) => ({
      'WWW-Authenticate':
        `Bearer authorization_uri="https://login.windows.net/", error="invalid_token", ` +
        `error_description="${description}"`,
      'x-ms-failure-cause': 'gateway',
    });
    if (authorization === undefined) {
      throw new ArmFailure(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is missing.",
        {
          headers: challenge("The authentication failed because of missing 'Authorization' header."),
        },
      );
    }
    const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
    if (!m) {
      throw new ArmFailure(
        401,
        'AuthenticationFailed',
        "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        { headers: challenge("The 'Authorization' header is provided in an invalid format.") },
      );
    }
    if (m[1] !== this.token) {
      throw new ArmFailure(401, 'InvalidAuthenticationToken', 'The access token is invalid.', {
        headers: challenge('The access token is invalid.'),
      });
    }
  }

  private checkSubscription(subscription: string): void {
    if (!GUID.test(subscription)) {
      throw new ArmFailure(
        400,
        'InvalidSubscriptionId',
        `The provided subscription identifier '${subscription}' is malformed or invalid.`,
      );
    }
    if (!this.subscriptions.has(key(subscription))) {
      throw new ArmFailure(
        404,
        'SubscriptionNotFound',
        `The subscription '${subscription}' could not be found.`,
      );
    }
  }

  private checkThrottle(routeName: string, request: ArmRequest): void {
    const next = this.throttles.get(routeName)?.shift();
    if (!next) return;
    const kind = request.ctx.method === 'GET' ? 'read' : request.ctx.method === 'DELETE' ? 'delete' : 'write';
    const message =
      next.code === 'RetryableErrorDueToAnotherOperation'
        ? `Operation on resource ${request.ctx.url.pathname} is not allowed because another operation is in progress ` +
          `on this or a dependent resource. Retry the request after ${next.retryAfter} seconds.`
        : `Number of '${kind}' requests for subscription '${request.params.subscription ?? ''}' actor ` +
          `'${CLIENT_OBJECT_ID}' exceeded. Please try again after '${next.retryAfter}' seconds after additional ` +
          `tokens are available. Refer to https://aka.ms/arm-throttling`;
    const details = next.code === 'RetryableErrorDueToAnotherOperation' ? { details: [] } : {};
    throw new ArmFailure(429, next.code, message, {
      ...details,
      headers: { 'Retry-After': String(next.retryAfter) },
    });
  }

  private checkAuthorization(routeName: string, request: ArmRequest): void {
    const path = key(request.ctx.url.pathname.replace(/\/+$/, ''));
    const access = request.ctx.method === 'GET' ? 'read' : 'write';
    const denied = this.forbids.some(
      (f) =>
        (f.access === 'all' || f.access === access) && (path === f.scope || path.startsWith(`${f.scope}/`)),
    );
    if (!denied) return;
    const scope = request.ctx.url.pathname.replace(/\/+$/, '');
    throw new ArmFailure(
      403,
      'AuthorizationFailed',
      `The client '${CLIENT_OBJECT_ID}' with object id '${CLIENT_OBJECT_ID}' does not have authorization to perform ` +
        `action '${actionOf(routeName)}' over scope '${scope}' or the scope is invalid. If access was recently ` +
        `granted, please refresh your credentials.`,
    );
  }

  private registerResourceGroup(subscription: string, resourceGroup: string): void {
    if (!this.subscriptions.has(key(subscription))) this.subscriptions.set(key(subscription), subscription);
    const rgKey = key(rgPath(subscription, resourceGroup));
    if (!this.resourceGroups.has(rgKey)) this.resourceGroups.set(rgKey, resourceGroup);
  }

  /** The resource group's name as it was created. */
  private requireResourceGroup(subscription: string, resourceGroup: string): string {
    const name = this.resourceGroups.get(key(rgPath(subscription, resourceGroup)));
    if (name === undefined) {
      throw new ArmFailure(
        404,
        'ResourceGroupNotFound',
        `Resource group '${resourceGroup}' could not be found.`,
      );
    }
    return name;
  }

  private locationForMessage(path: string): string {
    const lower = key(path);
    const nsg = [...this.nsgs.values()].find((n) => lower === key(n.id) || lower.startsWith(`${key(n.id)}/`));
    if (nsg) return nsg.location;
    const group = this.ipGroups.get(lower);
    if (group) return group.location;
    const apim = this.apims.get(lower);
    if (apim) return normalizeLocation(apim.seed.location);
    return /\/locations\/([^/]+)\//i.exec(path)?.[1] ?? '*';
  }

  // ----- APIM ----------------------------------------------------------------------------------------------------

  private getApim(r: ArmRequest): Reply {
    const record = this.apims.get(key(r.ctx.url.pathname.replace(/\/+$/, '')));
    if (!record) {
      throw new ArmFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.ApiManagement/service/${r.params.service}' under resource group ` +
          `'${r.params.resourceGroup}' was not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    return { status: 200, body: this.renderApim(record, r.apiVersion) };
  }

  private listApims(r: ArmRequest): Reply {
    const scope = key(r.ctx.url.pathname.replace(/\/providers\/.*$/i, ''));
    const items = [...this.apims.values()]
      .filter((a) => key(a.id).startsWith(`${scope}/`))
      .map((a) => this.renderApim(a, r.apiVersion));
    return { status: 200, body: this.page(r, items) };
  }

  private renderApim(record: ApimRecord, apiVersion: string): Record<string, unknown> {
    const { seed, ref } = record;
    const body: Record<string, unknown> = {
      id: record.id,
      name: ref.name,
      type: 'Microsoft.ApiManagement/service',
      tags: seed.tags ?? {},
      location: seed.location,
      etag: base64Etag(record.etag),
      properties: this.renderApimProperties(record, apiVersion),
      sku: { name: seed.sku.name, capacity: seed.sku.capacity },
      identity: { type: 'SystemAssigned', principalId: record.principalId, tenantId: TENANT_ID },
      systemData: {
        createdBy: 'sandbox@contoso.com',
        createdByType: 'User',
        createdAt: record.createdAt,
        lastModifiedBy: 'sandbox@contoso.com',
        lastModifiedByType: 'User',
        lastModifiedAt: record.modifiedAt,
      },
    };
    if (skuTier(seed.sku.name) === 'v2') body.zones = null;
    return body;
  }

  private renderApimProperties(record: ApimRecord, apiVersion: string): Record<string, unknown> {
    const { seed, ref } = record;
    const host = ref.name.toLowerCase();
    const tier = skuTier(seed.sku.name);
    const classic = tier === 'classic';
    const gatewayUrl = seed.gatewayUrl ?? `https://${host}.azure-api.net`;
    const withOutbound = apiVersionAtLeast(apiVersion, '2022-08-01');
    const withPlatform = apiVersionAtLeast(apiVersion, '2021-08-01');
    const p: Record<string, unknown> = {
      publisherEmail: seed.publisherEmail ?? 'apim@contoso.com',
      publisherName: seed.publisherName ?? 'Contoso',
      notificationSenderEmail: 'apimgmt-noreply@mail.windowsazure.com',
      provisioningState: seed.provisioningState,
      targetProvisioningState: seed.targetProvisioningState ?? targetStateFor(seed.provisioningState),
      createdAtUtc: record.createdAt,
      gatewayUrl,
    };
    if (classic) {
      p.gatewayRegionalUrl = regionalUrl(host, seed.location);
      p.portalUrl = `https://${host}.portal.azure-api.net`;
      p.developerPortalUrl = `https://${host}.developer.azure-api.net`;
      p.managementApiUrl = `https://${host}.management.azure-api.net`;
      p.scmUrl = `https://${host}.scm.azure-api.net`;
    }
    p.hostnameConfigurations = [
      {
        type: 'Proxy',
        hostName: new URL(gatewayUrl).hostname,
        negotiateClientCertificate: false,
        defaultSslBinding: true,
        certificateSource: 'BuiltIn',
      },
    ];
    if (seed.publicIPAddresses) p.publicIPAddresses = [...seed.publicIPAddresses];
    if (seed.privateIPAddresses) p.privateIPAddresses = [...seed.privateIPAddresses];
    if (seed.additionalLocations) {
      p.additionalLocations = seed.additionalLocations.map((l) => renderRegion(l, seed, host, apiVersion));
    }
    p.customProperties = {
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10': 'False',
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls11': 'False',
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls10': 'False',
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls11': 'False',
      'Microsoft.WindowsAzure.ApiManagement.Gateway.Protocols.Server.Http2': 'False',
    };
    p.virtualNetworkType = seed.virtualNetworkType ?? 'None';
    p.disableGateway = seed.disableGateway ?? false;
    const natGatewayState = seed.natGatewayState ?? (tier === 'classic' ? undefined : 'Unsupported');
    if (withOutbound && natGatewayState !== undefined) p.natGatewayState = natGatewayState;
    if (withOutbound && seed.outboundPublicIPAddresses) {
      p.outboundPublicIPAddresses = [...seed.outboundPublicIPAddresses];
    }
    p.apiVersionConstraint = {};
    if (withPlatform) {
      p.publicNetworkAccess = 'Enabled';
      p.platformVersion = seed.platformVersion ?? defaultPlatform(tier);
    }
    return p;
  }

  private nextApimEtag(): bigint {
    this.apimEtagCounter += BigInt(1 + Math.floor(Math.random() * 64));
    return this.apimEtagCounter;
  }

  // ----- NSG and security rules ----------------------------------------------------------------------------------

  private nsgFromParams(r: ArmRequest): NsgRecord {
    const { subscription = '', resourceGroup = '', nsg = '' } = r.params;
    const record = this.nsgs.get(key(nsgPath({ subscription, resourceGroup, name: nsg })));
    if (!record) {
      throw nrpFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Network/networkSecurityGroups/${nsg}' under resource group '${resourceGroup}' was not ` +
          `found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    return record;
  }

  private getNsg(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const body = {
      name: nsg.ref.name,
      id: nsg.id,
      etag: nsg.etag,
      type: 'Microsoft.Network/networkSecurityGroups',
      location: nsg.location,
      properties: {
        provisioningState: 'Succeeded',
        resourceGuid: nsg.resourceGuid,
        securityRules: [...nsg.rules.values()].map((rule) => this.renderRule(nsg, rule)),
        defaultSecurityRules: DEFAULT_RULES.map(({ name, ...props }) => ({
          name,
          id: `${nsg.id}/defaultSecurityRules/${name}`,
          etag: nsg.etag,
          type: 'Microsoft.Network/networkSecurityGroups/defaultSecurityRules',
          properties: { provisioningState: 'Succeeded', ...renderRuleProps(defaultRuleProps(props)) },
        })),
      },
    };
    return { status: 200, body, headers: { ETag: nsg.etag } };
  }

  private listRules(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const items = [...nsg.rules.values()].map((rule) => this.renderRule(nsg, rule));
    return { status: 200, body: this.page(r, items) };
  }

  private ruleNotFound(nsg: NsgRecord, name: string): ArmFailure {
    return nrpFailure(404, 'NotFound', `Resource ${nsg.id}/securityRules/${name} not found.`);
  }

  private getRule(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const name = r.params.rule ?? '';
    const rule = nsg.rules.get(name.toLowerCase());
    if (!rule) throw this.ruleNotFound(nsg, name);
    return { status: 200, body: this.renderRule(nsg, rule), headers: { ETag: nsg.etag } };
  }

  private putRule(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const name = r.params.rule ?? '';
    const ruleKey = name.toLowerCase();
    if (r.ctx.concurrentModification) this.concurrentRuleWrite(nsg, ruleKey);
    checkResourceName(name);
    const existing = nsg.rules.get(ruleKey);
    const id = existing?.id ?? `${nsg.id}/securityRules/${name}`;
    checkPreconditions(r.ctx.req, existing ? [nsg.etag] : undefined, id);
    const body = requireBody(r.ctx.body);
    const props = this.validateRuleInNsg(nsg, ruleKey, body.properties, id);
    const opId = randomUUID();
    const rollback = existing ? (existing.pendingOp ? existing.rollback : existing.props) : null;
    if (existing?.pendingOp) this.supersede(existing.pendingOp, opId);
    const record: RuleRecord = {
      id,
      name: existing?.name ?? name,
      props,
      provisioningState: 'Updating',
      pendingOp: opId,
      rollback: rollback ?? null,
    };
    nsg.rules.set(ruleKey, record);
    nsg.etag = weakEtag();
    this.startOperation(
      this.nsgOperation(nsg, opId, 'securityRule.put', 'PutSecurityRuleOperation'),
      (status) => this.finishRuleWrite(nsg, ruleKey, opId, status),
    );
    return {
      status: existing ? 200 : 201,
      body: this.renderRule(nsg, record),
      headers: { ...this.lroHeaders(r, opId, nsg.location, 'operations'), ETag: nsg.etag },
    };
  }

  private finishRuleWrite(nsg: NsgRecord, ruleKey: string, opId: string, status: TerminalStatus): void {
    const rule = nsg.rules.get(ruleKey);
    if (!rule || rule.pendingOp !== opId) return;
    const { rollback } = rule;
    Object.assign(rule, { pendingOp: undefined, rollback: undefined });
    if (status !== 'Canceled') rule.provisioningState = status;
    else if (rollback) Object.assign(rule, { props: rollback, provisioningState: 'Succeeded' });
    else nsg.rules.delete(ruleKey);
    nsg.etag = weakEtag();
  }

  private deleteRule(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const ruleKey = (r.params.rule ?? '').toLowerCase();
    const rule = nsg.rules.get(ruleKey);
    if (!rule) return { status: 204 };
    checkPreconditions(r.ctx.req, [nsg.etag], rule.id);
    const opId = randomUUID();
    if (rule.pendingOp) this.supersede(rule.pendingOp, opId);
    Object.assign(rule, { provisioningState: 'Deleting', pendingOp: opId });
    nsg.etag = weakEtag();
    this.startOperation(
      this.nsgOperation(nsg, opId, 'securityRule.delete', 'DeleteSecurityRuleOperation'),
      (status) => this.finishRuleDelete(nsg, ruleKey, opId, status),
    );
    const headers = this.lroHeaders(r, opId, nsg.location, 'operations');
    headers.Location = this.operationUrl(r, nsg.location, 'operationResults', opId);
    return { status: 202, headers };
  }

  private finishRuleDelete(nsg: NsgRecord, ruleKey: string, opId: string, status: TerminalStatus): void {
    const rule = nsg.rules.get(ruleKey);
    if (!rule || rule.pendingOp !== opId) return;
    if (status === 'Succeeded') {
      nsg.rules.delete(ruleKey);
    } else {
      Object.assign(rule, {
        provisioningState: status === 'Failed' ? 'Failed' : 'Succeeded',
        pendingOp: undefined,
      });
    }
    nsg.etag = weakEtag();
  }

  /** Rule-level then NSG-level checks (priority per direction, rule count, addresses per NSG). */
  private validateRuleInNsg(nsg: NsgRecord, ruleKey: string, properties: unknown, ruleId: string): RuleProps {
    const props = validateRuleProperties(properties, ruleId);
    const others = [...nsg.rules.entries()].filter(([k]) => k !== ruleKey).map(([, rule]) => rule);
    const clash = others.find(
      (o) => o.props.priority === props.priority && o.props.direction === props.direction,
    );
    if (clash) {
      throw nrpFailure(
        400,
        'SecurityRuleConflict',
        `Security rule ${clash.name} conflicts with rule ${ruleId.split('/').pop() ?? ''}. Rules cannot have the ` +
          `same Priority and Direction. To learn more, see aka.ms/nsgrules.`,
      );
    }
    if (others.length + 1 > MAX_RULES_PER_NSG) {
      throw nrpFailure(
        400,
        'SecurityRuleCountLimitReached',
        `A security group cannot have more than ${MAX_RULES_PER_NSG} security rules.`,
      );
    }
    for (const side of ['source', 'destination'] as const) checkPrefixBudget(others, props, side);
    return props;
  }

  /** Another writer changes the rule just before this request (new etag; one more address where a list is used). */
  private concurrentRuleWrite(nsg: NsgRecord, ruleKey: string): void {
    const rule = nsg.rules.get(ruleKey);
    if (!rule) return;
    const side =
      rule.props.sourceAddressPrefixes.length > 0 ? 'sourceAddressPrefixes' : 'destinationAddressPrefixes';
    const list = rule.props[side];
    const extra = this.foreignAddress(list);
    if (extra !== undefined) rule.props = { ...rule.props, [side]: [...list, extra] };
    nsg.etag = weakEtag();
  }

  /** A TEST-NET address of the list's family that overlaps nothing in it. */
  private foreignAddress(list: string[]): string | undefined {
    if (list.length === 0) return undefined;
    const existing = list.map(parsePrefix).filter((p): p is Prefix => p !== undefined);
    const family = existing[0]?.family ?? 4;
    const n = 10 + (this.concurrentWrites++ % 200);
    const candidate = family === 4 ? `198.51.100.${n}` : `2001:db8::${n.toString(16)}`;
    const parsed = parsePrefix(candidate) as Prefix;
    return existing.some((p) => prefixesOverlap(p, parsed)) ? undefined : candidate;
  }

  private nsgOperation(nsg: NsgRecord, id: string, routeName: string, name: string) {
    const kind = 'operations' as const;
    return { id, name, routeName, kind, subscription: nsg.ref.subscription, location: nsg.location };
  }

  private renderRule(nsg: NsgRecord, rule: RuleRecord): Record<string, unknown> {
    return {
      name: rule.name,
      id: rule.id,
      etag: nsg.etag,
      type: RULE_TYPE,
      properties: { provisioningState: rule.provisioningState, ...renderRuleProps(rule.props) },
    };
  }

  private requireNsgOf(ruleId: string): { nsg: NsgRecord; ruleKey: string } {
    const ref = parseRuleId(ruleId);
    const nsg = this.nsgs.get(key(nsgPath(ref)));
    if (!nsg) throw new Error(`no NSG ${nsgPath(ref)}: call setNsg() first`);
    return { nsg, ruleKey: ref.rule.toLowerCase() };
  }

  // ----- IP Groups -----------------------------------------------------------------------------------------------

  private ipGroupFromParams(r: ArmRequest): { record?: IpGroupRecord; ref: IpGroupRef } {
    const { subscription = '', resourceGroup = '', ipGroup = '' } = r.params;
    const ref = {
      subscription,
      resourceGroup: this.requireResourceGroup(subscription, resourceGroup),
      name: ipGroup,
    };
    return { record: this.ipGroups.get(key(ipGroupPath(ref))), ref };
  }

  private getIpGroup(r: ArmRequest): Reply {
    const { record } = this.ipGroupFromParams(r);
    if (!record) {
      throw nrpFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Network/ipGroups/${r.params.ipGroup}' under resource group ` +
          `'${r.params.resourceGroup}' was not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    return { status: 200, body: this.renderIpGroup(record), headers: { ETag: `"${record.etag}"` } };
  }

  private putIpGroup(r: ArmRequest): Reply {
    const { record: before, ref } = this.ipGroupFromParams(r);
    if (before && r.ctx.concurrentModification) this.concurrentIpGroupWrite(before);
    checkResourceName(ref.name);
    const body = requireBody(r.ctx.body);
    const content = readIpGroupBody(body);
    if (before && before.location !== content.location) {
      throw new ArmFailure(
        409,
        'InvalidResourceLocation',
        `The resource '${ref.name}' already exists in location '${before.location}' in resource group ` +
          `'${ref.resourceGroup}'. A resource with the same name cannot be created in location ` +
          `'${content.location}'. Please select a new resource name.`,
      );
    }
    checkPreconditions(r.ctx.req, before ? [`"${before.etag}"`, before.etag] : undefined, ipGroupPath(ref));
    this.validateIpGroupContent(content);
    const opId = randomUUID();
    const rollback = before ? (before.pendingOp ? before.rollback : ipGroupContent(before)) : null;
    if (before?.pendingOp) this.supersede(before.pendingOp, opId);
    const record: IpGroupRecord = {
      ...content,
      ref,
      id: before?.id ?? ipGroupPath(ref),
      etag: randomUUID(),
      provisioningState: 'Updating',
      pendingOp: opId,
      rollback: rollback ?? null,
    };
    this.ipGroups.set(key(record.id), record);
    const operation = {
      id: opId,
      name: 'PutIpGroupOperation',
      routeName: 'ipGroup.put',
      kind: 'nfvOperations' as const,
    };
    this.startOperation(
      { ...operation, subscription: ref.subscription, location: content.location },
      (status) => this.finishIpGroupWrite(key(record.id), opId, status),
    );
    return {
      status: before ? 200 : 201,
      body: this.renderIpGroup(record),
      headers: { ...this.lroHeaders(r, opId, content.location, 'nfvOperations'), ETag: `"${record.etag}"` },
    };
  }

  private finishIpGroupWrite(recordKey: string, opId: string, status: TerminalStatus): void {
    const record = this.ipGroups.get(recordKey);
    if (!record || record.pendingOp !== opId) return;
    if (status === 'Canceled' && !record.rollback) {
      this.ipGroups.delete(recordKey);
      return;
    }
    if (status === 'Canceled' && record.rollback) Object.assign(record, { tags: undefined }, record.rollback);
    record.provisioningState = status === 'Failed' ? 'Failed' : 'Succeeded';
    record.pendingOp = undefined;
    record.rollback = undefined;
    record.etag = randomUUID();
  }

  private validateIpGroupContent(content: IpGroupContent): IpGroupContent {
    const bad = content.ipAddresses.find((entry) => !isIpGroupEntry(entry));
    if (bad !== undefined)
      throw nrpFailure(400, 'InvalidAddressPrefixFormat', `IP Prefix ${bad} is invalid.`);
    if (content.ipAddresses.length === 0) {
      throw nrpFailure(
        400,
        'IPGroupsIPAddressCountZero',
        'The IP Group must contain at least one IP address or prefix.',
      );
    }
    if (content.ipAddresses.length > MAX_IP_GROUP_ENTRIES) {
      throw nrpFailure(
        400,
        'IPGroupsIPAddressCountExceeded',
        `The IP Group contains ${content.ipAddresses.length} IP addresses or prefixes. ` +
          `An IP Group can contain at most ${MAX_IP_GROUP_ENTRIES}.`,
      );
    }
    return content;
  }

  private concurrentIpGroupWrite(record: IpGroupRecord): void {
    const extra = this.foreignAddress(record.ipAddresses.filter((a) => !a.includes('-')));
    if (extra !== undefined) record.ipAddresses = [...record.ipAddresses, extra];
    record.etag = randomUUID();
  }

  private renderIpGroup(record: IpGroupRecord): Record<string, unknown> {
    const body: Record<string, unknown> = {
      name: record.ref.name,
      id: record.id,
      etag: record.etag,
      type: 'Microsoft.Network/IpGroups',
      location: record.location,
    };
    if (record.tags) body.tags = { ...record.tags };
    body.properties = {
      provisioningState: record.provisioningState,
      ipAddresses: [...record.ipAddresses],
      firewalls: [],
      firewallPolicies: [],
    };
    return body;
  }

  // ----- long-running operations ---------------------------------------------------------------------------------

  private startOperation(
    start: Pick<Operation, 'id' | 'name' | 'subscription' | 'location' | 'kind'> & { routeName: string },
    apply: (status: TerminalStatus) => void,
  ): void {
    const planned = this.plannedOutcomes.get(start.routeName)?.shift() ?? { status: 'Succeeded' };
    const { routeName: _routeName, ...op } = start;
    this.operations.set(start.id, {
      ...op,
      subscription: key(start.subscription),
      status: 'InProgress',
      pollsLeft: this.lroPolls,
      planned,
      apply,
    });
  }

  private settle(op: Operation): void {
    op.status = op.planned.status;
    op.error = op.planned.error;
    op.apply(op.status);
  }

  private supersede(opId: string, byOpId: string): void {
    const op = this.operations.get(opId);
    if (!op || op.status !== 'InProgress') return;
    op.status = 'Canceled';
    op.error = {
      code: 'CanceledAndSupersededDueToAnotherOperation',
      message: `Operation ${op.name} (${op.id}) was canceled and superseded by operation ${op.name} (${byOpId}).`,
    };
  }

  private findOperation(r: ArmRequest, kind: Operation['kind']): Operation {
    const op = this.operations.get((r.params.operation ?? '').toLowerCase());
    const matches =
      op !== undefined &&
      op.kind === kind &&
      op.subscription === key(r.params.subscription ?? '') &&
      op.location === normalizeLocation(r.params.location ?? '');
    if (!matches) {
      throw nrpFailure(404, 'NotFound', `Operation ${r.params.operation} not found.`);
    }
    return op;
  }

  /** Counts down the poll budget; true while the operation is still running. */
  private advance(op: Operation): boolean {
    if (op.status !== 'InProgress') return false;
    if (op.pollsLeft > 0) {
      op.pollsLeft--;
      return true;
    }
    this.settle(op);
    return false;
  }

  private getOperation(r: ArmRequest, kind: Operation['kind']): Reply {
    const op = this.findOperation(r, kind);
    if (this.advance(op)) {
      return {
        status: 200,
        body: { status: 'InProgress' },
        headers: { 'Retry-After': String(this.retryAfterSeconds) },
      };
    }
    const body: Record<string, unknown> = { status: op.status };
    if (op.error) body.error = { ...op.error, details: [] };
    return { status: 200, body };
  }

  private getOperationResult(r: ArmRequest): Reply {
    const op = this.findOperation(r, 'operations');
    if (this.advance(op)) {
      return {
        status: 202,
        headers: {
          Location: this.operationUrl(r, op.location, 'operationResults', op.id),
          'Retry-After': String(this.retryAfterSeconds),
        },
      };
    }
    if (op.status === 'Succeeded') return { status: 204 };
    const error = op.error ?? defaultOperationError('securityRule.delete', 'Failed');
    return nrpFailure(400, error.code, error.message).reply();
  }

  private operationUrl(r: ArmRequest, location: string, kind: string, opId: string): string {
    const subscription = r.params.subscription ?? '';
    return (
      `${this.url}/subscriptions/${subscription}/providers/Microsoft.Network/locations/${location}/${kind}/${opId}` +
      `?api-version=${encodeURIComponent(r.apiVersion)}`
    );
  }

  private lroHeaders(
    r: ArmRequest,
    opId: string,
    location: string,
    kind: Operation['kind'],
  ): Record<string, string> {
    return {
      'Azure-AsyncOperation': this.operationUrl(r, location, kind, opId),
      'Azure-AsyncNotification': 'Enabled',
      'Retry-After': String(this.retryAfterSeconds),
      'x-ms-request-id': opId,
      'x-ms-arm-service-request-id': randomUUID(),
    };
  }

  // ----- paging --------------------------------------------------------------------------------------------------

  private page(r: ArmRequest, items: Array<Record<string, unknown>>): Record<string, unknown> {
    const token = r.ctx.url.searchParams.get('$skipToken');
    const start = token ? Number(Buffer.from(token, 'base64url').toString('utf8')) || 0 : 0;
    const body: Record<string, unknown> = { value: items.slice(start, start + this.pageSize) };
    if (start + this.pageSize < items.length) {
      const next = new URL(`${this.url}${r.ctx.url.pathname}`);
      next.searchParams.set('api-version', r.apiVersion);
      next.searchParams.set('$skipToken', Buffer.from(String(start + this.pageSize)).toString('base64url'));
      body.nextLink = next.toString();
    }
    return body;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers that need no emulator state

/** Seeds go through the same validation as requests; a seed real Azure would refuse is a test bug. */
function seedOrThrow<T>(validate: () => T): T {
  try {
    return validate();
  } catch (error) {
    if (error instanceof ArmFailure) throw new Error(`invalid seed: ${error.code}: ${error.message}`);
    throw error;
  }
}

/** `{ namespace, type }` of an ARM provider path, e.g. Microsoft.Network + networkSecurityGroups/securityRules. */
function resourceTypeOf(path: string): { namespace: string; type: string } | undefined {
  const m = /\/providers\/([^/]+)\/(.+)$/i.exec(path.replace(/\/+$/, ''));
  if (!m) return undefined;
  const segments = (m[2] as string).split('/');
  const type = segments.filter((_, i) => i % 2 === 0).join('/');
  return { namespace: m[1] as string, type };
}

function supportedVersions(target: { namespace: string; type: string }): string[] | undefined {
  const namespace = target.namespace.toLowerCase();
  if (namespace === 'microsoft.apimanagement') return APIM_VERSIONS;
  if (namespace !== 'microsoft.network') return undefined;
  return /^ipgroups$|nfvoperations$/i.test(target.type) ? IP_GROUP_VERSIONS : NETWORK_VERSIONS;
}

function actionOf(routeName: string): string {
  const actions: Record<string, string> = {
    'apim.get': 'Microsoft.ApiManagement/service/read',
    'apim.list': 'Microsoft.ApiManagement/service/read',
    'nsg.get': 'Microsoft.Network/networkSecurityGroups/read',
    'securityRule.get': 'Microsoft.Network/networkSecurityGroups/securityRules/read',
    'securityRule.list': 'Microsoft.Network/networkSecurityGroups/securityRules/read',
    'securityRule.put': 'Microsoft.Network/networkSecurityGroups/securityRules/write',
    'securityRule.delete': 'Microsoft.Network/networkSecurityGroups/securityRules/delete',
    'ipGroup.get': 'Microsoft.Network/ipGroups/read',
    'ipGroup.put': 'Microsoft.Network/ipGroups/write',
  };
  return actions[routeName] ?? 'Microsoft.Network/locations/operations/read';
}

function defaultOperationError(routeName: string, status: 'Failed' | 'Canceled'): ErrorBody {
  if (status === 'Canceled') return { code: 'Canceled', message: 'Operation was canceled.' };
  if (routeName.startsWith('ipGroup')) {
    return {
      code: 'IpGroupsUpdateFailed',
      message: 'Failed to update the IP Group. Please retry the operation.',
    };
  }
  return { code: 'InternalServerError', message: 'An error occurred.' };
}

function checkPutContent(ctx: RouteContext): void {
  const type = header(ctx.req, 'content-type') ?? '';
  if (ctx.rawBody.length > 0 && !/^application\/json\b/i.test(type)) {
    throw new ArmFailure(
      415,
      'UnsupportedMediaType',
      `The content media type '${type}' is not supported. Only 'application/json' is supported.`,
    );
  }
}

function requireBody(body: unknown): Record<string, unknown> {
  if (!isRecord(body)) {
    throw new ArmFailure(
      400,
      'InvalidRequestContent',
      "The request content was invalid and could not be deserialized: 'The request content is empty or not a JSON " +
        "object.'.",
    );
  }
  return body;
}

function checkPreconditions(req: IncomingMessage, etagForms: string[] | undefined, resourceId: string): void {
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  const failed = () =>
    nrpFailure(
      412,
      'PreconditionFailed',
      `The precondition given in the If-Match or If-None-Match header was not met for resource ${resourceId}.`,
    );
  if (ifMatch !== undefined) {
    if (!etagForms) throw failed();
    if (ifMatch.trim() !== '*' && !etagListMatches(ifMatch, etagForms)) throw failed();
  }
  if (ifNoneMatch !== undefined && etagForms) {
    if (ifNoneMatch.trim() === '*' || etagListMatches(ifNoneMatch, etagForms)) throw failed();
  }
}

function checkPrefixBudget(others: RuleRecord[], props: RuleProps, side: Side): void {
  const total = others.reduce((sum, o) => sum + literalCount(o.props, side), literalCount(props, side));
  if (total > MAX_PREFIXES_PER_NSG_SIDE) {
    throw nrpFailure(
      400,
      'SecurityGroupAddressPrefixLimitReached',
      `A security group cannot have more than ${MAX_PREFIXES_PER_NSG_SIDE} ${side} IP addresses and ranges. ` +
        `This request would make it ${total}.`,
    );
  }
}

/** Rule properties in the order NRP writes them (real traffic), plural arrays always present. */
function renderRuleProps(props: RuleProps): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of RULE_WIRE_ORDER) {
    if (props[name] !== undefined) out[name] = structuredClone(props[name]);
  }
  return out;
}

/** Default rules sit outside the 100–4096 range, so they are not validated. */
function defaultRuleProps(seed: SecurityRuleSeed): RuleProps {
  return {
    ...seed,
    sourcePortRange: '*',
    destinationPortRange: '*',
    sourcePortRanges: [],
    destinationPortRanges: [],
    sourceAddressPrefixes: [],
    destinationAddressPrefixes: [],
  };
}

function readIpGroupBody(body: Record<string, unknown>): IpGroupContent {
  const { location, tags, properties } = body;
  if (typeof location !== 'string' || location.trim() === '') {
    throw new ArmFailure(400, 'LocationRequired', 'The location property is required for this definition.');
  }
  if (tags !== undefined && tags !== null && !isStringMap(tags)) {
    throw new ArmFailure(
      400,
      'InvalidRequestContent',
      "The request content was invalid: 'tags' must map strings.",
    );
  }
  const addresses = isRecord(properties) ? properties.ipAddresses : undefined;
  if (addresses !== undefined && addresses !== null && !isStringArray(addresses)) {
    throw invalidJson('properties.ipAddresses', "Error converting value to type 'List<String>'.");
  }
  return dropUndefined({
    location: normalizeLocation(location),
    tags: isStringMap(tags) ? { ...tags } : undefined,
    ipAddresses: isStringArray(addresses) ? [...addresses] : [],
  });
}

function ipGroupContent(record: IpGroupRecord): IpGroupContent {
  return dropUndefined({
    location: record.location,
    tags: record.tags,
    ipAddresses: [...record.ipAddresses],
  });
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isRecord(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

type SkuTier = 'classic' | 'v2' | 'consumption';

function skuTier(sku: string): SkuTier {
  const lower = sku.toLowerCase();
  if (lower === 'consumption') return 'consumption';
  return lower.endsWith('v2') ? 'v2' : 'classic';
}

function defaultPlatform(tier: SkuTier): string {
  return tier === 'classic' ? 'stv2' : tier === 'v2' ? 'undetermined' : 'mtv1';
}

function targetStateFor(provisioningState: string): string {
  if (['Succeeded', 'Stopped', 'Failed', 'Deleted'].includes(provisioningState)) return '';
  return ['Created', 'Activating'].includes(provisioningState) ? 'Activating' : provisioningState;
}

function regionalUrl(host: string, location: string): string {
  return `https://${host}-${normalizeLocation(location)}-01.regional.azure-api.net`;
}

function renderRegion(
  region: ApimRegionSeed,
  seed: ApimSeed,
  host: string,
  apiVersion: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    location: region.location,
    sku: { ...(region.sku ?? seed.sku) },
    zones: region.zones ?? [],
  };
  if (region.publicIPAddresses) out.publicIPAddresses = [...region.publicIPAddresses];
  if (region.privateIPAddresses) out.privateIPAddresses = [...region.privateIPAddresses];
  out.gatewayRegionalUrl = region.gatewayRegionalUrl ?? regionalUrl(host, region.location);
  if (apiVersionAtLeast(apiVersion, '2022-08-01')) {
    if (region.natGatewayState !== undefined) out.natGatewayState = region.natGatewayState;
    if (region.outboundPublicIPAddresses)
      out.outboundPublicIPAddresses = [...region.outboundPublicIPAddresses];
  }
  out.disableGateway = region.disableGateway ?? false;
  if (apiVersionAtLeast(apiVersion, '2021-08-01')) {
    out.platformVersion = region.platformVersion ?? seed.platformVersion ?? 'stv2';
  }
  return out;
}
