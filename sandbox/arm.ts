/**
 * Azure Resource Manager emulator: APIM services (read), NSG security rules, IP Groups and Firewall Policy rule
 * collection groups (read/write, long-running), App Service access restrictions (site config/web) and Azure Resource
 * Graph queries, served over HTTPS with ARM's envelopes, headers and awkward parts. Independent of lib/ by design.
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
 *
 * Firewall Policy rule collection groups (Microsoft.Network/firewallPolicies/{fp}/ruleCollectionGroups/{rcg}):
 * - Wire shape from real traffic (azure-powershell SessionRecords AzureFirewallPolicyTests, api 2021-05-01 and 2023-05-01):
 *   `{properties:{size?,priority,ruleCollections,provisioningState},id,name,type:"Microsoft.Network/FirewallPolicies/
 *   RuleCollectionGroups",etag,location}`; the etag is a BARE GUID in the body and `"<guid>"` in the ETag header (the
 *   spec example's `W/"…"` is not what the service sends; If-Match accepts both the quoted and the bare form). NRP
 *   rewrites every rule into its own key order with every list present (`[]` when unused): a NetworkRule comes back as
 *   ruleType, name, description?, ipProtocols, sourceAddresses, sourceIpGroups, destinationAddresses,
 *   destinationIpGroups, destinationFqdns, destinationPorts; a collection as ruleCollectionType, action, rules, name,
 *   priority. So a GET → PUT → GET of an untouched collection is byte for byte stable, but a PUT body is not echoed
 *   verbatim. ApplicationRule order is from the same recordings; the NatRule order is a guess. `size` ("0.00165081 MB")
 *   appears from api-version 2022-11-01 (the first version is a guess; 2023-05-01 has it, 2021-05-01 does not).
 * - PUT → 201/200, provisioningState "Updating", Azure-AsyncOperation …/locations/{loc}/nfvOperations/{id} and
 *   Retry-After 10 in real traffic (here `ruleCollectionGroupRetryAfterSeconds`, default retryAfterSeconds); the
 *   operation takes `ruleCollectionGroupPolls` InProgress polls (default lroPolls; minutes in reality). Whole-group
 *   semantics: collections and rules not in the body are gone afterwards.
 * - Concurrency: NRP serialises writes per firewall POLICY. While any rule collection group of the policy has an
 *   operation in flight, a PUT to any group of that policy answers 409 AnotherOperationInProgress "Another operation on
 *   this or dependent resource is in progress. To retrieve status of the operation use uri: …" (wording:
 *   azure-spring-apps-landing-zone-accelerator#115; 409 and per-policy scope: terraform-provider-azurerm#32081 and
 *   #15440, "Only one Rule Collection Group can be updated at a time", bicep#1013). Unlike NSG rules there is no
 *   superseding: the client must wait for the running operation (poll it, or settleOperations()) and retry.
 * - A Failed operation's default error is FirewallPolicyUpdateFailed "Put on Firewall Policy … Failed with 1 faulted
 *   referenced firewalls" (terraform-provider-azurerm#19843); the group keeps the new content, Failed.
 * - Validation: the name pattern ^[^_\W][\w-._]{0,79}(?<![-.])$ is the REST reference's; 100 groups per policy is the
 *   documented limit (MicrosoftDocs/azure-docs#98291); ranges a-b in sourceAddresses are accepted
 *   (terraform-provider-azurerm#21534). IPv6 is refused in rule addresses (Azure Firewall rules are IPv4-only; from
 *   memory). Every 400 code below is INVENTED (no real text was found; key on the status):
 *   FirewallPolicyRuleCollectionGroupInvalidPriority (100–65000), FirewallPolicyRuleCollectionInvalidType,
 *   FirewallPolicyRuleCollectionNameMissing, FirewallPolicyRuleCollectionInvalidPriority,
 *   FirewallPolicyRuleCollectionDuplicateName, FirewallPolicyRuleCollectionDuplicatePriority,
 *   FirewallPolicyRuleCollectionInvalidActionType, FirewallPolicyRuleCollectionInvalidRuleType (rule type not allowed
 *   in the collection, or Network and Application rules mixed), FirewallPolicyRuleNameMissing,
 *   FirewallPolicyRuleDuplicateName, FirewallPolicyNetworkRuleInvalidProtocol (exactly TCP|UDP|ICMP|Any),
 *   FirewallPolicyRuleMissingIpProtocols, FirewallPolicyRuleMissingSource, FirewallPolicyRuleMissingDestination,
 *   FirewallPolicyRuleMissingDestinationPorts, FirewallPolicyRuleInvalidIpAddressOrRangeFormat (message shaped after
 *   the classic firewall's "AzureFirewallRule AllowDNS: Invalid IP address value or range …", azure-docs#11806),
 *   FirewallPolicyRuleInvalidPort, FirewallPolicyRuleInvalidFqdn, FirewallPolicyRuleInvalidIpGroupId (format only;
 *   whether the IP Group exists is not checked), FirewallPolicyRuleCollectionGroupCountLimitReached. Not enforced (not
 *   found): group priorities unique per policy, per-group size limits.
 * - concurrentModification on a group PUT: another writer changed the group just before (new etag; the first network
 *   rule with source addresses gains one TEST-NET address).
 *
 * App Service site config (Microsoft.Web/sites/{app}/config/web):
 * - Real traffic (azure-powershell SessionRecords AccessRestrictionTests, api 2018-11-01; azure-powershell#13818):
 *   `name` is the SITE name, not "web"; `location` is the display form ("West US"); Content-Type is
 *   `application/json` without charset; responses carry Server/X-AspNet-Version/X-Powered-By; there is NO ETag on
 *   config/web (the site itself has one) and If-Match is ignored. PUT and PATCH are synchronous 200s returning the
 *   whole config. A property left out of a PUT or PATCH keeps its value (App Service treats absent/null as "unchanged";
 *   ARM templates deploy partial sites/config 'web'); a list that is sent replaces the stored list whole.
 * - With no rules the list holds the implicit `{"ipAddress":"Any","action":"Allow","priority":2147483647,"name":
 *   "Allow all","description":"Allow all access"}` (AZURE.md §5; the 2019 recording showed priority 1, so identify it
 *   by ipAddress "Any", never by priority); once rules exist the implicit last entry is "Deny all"/"Deny all access"
 *   unless ipSecurityRestrictionsDefaultAction says Allow (docs: app-service-ip-restrictions.md). A client that
 *   writes the implicit entry back gets it STORED as an explicit rule (whether App Service drops it is unknown; this
 *   is the stricter choice — strip "Any" entries before a PUT). ipSecurityRestrictionsDefaultAction and its scm twin
 *   are rendered from api-version 2022-09-01 (a guess), `null` until set.
 * - Validation: "IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format." (terraform-provider-azurerm
 *   #3963; a bare address without subnetMask and a CIDR with host bits are refused here — stricter than unknown);
 *   "IpSecurityRestriction is invalid. Only IpAddress or VnetSubnetResourceId property must be specified."
 *   (terraform-provider-azurerm#13327 shows only its first words); up to 8 comma-separated ranges or service tags per
 *   rule, up to 8 values per header, headers x-forwarded-host|x-forwarded-for|x-azure-fdid|x-fd-healthprobe, 512 rules
 *   (app-service-ip-restrictions.md); duplicate priorities (the doc's Bicep sample) and duplicate or missing names
 *   (Azure/Azure-Functions#1852) are accepted; no name length limit was found, none is enforced. Errors use App
 *   Service's own envelope `{Code,Message,Target,Details:[…,{ErrorEntity:{ExtendedCode,MessageTemplate,…}}],
 *   Innererror}` (real, many issues); the ExtendedCode 51021 and the texts of the other refusals are INVENTED.
 *   A missing site is 404 with ExtendedCode 51004 "Cannot find {0} with name {1}." (template real, "Site" a guess).
 * - No concurrency control exists, so a concurrent modification is a silent lost update: concurrentModification on
 *   webConfig.put/patch lets another writer add a rule just before this request applies; a request that sends the list
 *   wipes it without any error. Only a re-read (and comparing with what the other writers expect) can tell.
 *
 * Azure Resource Graph (POST /providers/Microsoft.ResourceGraph/resources):
 * - Not KQL: the query shapes a reconciler sends are parsed — `resources` then `| where` (`type`, `name`, `location`,
 *   `resourceGroup`, `subscriptionId`, `tags['k']`/`tags["k"]`/`tags.k` with == =~ != !~, joined by `and`),
 *   `| project <columns>`, `| order by|sort by <column> [asc|desc]` (KQL's default is desc). Anything else is refused
 *   with ARG's real envelope: 400 BadRequest "Please provide below info when asking for support: timestamp = …,
 *   correlationId = …." with details InvalidQuery + ParserFailure {line, characterPositionInLine, token}
 *   (azure-powershell ResourceGraph tests). Column names and tag KEYS are case-sensitive (KQL property lookup; ARG
 *   keeps tag names as spelled — from memory, not verified here); `=~` compares values case-insensitively.
 * - Rows: every setApim service (type lower-cased, location like "westeurope", resourceGroup lower-cased, properties
 *   as the 2024-05-01 GET returns them) plus addGraphResource rows, live (no indexing lag).
 * - Scopes (real, 2026 observation quoted in public code): a subscription the caller cannot read is skipped SILENTLY
 *   (200, no hint; allowPartialScopes changes nothing); only when none is readable: 400 NoValidSubscriptionsInQueryRequest
 *   (text invented); a malformed one: SubscriptionsContainInvalidGuids (text invented). Readable = seeded and not
 *   forbid()den for read at /subscriptions/{id}; rows under a forbidden scope are filtered out (per-resource RBAC).
 *   managementGroups are accepted and treated as "every readable subscription".
 * - Paging: options.$top (1–1000, default 100 or `graphPageSize`), $skip, $skipToken (opaque, bound to the query and
 *   scopes; a foreign one is 400 InvalidSkipToken, invented). Body keys in real order: totalRecords, count, data,
 *   facets, resultTruncated (a STRING), $skipToken (only while rows remain). Without `id` in the projection ARG cannot
 *   page: resultTruncated "true" and no $skipToken. resultFormat "table" → data {columns:[{name,type}], rows}.
 * - Throttling (real headers and 429 body, public Go client comment of 2023 traffic): every answer carries
 *   x-ms-user-quota-remaining and x-ms-user-quota-resets-after (hh:mm:ss); past the quota (`graphQuota`, default 15
 *   per 5 s) → 429 RateLimiting "Client application has been throttled …" with Retry-After.
 */
import { createHash, randomUUID } from 'node:crypto';
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
  /** InProgress poll answers of a rule collection group operation (default lroPolls; real ones take minutes). */
  ruleCollectionGroupPolls?: number;
  /** Retry-After on rule collection group LROs (default retryAfterSeconds; real NRP says 10). */
  ruleCollectionGroupRetryAfterSeconds?: number;
  /** Resource Graph rows per page when the request has no options.$top (default 100). */
  graphPageSize?: number;
  /** Resource Graph per-user quota (default 15 queries per 5-second window; windowSeconds may be fractional). */
  graphQuota?: { requests: number; windowSeconds: number };
}

/** An App Service site as seeded; restriction entries are validated like a PUT of config/web. */
export interface SiteSeed {
  location: string;
  ipSecurityRestrictions?: Array<Record<string, unknown>>;
  scmIpSecurityRestrictions?: Array<Record<string, unknown>>;
  scmIpSecurityRestrictionsUseMain?: boolean;
  ipSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  scmIpSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
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
/** Firewall policies appeared in 2019-06-01; rule collection groups replaced rule groups in 2020-05-01. */
const FIREWALL_POLICY_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2019-06-01');
const RULE_COLLECTION_GROUP_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2020-05-01');

/** Microsoft.Web stable versions (specification/web/…/AppService/readme.md) and the preview in the same list. */
// prettier-ignore
const WEB_VERSIONS = [
  '2015-08-01', '2016-03-01', '2016-08-01', '2016-09-01', '2018-02-01', '2018-11-01', '2019-08-01', '2020-06-01',
  '2020-09-01', '2020-10-01', '2020-12-01', '2021-01-01', '2021-01-15', '2021-02-01', '2021-03-01', '2022-03-01',
  '2022-09-01', '2023-01-01', '2023-12-01', '2024-04-01', '2024-11-01', '2025-03-01', '2025-05-01',
  '2026-03-01-preview', '2026-03-15', '2026-07-15', '2026-09-01',
];

// prettier-ignore
const GRAPH_VERSIONS = [
  '2018-09-01-preview', '2019-04-01', '2020-04-01-preview', '2020-09-01-preview', '2021-03-01', '2021-06-01-preview',
  '2022-10-01', '2024-04-01',
];

/** The APIM api-version whose GET body Resource Graph rows carry as `properties`. */
const GRAPH_APIM_VERSION = '2024-05-01';

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

/** `/subscriptions/{s}/resourceGroups/{rg}/providers/{type}/{name}` for a top-level resource type. */
function parseTopLevelId(id: string, type: string): ApimRef {
  const pattern = new RegExp(`${RG_PREFIX}${type.replace(/\./g, '\\.')}/([^/]+)$`, 'i');
  const [subscription, resourceGroup, name] = parseId(id, pattern, type) as [string, string, string];
  return { subscription, resourceGroup, name };
}

function parseApimId(id: string): ApimRef {
  return parseTopLevelId(id, 'Microsoft.ApiManagement/service');
}

function parseNsgId(id: string): NsgRef {
  return parseTopLevelId(id, 'Microsoft.Network/networkSecurityGroups');
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
  return parseTopLevelId(id, 'Microsoft.Network/ipGroups');
}

type PolicyRef = ApimRef;
interface RuleCollectionGroupRef extends PolicyRef {
  group: string;
}
type SiteRef = ApimRef;

function parseFirewallPolicyId(id: string): PolicyRef {
  return parseTopLevelId(id, 'Microsoft.Network/firewallPolicies');
}

function parseRuleCollectionGroupId(id: string): RuleCollectionGroupRef {
  const [subscription, resourceGroup, name, group] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/firewallPolicies/([^/]+)/ruleCollectionGroups/([^/]+)$`, 'i'),
    'Microsoft.Network/firewallPolicies/ruleCollectionGroups',
  ) as [string, string, string, string];
  return { subscription, resourceGroup, name, group };
}

function parseSiteId(id: string): SiteRef {
  return parseTopLevelId(id, 'Microsoft.Web/sites');
}

function firewallPolicyPath(ref: PolicyRef): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/Microsoft.Network/firewallPolicies/${ref.name}`;
}

function sitePath(ref: SiteRef): string {
  return `${rgPath(ref.subscription, ref.resourceGroup)}/providers/Microsoft.Web/sites/${ref.name}`;
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
// Firewall Policy rule collection groups: NRP's checks and the wire shape it writes back

const RULE_COLLECTION_GROUP_TYPE = 'Microsoft.Network/FirewallPolicies/RuleCollectionGroups';
/** The REST reference's pattern for rule collection group names. */
const RULE_COLLECTION_GROUP_NAME = /^[^_\W][\w.-]{0,79}(?<![-.])$/;
const MAX_RULE_COLLECTION_GROUPS = 100;
const FILTER_COLLECTION = 'FirewallPolicyFilterRuleCollection';
const NAT_COLLECTION = 'FirewallPolicyNatRuleCollection';
const NETWORK_PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'Any'];
const IP_GROUP_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/ipGroups\/[^/]+$/i;
const FQDN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;

interface WireOrder {
  keys: readonly string[];
  /** Lists NRP always writes, `[]` when unused. */
  lists: readonly string[];
}

const COLLECTION_ORDER: WireOrder = {
  keys: ['ruleCollectionType', 'action', 'rules', 'name', 'priority'],
  lists: ['rules'],
};
// prettier-ignore
const NETWORK_RULE_ORDER: WireOrder = {
  keys: ['ruleType', 'name', 'description', 'ipProtocols', 'sourceAddresses', 'sourceIpGroups', 'destinationAddresses',
    'destinationIpGroups', 'destinationFqdns', 'destinationPorts'],
  lists: ['ipProtocols', 'sourceAddresses', 'sourceIpGroups', 'destinationAddresses', 'destinationIpGroups',
    'destinationFqdns', 'destinationPorts'],
};
// prettier-ignore
const APPLICATION_RULE_ORDER: WireOrder = {
  keys: ['ruleType', 'name', 'description', 'protocols', 'fqdnTags', 'webCategories', 'targetFqdns', 'targetUrls',
    'terminateTLS', 'sourceAddresses', 'destinationAddresses', 'sourceIpGroups', 'httpHeadersToInsert'],
  lists: ['protocols', 'fqdnTags', 'webCategories', 'targetFqdns', 'targetUrls', 'sourceAddresses',
    'destinationAddresses', 'sourceIpGroups', 'httpHeadersToInsert'],
};
// prettier-ignore
const NAT_RULE_ORDER: WireOrder = {
  keys: ['ruleType', 'name', 'description', 'translatedAddress', 'translatedFqdn', 'translatedPort', 'ipProtocols',
    'sourceAddresses', 'sourceIpGroups', 'destinationAddresses', 'destinationPorts'],
  lists: ['ipProtocols', 'sourceAddresses', 'sourceIpGroups', 'destinationAddresses', 'destinationPorts'],
};

/** Rewrites an object in NRP's key order: known keys first (lists defaulted to []), unknown keys after, nulls dropped. */
function inWireOrder(source: Record<string, unknown>, order: WireOrder): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of order.keys) {
    const value = source[name];
    if (value !== undefined && value !== null) out[name] = structuredClone(value);
    else if (order.lists.includes(name)) out[name] = [];
  }
  for (const [name, value] of Object.entries(source)) {
    if (!order.keys.includes(name) && value !== undefined && value !== null)
      out[name] = structuredClone(value);
  }
  return out;
}

interface RuleCollectionGroupContent {
  priority: number;
  ruleCollections: Array<Record<string, unknown>>;
}

function groupFailure(code: string, message: string): ArmFailure {
  return nrpFailure(400, code, message);
}

function readInteger(source: Record<string, unknown>, name: string, path: string): number | undefined {
  const value = source[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw invalidJson(path, `Error converting value ${JSON.stringify(value)} to type 'System.Int32'.`);
  }
  return value;
}

function readStrings(source: Record<string, unknown>, name: string, path: string): string[] {
  const value = source[name];
  if (value === undefined || value === null) return [];
  if (!isStringArray(value)) throw invalidJson(path, `Error converting value to type 'List<String>'.`);
  return value;
}

function readRecords(value: unknown, path: string, type: string): Array<Record<string, unknown>> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isRecord)) {
    throw invalidJson(path, `Error converting value to type 'List<${type}>'.`);
  }
  return value;
}

/** Validates a group's wire `properties` as NRP does, returning what will be stored (in NRP's wire order). */
function readRuleCollectionGroup(properties: unknown, groupId: string): RuleCollectionGroupContent {
  const props = isRecord(properties) ? properties : {};
  const priority = readInteger(props, 'priority', 'properties.priority');
  if (priority === undefined || priority < 100 || priority > 65000) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionGroupInvalidPriority',
      `Rule Collection Group ${groupId} has invalid priority ${priority ?? 0}. ` +
        `The priority must be a value between 100 and 65000.`,
    );
  }
  const raw = readRecords(
    props.ruleCollections,
    'properties.ruleCollections',
    'FirewallPolicyRuleCollection',
  );
  const ruleCollections = raw.map((rc, i) =>
    readRuleCollection(rc, `properties.ruleCollections[${i}]`, groupId),
  );
  const seenNames = new Map<string, string>();
  const seenPriorities = new Map<number, string>();
  for (const rc of ruleCollections) {
    const name = rc.name as string;
    const rcPriority = rc.priority as number;
    if (seenNames.has(name.toLowerCase())) {
      throw groupFailure(
        'FirewallPolicyRuleCollectionDuplicateName',
        `Rule Collection Group ${groupId} contains more than one rule collection named ${name}. ` +
          `Rule collection names must be unique within a rule collection group.`,
      );
    }
    const clash = seenPriorities.get(rcPriority);
    if (clash !== undefined) {
      throw groupFailure(
        'FirewallPolicyRuleCollectionDuplicatePriority',
        `Rule collections ${clash} and ${name} in Rule Collection Group ${groupId} have the same priority ` +
          `${rcPriority}. Rule collection priorities must be unique within a rule collection group.`,
      );
    }
    seenNames.set(name.toLowerCase(), name);
    seenPriorities.set(rcPriority, name);
  }
  return { priority, ruleCollections };
}

function readRuleCollection(
  rc: Record<string, unknown>,
  path: string,
  groupId: string,
): Record<string, unknown> {
  const type = rc.ruleCollectionType;
  const label = typeof rc.name === 'string' && rc.name !== '' ? rc.name : path;
  if (type !== FILTER_COLLECTION && type !== NAT_COLLECTION) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionInvalidType',
      `Rule collection ${label} in ${groupId} has invalid ruleCollectionType ${String(type)}. ` +
        `Allowed values: ${FILTER_COLLECTION}, ${NAT_COLLECTION}.`,
    );
  }
  if (typeof rc.name !== 'string' || rc.name.trim() === '') {
    throw groupFailure(
      'FirewallPolicyRuleCollectionNameMissing',
      `Rule collection at ${path} in ${groupId} has no name. Every rule collection must have a name.`,
    );
  }
  const name = rc.name;
  const priority = readInteger(rc, 'priority', `${path}.priority`);
  if (priority === undefined || priority < 100 || priority > 65000) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionInvalidPriority',
      `Rule collection ${name} has invalid priority ${priority ?? 0}. The priority must be a value between 100 ` +
        `and 65000.`,
    );
  }
  const actionType = isRecord(rc.action) ? rc.action.type : undefined;
  const actions = type === NAT_COLLECTION ? ['DNAT'] : ['Allow', 'Deny'];
  if (typeof actionType !== 'string' || !actions.some((a) => a.toLowerCase() === actionType.toLowerCase())) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionInvalidActionType',
      `Rule collection ${name} has invalid action type ${String(actionType)}. A ${type} allows ` +
        `${actions.join(', ')}.`,
    );
  }
  const rules = readRecords(rc.rules, `${path}.rules`, 'FirewallPolicyRule').map((rule, j) =>
    readRule(rule, type, name, `${path}.rules[${j}]`),
  );
  const ruleNames = new Set<string>();
  for (const rule of rules) {
    const ruleName = (rule.name as string).toLowerCase();
    if (ruleNames.has(ruleName)) {
      throw groupFailure(
        'FirewallPolicyRuleDuplicateName',
        `Rule collection ${name} contains more than one rule named ${String(rule.name)}. Rule names must be ` +
          `unique within a rule collection.`,
      );
    }
    ruleNames.add(ruleName);
  }
  const kinds = new Set(rules.map((rule) => rule.ruleType));
  if (kinds.size > 1) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionInvalidRuleType',
      `Rule collection ${name} mixes ${[...kinds].join(' and ')} rules. All rules of a rule collection must ` +
        `have the same ruleType.`,
    );
  }
  return inWireOrder({ ...rc, rules }, COLLECTION_ORDER);
}

function readRule(
  rule: Record<string, unknown>,
  collectionType: string,
  collectionName: string,
  path: string,
): Record<string, unknown> {
  const allowed = collectionType === NAT_COLLECTION ? ['NatRule'] : ['NetworkRule', 'ApplicationRule'];
  const ruleType = rule.ruleType;
  if (typeof ruleType !== 'string' || !allowed.includes(ruleType)) {
    throw groupFailure(
      'FirewallPolicyRuleCollectionInvalidRuleType',
      `Rule at ${path} in rule collection ${collectionName} has ruleType ${String(ruleType)}; a ` +
        `${collectionType} can only contain ${allowed.join(' or ')} rules.`,
    );
  }
  if (typeof rule.name !== 'string' || rule.name.trim() === '') {
    throw groupFailure(
      'FirewallPolicyRuleNameMissing',
      `Rule at ${path} in rule collection ${collectionName} has no name. Every rule must have a name.`,
    );
  }
  const description = rule.description;
  if (description !== undefined && description !== null && typeof description !== 'string') {
    throw invalidJson(`${path}.description`, `Error converting value to type 'String'.`);
  }
  if (ruleType === 'NetworkRule') return readNetworkRule(rule, rule.name, path);
  if (ruleType === 'ApplicationRule') {
    checkSources(rule, rule.name, path);
    return inWireOrder({ terminateTLS: false, ...rule }, APPLICATION_RULE_ORDER);
  }
  checkSources(rule, rule.name, path);
  return inWireOrder(rule, NAT_RULE_ORDER);
}

function invalidAddress(ruleName: string, value: string): ArmFailure {
  return groupFailure(
    'FirewallPolicyRuleInvalidIpAddressOrRangeFormat',
    `FirewallPolicyRule ${ruleName}: Invalid IP address value or range ${value}.`,
  );
}

/** `*`, an IPv4 address, an IPv4 CIDR without host bits, an ascending IPv4 range `a-b`, or (destinations) a tag. */
function isFirewallAddress(text: string, allowServiceTags: boolean): boolean {
  if (text === '*') return true;
  const range = text.split('-');
  if (range.length === 2) {
    const [from = '', to = ''] = range;
    return isIPv4(from) && isIPv4(to) && ipv4ToBigInt(from) <= ipv4ToBigInt(to);
  }
  const prefix = parsePrefix(text);
  if (prefix) return prefix.family === 4;
  return allowServiceTags && isServiceTag(text);
}

function checkSources(rule: Record<string, unknown>, ruleName: string, path: string): void {
  const addresses = readStrings(rule, 'sourceAddresses', `${path}.sourceAddresses`);
  const groups = readStrings(rule, 'sourceIpGroups', `${path}.sourceIpGroups`);
  const bad = addresses.find((a) => !isFirewallAddress(a, false));
  if (bad !== undefined) throw invalidAddress(ruleName, bad);
  checkIpGroups(ruleName, groups);
}

function checkIpGroups(ruleName: string, ids: string[]): void {
  const bad = ids.find((id) => !IP_GROUP_ID.test(id));
  if (bad !== undefined) {
    throw groupFailure(
      'FirewallPolicyRuleInvalidIpGroupId',
      `FirewallPolicyRule ${ruleName}: ${bad} is not a valid IP Group resource id.`,
    );
  }
}

function isFirewallPort(text: string): boolean {
  if (text === '*') return true;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return false;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  return from >= 1 && from <= to && to <= 65535;
}

function readNetworkRule(rule: Record<string, unknown>, name: string, path: string): Record<string, unknown> {
  const protocols = readStrings(rule, 'ipProtocols', `${path}.ipProtocols`);
  if (protocols.length === 0) {
    throw groupFailure(
      'FirewallPolicyRuleMissingIpProtocols',
      `Network rule ${name} must specify at least one of the IP protocols ${NETWORK_PROTOCOLS.join(', ')}.`,
    );
  }
  const badProtocol = protocols.find((p) => !NETWORK_PROTOCOLS.includes(p));
  if (badProtocol !== undefined) {
    throw groupFailure(
      'FirewallPolicyNetworkRuleInvalidProtocol',
      `Network rule ${name} has invalid ipProtocols value ${badProtocol}. Allowed values: ` +
        `${NETWORK_PROTOCOLS.join(', ')}.`,
    );
  }
  const sources = readStrings(rule, 'sourceAddresses', `${path}.sourceAddresses`);
  const sourceGroups = readStrings(rule, 'sourceIpGroups', `${path}.sourceIpGroups`);
  if (sources.length === 0 && sourceGroups.length === 0) {
    throw groupFailure(
      'FirewallPolicyRuleMissingSource',
      `Network rule ${name} must specify sourceAddresses or sourceIpGroups.`,
    );
  }
  checkSources(rule, name, path);
  const destinations = readStrings(rule, 'destinationAddresses', `${path}.destinationAddresses`);
  const destinationGroups = readStrings(rule, 'destinationIpGroups', `${path}.destinationIpGroups`);
  const fqdns = readStrings(rule, 'destinationFqdns', `${path}.destinationFqdns`);
  if (destinations.length === 0 && destinationGroups.length === 0 && fqdns.length === 0) {
    throw groupFailure(
      'FirewallPolicyRuleMissingDestination',
      `Network rule ${name} must specify destinationAddresses, destinationIpGroups or destinationFqdns.`,
    );
  }
  const badDestination = destinations.find((a) => !isFirewallAddress(a, true));
  if (badDestination !== undefined) throw invalidAddress(name, badDestination);
  checkIpGroups(name, destinationGroups);
  const badFqdn = fqdns.find((f) => !FQDN.test(f));
  if (badFqdn !== undefined) {
    throw groupFailure(
      'FirewallPolicyRuleInvalidFqdn',
      `FirewallPolicyRule ${name}: ${badFqdn} is not a valid FQDN.`,
    );
  }
  const ports = readStrings(rule, 'destinationPorts', `${path}.destinationPorts`);
  if (ports.length === 0) {
    throw groupFailure(
      'FirewallPolicyRuleMissingDestinationPorts',
      `Network rule ${name} must specify at least one destination port.`,
    );
  }
  const badPort = ports.find((p) => !isFirewallPort(p));
  if (badPort !== undefined) {
    throw groupFailure(
      'FirewallPolicyRuleInvalidPort',
      `FirewallPolicyRule ${name}: Invalid port value or range ${badPort}. Valid ports are 1-65535 or '*'.`,
    );
  }
  return inWireOrder(rule, NETWORK_RULE_ORDER);
}

/** "0.00165081 MB", as NRP reports a group's size. */
function groupSize(content: RuleCollectionGroupContent): string {
  const bytes = Buffer.byteLength(JSON.stringify(content));
  return `${Number((bytes / 1_048_576).toPrecision(6))} MB`;
}

// ---------------------------------------------------------------------------------------------------------------
// App Service access restrictions

const WEB_RESPONSE_HEADERS: Record<string, string> = {
  'Content-Type': 'application/json',
  Server: 'Microsoft-IIS/10.0',
  'X-AspNet-Version': '4.0.30319',
  'X-Powered-By': 'ASP.NET',
};
const MAX_ACCESS_RESTRICTIONS = 512;
const MAX_RESTRICTION_SOURCES = 8;
const IMPLICIT_RESTRICTION_PRIORITY = 2147483647;
const RESTRICTION_TAGS = ['Default', 'XffProxy', 'ServiceTag'];
const RESTRICTION_HEADERS = ['x-forwarded-host', 'x-forwarded-for', 'x-azure-fdid', 'x-fd-healthprobe'];
const SUBNET_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+\/subnets\/[^/]+$/i;
// prettier-ignore
const RESTRICTION_ORDER: WireOrder = {
  keys: ['ipAddress', 'subnetMask', 'vnetSubnetResourceId', 'vnetTrafficTag', 'subnetTrafficTag', 'action', 'tag',
    'priority', 'name', 'description', 'headers'],
  lists: [],
};
const RESTRICTION_LISTS = ['ipSecurityRestrictions', 'scmIpSecurityRestrictions'] as const;
type RestrictionList = (typeof RESTRICTION_LISTS)[number];

/** App Service's own error envelope (PascalCase, not ARM's `{error:{…}}`). */
class WebFailure extends ArmFailure {
  constructor(
    status: number,
    code: string,
    readonly extendedCode: string,
    readonly template: string,
    readonly parameters: string[],
  ) {
    super(
      status,
      code,
      parameters.reduce((text, p, i) => text.replace(`{${i}}`, p), template),
    );
  }

  override reply(): Reply {
    const body = {
      Code: this.code,
      Message: this.message,
      Target: null,
      Details: [
        { Message: this.message },
        { Code: this.code },
        {
          ErrorEntity: {
            ExtendedCode: this.extendedCode,
            MessageTemplate: this.template,
            Parameters: this.parameters,
            Code: this.code,
            Message: this.message,
          },
        },
      ],
      Innererror: null,
    };
    return { status: this.status, body, headers: { ...WEB_RESPONSE_HEADERS } };
  }
}

/** A 400 whose message is fixed text (ExtendedCode 51021 and the wording of most of these are invented). */
function restrictionInvalid(message: string): WebFailure {
  return new WebFailure(400, 'BadRequest', '51021', '{0}', [message]);
}

function isCidr(text: string): boolean {
  return text.includes('/') && parsePrefix(text) !== undefined;
}

/** Validates one IpSecurityRestriction as App Service does, returning it in the order App Service writes it. */
function readRestriction(raw: unknown): Record<string, unknown> {
  if (!isRecord(raw)) throw restrictionInvalid('IpSecurityRestriction is invalid. It must be an object.');
  const ipAddress = raw.ipAddress;
  const subnet = raw.vnetSubnetResourceId;
  const hasIp = typeof ipAddress === 'string' && ipAddress !== '';
  const hasSubnet = typeof subnet === 'string' && subnet !== '';
  if (hasIp === hasSubnet) {
    throw restrictionInvalid(
      'IpSecurityRestriction is invalid. Only IpAddress or VnetSubnetResourceId property must be specified.',
    );
  }
  for (const field of ['name', 'description', 'subnetMask', 'tag', 'action'] as const) {
    const value = raw[field];
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw restrictionInvalid(`IpSecurityRestriction.${capitalize(field)} is invalid. It must be a string.`);
    }
  }
  const tag = typeof raw.tag === 'string' ? raw.tag : undefined;
  if (tag !== undefined && !RESTRICTION_TAGS.includes(tag)) {
    throw restrictionInvalid(
      `IpSecurityRestriction.Tag is invalid. Allowed values: ${RESTRICTION_TAGS.join(', ')}.`,
    );
  }
  const action = typeof raw.action === 'string' ? raw.action : 'Allow';
  if (action !== 'Allow' && action !== 'Deny') {
    throw restrictionInvalid(`IpSecurityRestriction.Action is invalid. Allowed values: Allow, Deny.`);
  }
  const priority = raw.priority;
  if (
    priority !== undefined &&
    priority !== null &&
    (typeof priority !== 'number' || !Number.isInteger(priority))
  ) {
    throw restrictionInvalid('IpSecurityRestriction.Priority is invalid. It must be an integer.');
  }
  if (hasIp) checkRestrictionAddress(ipAddress, tag, raw.subnetMask);
  if (hasSubnet && !SUBNET_ID.test(subnet)) {
    throw restrictionInvalid(
      'IpSecurityRestriction.VnetSubnetResourceId is invalid. It must be the resource id of a subnet.',
    );
  }
  checkRestrictionHeaders(raw.headers);
  return inWireOrder({ ...raw, action }, RESTRICTION_ORDER);
}

function checkRestrictionAddress(ipAddress: string, tag: string | undefined, subnetMask: unknown): void {
  const entries = ipAddress.split(',').map((e) => e.trim());
  if (entries.length > MAX_RESTRICTION_SOURCES) {
    throw restrictionInvalid(
      `IpSecurityRestriction.IpAddress is invalid. A rule can contain at most ${MAX_RESTRICTION_SOURCES} ` +
        `IP ranges or service tags.`,
    );
  }
  if (tag === 'ServiceTag') {
    const bad = entries.find((e) => e === '*' || !isServiceTag(e));
    if (bad !== undefined) {
      throw restrictionInvalid(
        `IpSecurityRestriction.IpAddress is invalid. '${bad}' is not a valid service tag.`,
      );
    }
    return;
  }
  if (entries.length === 1 && entries[0]?.toLowerCase() === 'any') return;
  const maskedAddress = entries.length === 1 && typeof subnetMask === 'string' && isIPv4(entries[0] ?? '');
  if (maskedAddress) {
    if (!isIPv4(subnetMask)) {
      throw restrictionInvalid('IpSecurityRestriction.SubnetMask is invalid. It must be an IPv4 mask.');
    }
    return;
  }
  if (!entries.every(isCidr)) {
    throw restrictionInvalid('IpSecurityRestriction.IpAddress is invalid. It must be in CIDR format.');
  }
}

function checkRestrictionHeaders(headers: unknown): void {
  if (headers === undefined || headers === null) return;
  if (!isRecord(headers)) throw restrictionInvalid('IpSecurityRestriction.Headers is invalid.');
  for (const [name, values] of Object.entries(headers)) {
    if (!RESTRICTION_HEADERS.includes(name.toLowerCase())) {
      throw restrictionInvalid(
        `IpSecurityRestriction.Headers is invalid. Header '${name}' is not supported. Supported headers: ` +
          `${RESTRICTION_HEADERS.join(', ')}.`,
      );
    }
    if (!isStringArray(values) || values.length === 0 || values.length > MAX_RESTRICTION_SOURCES) {
      throw restrictionInvalid(
        `IpSecurityRestriction.Headers is invalid. Header '${name}' must have between 1 and ` +
          `${MAX_RESTRICTION_SOURCES} values.`,
      );
    }
  }
}

function readRestrictionList(value: unknown, list: RestrictionList): Array<Record<string, unknown>> {
  if (!Array.isArray(value)) throw restrictionInvalid(`${capitalize(list)} is invalid. It must be an array.`);
  if (value.length > MAX_ACCESS_RESTRICTIONS) {
    throw restrictionInvalid(
      `${capitalize(list)} is invalid. There's a limit of ${MAX_ACCESS_RESTRICTIONS} access restriction rules; ` +
        `the request has ${value.length}.`,
    );
  }
  return value.map(readRestriction);
}

function readDefaultAction(value: unknown, name: string): 'Allow' | 'Deny' {
  if (value !== 'Allow' && value !== 'Deny') {
    throw restrictionInvalid(`${capitalize(name)} is invalid. Allowed values: Allow, Deny.`);
  }
  return value;
}

/** The entry App Service appends after the rules: what happens to traffic no rule matched. */
function implicitRestriction(action: 'Allow' | 'Deny'): Record<string, unknown> {
  const word = action === 'Allow' ? 'Allow' : 'Deny';
  return {
    ipAddress: 'Any',
    action,
    priority: IMPLICIT_RESTRICTION_PRIORITY,
    name: `${word} all`,
    description: `${word} all access`,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Resource Graph: the query shapes a reconciler sends (not KQL)

// prettier-ignore
const GRAPH_COLUMNS = [
  'id', 'name', 'type', 'tenantId', 'kind', 'location', 'resourceGroup', 'subscriptionId', 'managedBy', 'sku', 'plan',
  'properties', 'tags', 'identity', 'zones', 'extendedLocation',
];
const GRAPH_STRING_COLUMNS = [
  'id',
  'name',
  'type',
  'tenantId',
  'kind',
  'location',
  'resourceGroup',
  'subscriptionId',
  'managedBy',
];
const GRAPH_MAX_TOP = 1000;
const GRAPH_INVALID_QUERY = {
  code: 'InvalidQuery',
  message:
    'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error ' +
    'before retrying.',
};

interface KqlToken {
  kind: 'word' | 'string' | 'number' | 'symbol' | 'end';
  text: string;
  /** The string's value for `string` tokens, else the text. */
  value: string;
  line: number;
  column: number;
}

class KqlError extends Error {
  constructor(readonly token: KqlToken) {
    super(`unexpected ${token.text}`);
  }
}

type KqlOperator = '==' | '=~' | '!=' | '!~';

interface KqlPredicate {
  column: string;
  /** Set for `tags['key']` / `tags.key`. */
  tagKey?: string;
  operator: KqlOperator;
  value: string;
}

type KqlStep =
  | { kind: 'where'; predicates: KqlPredicate[] }
  | { kind: 'project'; columns: string[] }
  | { kind: 'order'; column: string; descending: boolean };

function tokenizeKql(query: string): KqlToken[] {
  const tokens: KqlToken[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const at = (start: number, kind: KqlToken['kind'], text: string, value = text): KqlToken => ({
    kind,
    text,
    value,
    line,
    column: start - lineStart,
  });
  while (i < query.length) {
    const c = query[i] as string;
    if (c === '\n') {
      line++;
      lineStart = ++i;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (query.startsWith('//', i)) {
      while (i < query.length && query[i] !== '\n') i++;
      continue;
    }
    const start = i;
    if (c === "'" || c === '"') {
      let value = '';
      i++;
      while (i < query.length && query[i] !== c && query[i] !== '\n') {
        if (query[i] === '\\' && i + 1 < query.length) i++;
        value += query[i];
        i++;
      }
      if (query[i] !== c) throw new KqlError(at(start, 'symbol', query.slice(start, i)));
      i++;
      tokens.push(at(start, 'string', query.slice(start, i), value));
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(query.slice(i));
    if (word) {
      i += word[0].length;
      tokens.push(at(start, 'word', word[0]));
      continue;
    }
    const number = /^\d+/.exec(query.slice(i));
    if (number) {
      i += number[0].length;
      tokens.push(at(start, 'number', number[0]));
      continue;
    }
    const symbol = /^(==|=~|!=|!~|[|()[\],.=<>!~+\-*/;:])/.exec(query.slice(i));
    if (!symbol) throw new KqlError(at(start, 'symbol', c));
    i += symbol[0].length;
    tokens.push(at(start, 'symbol', symbol[0]));
  }
  tokens.push(at(i, 'end', '<EOF>'));
  return tokens;
}

/** Parses the supported shapes, checking column names against what each step leaves available. */
function parseGraphQuery(query: string): KqlStep[] {
  const tokens = tokenizeKql(query);
  let pos = 0;
  const peek = (): KqlToken => tokens[pos] as KqlToken;
  const next = (): KqlToken => tokens[pos++] as KqlToken;
  const expect = (test: (t: KqlToken) => boolean): KqlToken => {
    const token = next();
    if (!test(token)) throw new KqlError(token);
    return token;
  };
  const isWord = (t: KqlToken, ...words: string[]) => t.kind === 'word' && words.includes(t.text);
  const isSymbol = (t: KqlToken, ...symbols: string[]) => t.kind === 'symbol' && symbols.includes(t.text);
  let available = [...GRAPH_COLUMNS];
  const column = (): string => {
    const token = expect((t) => t.kind === 'word');
    if (!available.includes(token.text)) throw new KqlError(token);
    return token.text;
  };

  const table = expect((t) => t.kind === 'word');
  if (table.text.toLowerCase() !== 'resources') throw new KqlError(table);
  const steps: KqlStep[] = [];
  while (peek().kind !== 'end') {
    expect((t) => isSymbol(t, '|'));
    const operator = next();
    if (isWord(operator, 'where')) {
      const predicates: KqlPredicate[] = [];
      for (;;) {
        const name = column();
        let tagKey: string | undefined;
        if (name === 'tags') {
          if (isSymbol(peek(), '[')) {
            next();
            tagKey = expect((t) => t.kind === 'string').value;
            expect((t) => isSymbol(t, ']'));
          } else {
            expect((t) => isSymbol(t, '.'));
            tagKey = expect((t) => t.kind === 'word').text;
          }
        } else if (!GRAPH_STRING_COLUMNS.includes(name)) {
          throw new KqlError(peek());
        }
        const op = expect((t) => isSymbol(t, '==', '=~', '!=', '!~')).text as KqlOperator;
        const value = expect((t) => t.kind === 'string').value;
        predicates.push({ column: name, tagKey, operator: op, value });
        if (!isWord(peek(), 'and')) break;
        next();
      }
      steps.push({ kind: 'where', predicates });
    } else if (isWord(operator, 'project')) {
      const columns = [column()];
      while (isSymbol(peek(), ',')) {
        next();
        columns.push(column());
      }
      available = columns;
      steps.push({ kind: 'project', columns });
    } else if (isWord(operator, 'order', 'sort')) {
      expect((t) => isWord(t, 'by'));
      const name = column();
      let descending = true;
      if (isWord(peek(), 'asc', 'desc')) descending = next().text === 'desc';
      steps.push({ kind: 'order', column: name, descending });
    } else {
      throw new KqlError(operator);
    }
  }
  return steps;
}

function kqlMatches(row: Record<string, unknown>, p: KqlPredicate): boolean {
  let actual: unknown = row[p.column];
  if (p.tagKey !== undefined) actual = isRecord(actual) ? actual[p.tagKey] : undefined;
  if (typeof actual !== 'string') return p.operator === '!=' || p.operator === '!~';
  const insensitive = p.operator === '=~' || p.operator === '!~';
  const equal = insensitive ? actual.toLowerCase() === p.value.toLowerCase() : actual === p.value;
  return p.operator === '==' || p.operator === '=~' ? equal : !equal;
}

function runGraphQuery(
  steps: KqlStep[],
  rows: Array<Record<string, unknown>>,
): Array<Record<string, unknown>> {
  let out = rows;
  for (const step of steps) {
    if (step.kind === 'where') out = out.filter((row) => step.predicates.every((p) => kqlMatches(row, p)));
    else if (step.kind === 'project') {
      out = out.map((row) => Object.fromEntries(step.columns.map((c) => [c, row[c] ?? null])));
    } else {
      const sign = step.descending ? -1 : 1;
      out = [...out].sort((a, b) => sign * compareKql(a[step.column], b[step.column]));
    }
  }
  return out;
}

/** Ordinal comparison, as KQL sorts strings; anything else by its JSON text. */
function compareKql(a: unknown, b: unknown): number {
  const x = typeof a === 'string' ? a : JSON.stringify(a ?? null);
  const y = typeof b === 'string' ? b : JSON.stringify(b ?? null);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** "00:00:05" */
function hhmmss(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const part = (n: number) => String(n).padStart(2, '0');
  return `${part(Math.floor(s / 3600))}:${part(Math.floor((s % 3600) / 60))}:${part(s % 60)}`;
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

interface RuleCollectionGroupRecord extends RuleCollectionGroupContent {
  id: string;
  name: string;
  /** A bare GUID; the ETag header quotes it. */
  etag: string;
  provisioningState: string;
  pendingOp?: string;
  /** What a Canceled write restores: the last settled content, or null when the group did not exist. */
  rollback?: RuleCollectionGroupContent | null;
}

interface FirewallPolicyRecord {
  ref: PolicyRef;
  id: string;
  location: string;
  etag: string;
  groups: Map<string, RuleCollectionGroupRecord>;
  /** The operation that holds the policy: NRP takes one write per policy at a time. */
  lock?: { opId: string; url: string };
}

interface SiteRecord {
  ref: SiteRef;
  id: string;
  /** As seeded: App Service answers with the display form ("West Europe"). */
  location: string;
  etag: string;
  createdAt: Date;
  ipSecurityRestrictions: Array<Record<string, unknown>>;
  scmIpSecurityRestrictions: Array<Record<string, unknown>>;
  scmIpSecurityRestrictionsUseMain: boolean;
  ipSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  scmIpSecurityRestrictionsDefaultAction?: 'Allow' | 'Deny';
  /** Other siteConfig properties written through PUT/PATCH (shallow). */
  overrides: Record<string, unknown>;
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
  /** Retry-After on InProgress answers. */
  retryAfter: number;
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

/** App Service etags are the modification time in .NET ticks, in hex ("1D56FEAE1F41D80"). */
function siteEtag(date = new Date()): string {
  return (BigInt(date.getTime()) * 10_000n + 621_355_968_000_000_000n).toString(16).toUpperCase();
}

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
  /** Resource Graph queries are POSTs that read. */
  protected override readonly readOnlyRoutes: ReadonlySet<string> = new Set(['resourceGraph.query']);
  private readonly token: string;
  private readonly lroPolls: number;
  private readonly retryAfterSeconds: number;
  private readonly pageSize: number;
  private readonly groupPolls: number;
  private readonly groupRetryAfter: number;
  private readonly graphPageSize: number;
  private readonly graphQuota: { requests: number; windowSeconds: number };
  private readonly routeTable: Route[];

  private readonly subscriptions = new Map<string, string>();
  private readonly resourceGroups = new Map<string, string>();
  private readonly apims = new Map<string, ApimRecord>();
  private readonly nsgs = new Map<string, NsgRecord>();
  private readonly ipGroups = new Map<string, IpGroupRecord>();
  private readonly firewallPolicies = new Map<string, FirewallPolicyRecord>();
  private readonly sites = new Map<string, SiteRecord>();
  private readonly graphRows: Array<Record<string, unknown>> = [];
  private readonly graphWindow = { start: 0, used: 0 };
  private readonly operations = new Map<string, Operation>();
  private readonly plannedOutcomes = new Map<string, PlannedOutcome[]>();
  private readonly throttles = new Map<string, Array<{ retryAfter: number; code: ThrottleCode }>>();
  private forbids: Forbid[] = [];
  private apimEtagCounter = 0x16_37_fe_00n;
  private readonly requestsUsed = { reads: 0, writes: 0, deletes: 0 };
  private concurrentWrites = 0;
  /** notFound() only sees the path; authenticate() runs just before it for the same request and keeps this. */
  private lastApiVersion = '';
  /** commonHeaders() runs just before the handler of the same request; Resource Graph quotes it in its errors. */
  private lastCorrelationId = '';

  private constructor(options: ArmEmulatorOptions) {
    super(options);
    this.token = options.token ?? DEFAULT_TOKEN;
    this.lroPolls = options.lroPolls ?? 1;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 0;
    this.pageSize = options.pageSize ?? 2;
    this.groupPolls = options.ruleCollectionGroupPolls ?? this.lroPolls;
    this.groupRetryAfter = options.ruleCollectionGroupRetryAfterSeconds ?? this.retryAfterSeconds;
    this.graphPageSize = options.graphPageSize ?? 100;
    this.graphQuota = options.graphQuota ?? { requests: 15, windowSeconds: 5 };
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

  /** Creates or replaces an (empty) Firewall Policy; its rule collection groups are dropped. */
  setFirewallPolicy(policyId: string, seed: { location: string }): void {
    const ref = parseFirewallPolicyId(policyId);
    this.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const id = firewallPolicyPath(ref);
    this.firewallPolicies.set(key(id), {
      ref,
      id,
      location: normalizeLocation(seed.location),
      etag: randomUUID(),
      groups: new Map(),
    });
  }

  /** Creates or replaces a group as if someone else had written it (validated like a PUT). The policy must exist. */
  setRuleCollectionGroup(
    rcgId: string,
    seed: { priority: number; ruleCollections: Array<Record<string, unknown>> },
  ): void {
    const ref = parseRuleCollectionGroupId(rcgId);
    const policy = this.firewallPolicies.get(key(firewallPolicyPath(ref)));
    if (!policy)
      throw new Error(`no Firewall Policy ${firewallPolicyPath(ref)}: call setFirewallPolicy() first`);
    const id = `${policy.id}/ruleCollectionGroups/${ref.group}`;
    const content = seedOrThrow(() => readRuleCollectionGroup(structuredClone(seed), id));
    policy.groups.set(ref.group.toLowerCase(), {
      ...content,
      id,
      name: ref.group,
      etag: randomUUID(),
      provisioningState: 'Succeeded',
    });
    policy.etag = randomUUID();
  }

  /** Exactly the JSON a GET of the group would return now (newest api-version). */
  ruleCollectionGroup(rcgId: string): Record<string, unknown> | undefined {
    const ref = parseRuleCollectionGroupId(rcgId);
    const policy = this.firewallPolicies.get(key(firewallPolicyPath(ref)));
    const group = policy?.groups.get(ref.group.toLowerCase());
    return policy && group ? this.renderGroup(policy, group, NETWORK_VERSIONS.at(-1) ?? '') : undefined;
  }

  /** Creates or replaces an App Service site with its access restrictions (validated like a PUT of config/web). */
  setSite(siteId: string, seed: SiteSeed): void {
    const ref = parseSiteId(siteId);
    this.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const id = sitePath(ref);
    const site: SiteRecord = {
      ref,
      id,
      location: seed.location,
      etag: siteEtag(),
      createdAt: new Date(),
      ipSecurityRestrictions: [],
      scmIpSecurityRestrictions: [],
      scmIpSecurityRestrictionsUseMain: seed.scmIpSecurityRestrictionsUseMain ?? false,
      ipSecurityRestrictionsDefaultAction: seed.ipSecurityRestrictionsDefaultAction,
      scmIpSecurityRestrictionsDefaultAction: seed.scmIpSecurityRestrictionsDefaultAction,
      overrides: {},
    };
    for (const list of RESTRICTION_LISTS) {
      const entries = seed[list];
      if (entries) site[list] = seedOrThrow(() => readRestrictionList(structuredClone(entries), list));
    }
    this.sites.set(key(id), site);
  }

  /** Exactly the JSON a GET of the site's config/web would return now (newest stable api-version). */
  siteConfig(siteId: string): Record<string, unknown> | undefined {
    const site = this.sites.get(key(sitePath(parseSiteId(siteId))));
    return site ? this.renderWebConfig(site, '2025-03-01') : undefined;
  }

  /**
   * Adds a Resource Graph row (beside the APIM services, which are indexed automatically). `id` is required; the
   * rest defaults as ARG fills it (type from the id, lower-cased; subscriptionId and resourceGroup from the id,
   * lower-cased; location normalized). The row's subscription becomes one the caller can read.
   */
  addGraphResource(row: Record<string, unknown>): void {
    const id = row.id;
    if (typeof id !== 'string' || !id.startsWith('/'))
      throw new Error('a Resource Graph row needs a resource id');
    const scope = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?/i.exec(id);
    const target = resourceTypeOf(id);
    const defaults: Record<string, unknown> = {
      id,
      name: id.split('/').pop() ?? '',
      type: target ? `${target.namespace}/${target.type}` : '',
      tenantId: TENANT_ID,
      kind: '',
      location: '',
      resourceGroup: scope?.[2] ?? '',
      subscriptionId: scope?.[1] ?? '',
      managedBy: '',
      sku: null,
      plan: null,
      properties: {},
      tags: {},
      identity: null,
      zones: null,
      extendedLocation: null,
    };
    const merged = { ...defaults, ...structuredClone(row) };
    for (const field of ['type', 'resourceGroup', 'subscriptionId'] as const) {
      merged[field] = String(merged[field]).toLowerCase();
    }
    if (typeof merged.location === 'string') merged.location = normalizeLocation(merged.location);
    const subscription = String(merged.subscriptionId);
    if (subscription && !this.subscriptions.has(key(subscription)))
      this.subscriptions.set(key(subscription), subscription);
    this.graphRows.push(merged);
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
    this.lastCorrelationId = correlation;
    const method = (req.method ?? 'GET').toUpperCase();
    if (/^\/providers\/Microsoft\.ResourceGraph\//i.test(req.url ?? '')) {
      // A Resource Graph query is a tenant-level read, whatever its method.
      const left = Math.max(0, RATE_LIMIT_BUDGET.reads - this.requestsUsed.reads++);
      headers['x-ms-ratelimit-remaining-tenant-reads'] = String(left);
      return headers;
    }
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
    const policy = `${rg}/providers/Microsoft.Network/firewallPolicies/{policy}`;
    const site = `${rg}/providers/Microsoft.Web/sites/{site}`;
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
      a('firewallPolicy.get', 'GET', policy, (r) => this.getFirewallPolicy(r)),
      a('ruleCollectionGroup.list', 'GET', `${policy}/ruleCollectionGroups`, (r) => this.listGroups(r)),
      a('ruleCollectionGroup.get', 'GET', `${policy}/ruleCollectionGroups/{group}`, (r) => this.getGroup(r)),
      a('ruleCollectionGroup.put', 'PUT', `${policy}/ruleCollectionGroups/{group}`, (r) => this.putGroup(r)),
      a('site.get', 'GET', site, (r) => this.getSite(r)),
      a('webConfig.get', 'GET', `${site}/config/web`, (r) => this.getWebConfig(r)),
      a('webConfig.put', 'PUT', `${site}/config/web`, (r) => this.writeWebConfig(r)),
      a('webConfig.patch', 'PATCH', `${site}/config/web`, (r) => this.writeWebConfig(r)),
      a('resourceGraph.query', 'POST', '/providers/Microsoft.ResourceGraph/resources', (r) =>
        this.queryResourceGraph(r),
      ),
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

  /** True when a forbid() covers `path` for this kind of access. */
  private isForbidden(path: string, access: 'read' | 'write'): boolean {
    const target = key(path.replace(/\/+$/, ''));
    return this.forbids.some(
      (f) =>
        (f.access === 'all' || f.access === access) &&
        (target === f.scope || target.startsWith(`${f.scope}/`)),
    );
  }

  private checkAuthorization(routeName: string, request: ArmRequest): void {
    const access = request.ctx.method === 'GET' || routeName === 'resourceGraph.query' ? 'read' : 'write';
    if (!this.isForbidden(request.ctx.url.pathname, access)) return;
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
    const policy = [...this.firewallPolicies.values()].find(
      (p) => lower === key(p.id) || lower.startsWith(`${key(p.id)}/`),
    );
    if (policy) return policy.location;
    const site = [...this.sites.values()].find(
      (w) => lower === key(w.id) || lower.startsWith(`${key(w.id)}/`),
    );
    if (site) return normalizeLocation(site.location);
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

  // ----- Firewall Policy rule collection groups -------------------------------------------------------------------

  private policyFromParams(r: ArmRequest): FirewallPolicyRecord {
    const { subscription = '', resourceGroup = '', policy = '' } = r.params;
    const record = this.firewallPolicies.get(
      key(firewallPolicyPath({ subscription, resourceGroup, name: policy })),
    );
    if (!record) {
      throw new ArmFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Network/firewallPolicies/${policy}' under resource group '${resourceGroup}' was ` +
          `not found. ${RESOURCE_NOT_FOUND_HELP}`,
        { headers: { 'x-ms-failure-cause': 'gateway' } },
      );
    }
    return record;
  }

  private getFirewallPolicy(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const body = {
      properties: {
        sku: { tier: 'Standard' },
        childPolicies: [],
        ruleCollectionGroups: [...policy.groups.values()].map((g) => ({ id: g.id })),
        firewalls: [],
        threatIntelMode: 'Alert',
        provisioningState: policy.lock ? 'Updating' : 'Succeeded',
      },
      id: policy.id,
      name: policy.ref.name,
      type: 'Microsoft.Network/FirewallPolicies',
      etag: policy.etag,
      location: policy.location,
    };
    return { status: 200, body, headers: { ETag: `"${policy.etag}"` } };
  }

  private groupNotFound(policy: FirewallPolicyRecord, name: string): ArmFailure {
    return nrpFailure(404, 'NotFound', `Resource ${policy.id}/ruleCollectionGroups/${name} not found.`);
  }

  private getGroup(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const name = r.params.group ?? '';
    const group = policy.groups.get(name.toLowerCase());
    if (!group) throw this.groupNotFound(policy, name);
    return {
      status: 200,
      body: this.renderGroup(policy, group, r.apiVersion),
      headers: { ETag: `"${group.etag}"` },
    };
  }

  private listGroups(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const items = [...policy.groups.values()].map((g) => this.renderGroup(policy, g, r.apiVersion));
    return { status: 200, body: this.page(r, items) };
  }

  private putGroup(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const name = r.params.group ?? '';
    checkGroupName(name);
    const groupKey = name.toLowerCase();
    if (r.ctx.concurrentModification) this.concurrentGroupWrite(policy, groupKey);
    const existing = policy.groups.get(groupKey);
    const id = existing?.id ?? `${policy.id}/ruleCollectionGroups/${name}`;
    checkPreconditions(r.ctx.req, existing ? [`"${existing.etag}"`, existing.etag] : undefined, id);
    const content = readRuleCollectionGroup(requireBody(r.ctx.body).properties, id);
    if (!existing && policy.groups.size >= MAX_RULE_COLLECTION_GROUPS) {
      throw groupFailure(
        'FirewallPolicyRuleCollectionGroupCountLimitReached',
        `Firewall Policy ${policy.id} cannot have more than ${MAX_RULE_COLLECTION_GROUPS} rule collection groups.`,
      );
    }
    if (policy.lock) {
      throw nrpFailure(
        409,
        'AnotherOperationInProgress',
        `Another operation on this or dependent resource is in progress. To retrieve status of the operation use ` +
          `uri: ${policy.lock.url}.`,
      );
    }
    const opId = randomUUID();
    const record: RuleCollectionGroupRecord = {
      ...content,
      id,
      name: existing?.name ?? name,
      etag: randomUUID(),
      provisioningState: 'Updating',
      pendingOp: opId,
      rollback: existing ? groupContent(existing) : null,
    };
    policy.groups.set(groupKey, record);
    policy.etag = randomUUID();
    const headers = this.lroHeaders(r, opId, policy.location, 'nfvOperations', this.groupRetryAfter);
    policy.lock = { opId, url: headers['Azure-AsyncOperation'] ?? '' };
    this.startOperation(
      {
        id: opId,
        name: 'PutFirewallPolicyRuleCollectionGroupOperation',
        routeName: 'ruleCollectionGroup.put',
        kind: 'nfvOperations',
        subscription: policy.ref.subscription,
        location: policy.location,
        polls: this.groupPolls,
        retryAfter: this.groupRetryAfter,
      },
      (status) => this.finishGroupWrite(policy, groupKey, opId, status),
    );
    return {
      status: existing ? 200 : 201,
      body: this.renderGroup(policy, record, r.apiVersion),
      headers: { ...headers, ETag: `"${record.etag}"` },
    };
  }

  private finishGroupWrite(
    policy: FirewallPolicyRecord,
    groupKey: string,
    opId: string,
    status: TerminalStatus,
  ): void {
    if (policy.lock?.opId === opId) policy.lock = undefined;
    const group = policy.groups.get(groupKey);
    if (!group || group.pendingOp !== opId) return;
    const { rollback } = group;
    Object.assign(group, { pendingOp: undefined, rollback: undefined });
    policy.etag = randomUUID();
    if (status !== 'Canceled') group.provisioningState = status;
    else if (rollback) Object.assign(group, rollback, { provisioningState: 'Succeeded' });
    else {
      policy.groups.delete(groupKey);
      return;
    }
    group.etag = randomUUID();
  }

  /** Another writer changes the group just before this request (new etag; one more source address somewhere). */
  private concurrentGroupWrite(policy: FirewallPolicyRecord, groupKey: string): void {
    const group = policy.groups.get(groupKey);
    if (!group) return;
    const rules = group.ruleCollections.flatMap((rc) => (rc.rules as Array<Record<string, unknown>>) ?? []);
    for (const rule of rules) {
      const sources = rule.sourceAddresses;
      if (rule.ruleType !== 'NetworkRule' || !isStringArray(sources)) continue;
      const extra = this.foreignAddress(sources.filter((a) => parsePrefix(a) !== undefined));
      if (extra === undefined) continue;
      rule.sourceAddresses = [...sources, extra];
      break;
    }
    group.etag = randomUUID();
    policy.etag = randomUUID();
  }

  private renderGroup(
    policy: FirewallPolicyRecord,
    group: RuleCollectionGroupRecord,
    apiVersion: string,
  ): Record<string, unknown> {
    const properties: Record<string, unknown> = {};
    if (apiVersionAtLeast(apiVersion, '2022-11-01')) properties.size = groupSize(groupContent(group));
    properties.priority = group.priority;
    properties.ruleCollections = structuredClone(group.ruleCollections);
    properties.provisioningState = group.provisioningState;
    return {
      properties,
      id: group.id,
      name: group.name,
      type: RULE_COLLECTION_GROUP_TYPE,
      etag: group.etag,
      location: policy.location,
    };
  }

  // ----- App Service site config ----------------------------------------------------------------------------------

  private siteFromParams(r: ArmRequest): SiteRecord | undefined {
    const { subscription = '', resourceGroup = '', site = '' } = r.params;
    return this.sites.get(key(sitePath({ subscription, resourceGroup, name: site })));
  }

  private requireSite(r: ArmRequest): SiteRecord {
    const site = this.siteFromParams(r);
    if (!site)
      throw new WebFailure(404, 'NotFound', '51004', 'Cannot find {0} with name {1}.', [
        'Site',
        r.params.site ?? '',
      ]);
    return site;
  }

  private getSite(r: ArmRequest): Reply {
    const site = this.siteFromParams(r);
    if (!site) {
      throw new ArmFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Web/sites/${r.params.site}' under resource group '${r.params.resourceGroup}' was ` +
          `not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    const host = `${site.ref.name.toLowerCase()}.azurewebsites.net`;
    const scmHost = `${site.ref.name.toLowerCase()}.scm.azurewebsites.net`;
    const body = {
      id: site.id,
      name: site.ref.name,
      type: 'Microsoft.Web/sites',
      kind: 'app',
      location: site.location,
      properties: {
        name: site.ref.name,
        state: 'Running',
        hostNames: [host],
        webSpace: `${site.ref.resourceGroup}-${site.location.replace(/\s+/g, '')}webspace`,
        repositorySiteName: site.ref.name,
        usageState: 'Normal',
        enabled: true,
        adminEnabled: true,
        enabledHostNames: [host, scmHost],
        availabilityState: 'Normal',
        serverFarmId: `${rgPath(site.ref.subscription, site.ref.resourceGroup)}/providers/Microsoft.Web/serverfarms/${site.ref.name}-plan`,
        reserved: false,
        lastModifiedTimeUtc: site.createdAt
          .toISOString()
          .replace(/Z$/, '')
          .replace(/(\.\d{3})$/, '$10000'),
        siteConfig: null,
        httpsOnly: false,
        resourceGroup: site.ref.resourceGroup,
        defaultHostName: host,
        publicNetworkAccess: null,
      },
    };
    return { status: 200, body, headers: { ...WEB_RESPONSE_HEADERS, ETag: `"${site.etag}"` } };
  }

  private getWebConfig(r: ArmRequest): Reply {
    const site = this.requireSite(r);
    return {
      status: 200,
      body: this.renderWebConfig(site, r.apiVersion),
      headers: { ...WEB_RESPONSE_HEADERS },
    };
  }

  /** PUT and PATCH: every property sent replaces the stored one (lists whole); absent ones keep their value. */
  private writeWebConfig(r: ArmRequest): Reply {
    const site = this.requireSite(r);
    if (r.ctx.method === 'PATCH') checkPutContent(r.ctx);
    const body = requireBody(r.ctx.body);
    if (body.properties !== undefined && body.properties !== null && !isRecord(body.properties)) {
      throw restrictionInvalid('Properties is invalid. It must be an object.');
    }
    const update = isRecord(body.properties) ? body.properties : {};
    const lists: Partial<Record<RestrictionList, Array<Record<string, unknown>>>> = {};
    for (const list of RESTRICTION_LISTS) {
      if (update[list] !== undefined && update[list] !== null)
        lists[list] = readRestrictionList(update[list], list);
    }
    const useMain = update.scmIpSecurityRestrictionsUseMain;
    if (useMain !== undefined && useMain !== null && typeof useMain !== 'boolean') {
      throw restrictionInvalid('ScmIpSecurityRestrictionsUseMain is invalid. It must be a boolean.');
    }
    const defaults: Partial<
      Record<
        'ipSecurityRestrictionsDefaultAction' | 'scmIpSecurityRestrictionsDefaultAction',
        'Allow' | 'Deny'
      >
    > = {};
    for (const name of [
      'ipSecurityRestrictionsDefaultAction',
      'scmIpSecurityRestrictionsDefaultAction',
    ] as const) {
      if (update[name] !== undefined && update[name] !== null)
        defaults[name] = readDefaultAction(update[name], name);
    }
    if (r.ctx.concurrentModification) this.concurrentWebWrite(site);
    for (const list of RESTRICTION_LISTS) {
      const entries = lists[list];
      if (entries) site[list] = entries;
    }
    if (typeof useMain === 'boolean') site.scmIpSecurityRestrictionsUseMain = useMain;
    Object.assign(site, defaults);
    const known = this.renderWebConfig(site, '2025-03-01').properties as Record<string, unknown>;
    for (const [name, value] of Object.entries(update)) {
      if (name in known && !isRestrictionField(name) && value !== undefined && value !== null) {
        site.overrides[name] = structuredClone(value);
      }
    }
    site.etag = siteEtag();
    return {
      status: 200,
      body: this.renderWebConfig(site, r.apiVersion),
      headers: { ...WEB_RESPONSE_HEADERS },
    };
  }

  /** Another writer (portal, a pipeline) adds an allow rule, with no etag to tell anyone. */
  private concurrentWebWrite(site: SiteRecord): void {
    const n = 10 + (this.concurrentWrites++ % 200);
    site.ipSecurityRestrictions = [
      ...site.ipSecurityRestrictions,
      { ipAddress: `198.51.100.${n}/32`, action: 'Allow', priority: 900, name: 'other-writer' },
    ];
  }

  private renderWebConfig(site: SiteRecord, apiVersion: string): Record<string, unknown> {
    const withDefaultAction = apiVersionAtLeast(apiVersion, '2022-09-01');
    const list = (name: RestrictionList, action: 'Allow' | 'Deny' | undefined) => {
      const entries = site[name].map((e) => structuredClone(e));
      return [...entries, implicitRestriction(action ?? (entries.length > 0 ? 'Deny' : 'Allow'))];
    };
    const p: Record<string, unknown> = {
      numberOfWorkers: 1,
      defaultDocuments: [
        'Default.htm',
        'Default.html',
        'Default.asp',
        'index.htm',
        'index.html',
        'iisstart.htm',
        'default.aspx',
        'index.php',
        'hostingstart.html',
      ],
      netFrameworkVersion: 'v4.0',
      phpVersion: '',
      pythonVersion: '',
      nodeVersion: '',
      powerShellVersion: '',
      linuxFxVersion: '',
      windowsFxVersion: null,
      requestTracingEnabled: false,
      remoteDebuggingEnabled: false,
      remoteDebuggingVersion: null,
      httpLoggingEnabled: false,
      azureMonitorLogCategories: null,
      acrUseManagedIdentityCreds: false,
      acrUserManagedIdentityID: null,
      logsDirectorySizeLimit: 35,
      detailedErrorLoggingEnabled: false,
      publishingUsername: `$${site.ref.name}`,
      publishingPassword: null,
      appSettings: null,
      metadata: null,
      connectionStrings: null,
      machineKey: null,
      handlerMappings: null,
      documentRoot: null,
      scmType: 'None',
      use32BitWorkerProcess: true,
      webSocketsEnabled: false,
      alwaysOn: false,
      javaVersion: null,
      javaContainer: null,
      javaContainerVersion: null,
      appCommandLine: '',
      managedPipelineMode: 'Integrated',
      virtualApplications: [
        { virtualPath: '/', physicalPath: 'site\\wwwroot', preloadEnabled: false, virtualDirectories: null },
      ],
      winAuthAdminState: 0,
      winAuthTenantState: 0,
      customAppPoolIdentityAdminState: false,
      customAppPoolIdentityTenantState: false,
      runtimeADUser: null,
      runtimeADUserPassword: null,
      loadBalancing: 'LeastRequests',
      routingRules: [],
      experiments: { rampUpRules: [] },
      limits: null,
      autoHealEnabled: false,
      autoHealRules: null,
      tracingOptions: null,
      vnetName: '',
      vnetRouteAllEnabled: false,
      vnetPrivatePortsCount: 0,
      publicNetworkAccess: null,
      cors: null,
      push: null,
      apiDefinition: null,
      apiManagementConfig: null,
      autoSwapSlotName: null,
      localMySqlEnabled: false,
      managedServiceIdentityId: null,
      xManagedServiceIdentityId: null,
      keyVaultReferenceIdentity: null,
      ipSecurityRestrictions: list('ipSecurityRestrictions', site.ipSecurityRestrictionsDefaultAction),
    };
    if (withDefaultAction)
      p.ipSecurityRestrictionsDefaultAction = site.ipSecurityRestrictionsDefaultAction ?? null;
    p.scmIpSecurityRestrictions = list(
      'scmIpSecurityRestrictions',
      site.scmIpSecurityRestrictionsDefaultAction,
    );
    if (withDefaultAction)
      p.scmIpSecurityRestrictionsDefaultAction = site.scmIpSecurityRestrictionsDefaultAction ?? null;
    Object.assign(p, {
      scmIpSecurityRestrictionsUseMain: site.scmIpSecurityRestrictionsUseMain,
      http20Enabled: false,
      minTlsVersion: '1.2',
      scmMinTlsVersion: '1.2',
      ftpsState: 'FtpsOnly',
      preWarmedInstanceCount: 0,
      functionAppScaleLimit: 0,
      healthCheckPath: null,
      fileChangeAuditEnabled: false,
      functionsRuntimeScaleMonitoringEnabled: false,
      minimumElasticInstanceCount: 0,
      azureStorageAccounts: {},
    });
    for (const [name, value] of Object.entries(site.overrides)) p[name] = structuredClone(value);
    return {
      id: `${site.id}/config/web`,
      name: site.ref.name,
      type: 'Microsoft.Web/sites/config',
      location: site.location,
      properties: p,
    };
  }

  // ----- Azure Resource Graph -------------------------------------------------------------------------------------

  private queryResourceGraph(r: ArmRequest): Reply {
    const started = process.hrtime.bigint();
    const quota = this.takeGraphQuota();
    const withQuota = (reply: Reply): Reply => {
      const ticks = Number((process.hrtime.bigint() - started) / 100n);
      const duration = `0:00:00:${String(Math.floor(ticks / 10_000_000)).padStart(2, '0')}.${String(ticks % 10_000_000).padStart(7, '0')}`;
      return {
        ...reply,
        headers: {
          ...(reply.headers ?? {}),
          ...quota.headers,
          'x-ms-resource-graph-request-duration': duration,
        },
      };
    };
    try {
      if (!quota.granted) {
        throw new ArmFailure(429, 'RateLimiting', this.graphSupportMessage(), {
          details: [
            {
              code: 'RateLimiting',
              message:
                'Client application has been throttled and should not attempt to repeat the request until an amount ' +
                'of time has elapsed. Please see https://aka.ms/resourcegraph-throttling for help.',
            },
          ],
          headers: { 'Retry-After': String(quota.retryAfter) },
        });
      }
      return withQuota(this.answerGraphQuery(r));
    } catch (error) {
      if (error instanceof ArmFailure) return withQuota(error.reply());
      throw error;
    }
  }

  private graphSupportMessage(): string {
    return (
      `Please provide below info when asking for support: timestamp = ${netTimestamp()}, ` +
      `correlationId = ${this.lastCorrelationId}.`
    );
  }

  private graphFailure(details: Array<Record<string, unknown>>): ArmFailure {
    return new ArmFailure(400, 'BadRequest', this.graphSupportMessage(), { details });
  }

  private invalidGraphQuery(token: { line: number; column: number; text: string }): ArmFailure {
    return this.graphFailure([
      GRAPH_INVALID_QUERY,
      {
        code: 'ParserFailure',
        message: 'ParserFailure',
        line: token.line,
        characterPositionInLine: token.column,
        token: token.text,
      },
    ]);
  }

  private takeGraphQuota(): { granted: boolean; retryAfter: number; headers: Record<string, string> } {
    const now = Date.now();
    const windowMs = this.graphQuota.windowSeconds * 1000;
    if (now - this.graphWindow.start >= windowMs) Object.assign(this.graphWindow, { start: now, used: 0 });
    const granted = this.graphWindow.used < this.graphQuota.requests;
    if (granted) this.graphWindow.used++;
    const resetsIn = (this.graphWindow.start + windowMs - now) / 1000;
    return {
      granted,
      retryAfter: Math.max(1, Math.ceil(resetsIn)),
      headers: {
        'x-ms-user-quota-remaining': String(this.graphQuota.requests - this.graphWindow.used),
        'x-ms-user-quota-resets-after': hhmmss(resetsIn),
      },
    };
  }

  private answerGraphQuery(r: ArmRequest): Reply {
    const body = isRecord(r.ctx.body) ? r.ctx.body : {};
    const query = typeof body.query === 'string' ? body.query : '';
    if (query.trim() === '') throw this.invalidGraphQuery({ line: 1, column: 0, text: '<EOF>' });
    let steps: KqlStep[];
    try {
      steps = parseGraphQuery(query);
    } catch (error) {
      if (error instanceof KqlError) throw this.invalidGraphQuery(error.token);
      throw error;
    }
    const scopes = this.graphScopes(body.subscriptions);
    const options = isRecord(body.options) ? body.options : {};
    const top = this.graphOption(options, '$top', 1, GRAPH_MAX_TOP) ?? this.graphPageSize;
    const skip = this.graphOption(options, '$skip', 0, Number.MAX_SAFE_INTEGER);
    const format = options.resultFormat ?? 'objectArray';
    if (typeof format !== 'string' || !['objectarray', 'table'].includes(format.toLowerCase())) {
      throw this.graphFailure([
        { code: 'InvalidQueryRequestOptions', message: `resultFormat must be 'objectArray' or 'table'.` },
      ]);
    }
    const result = runGraphQuery(steps, this.visibleGraphRows(scopes));
    const binding = createHash('sha256')
      .update(JSON.stringify([query, [...scopes].sort()]))
      .digest('base64url')
      .slice(0, 16);
    let offset = this.graphSkipTokenOffset(options.$skipToken, binding) ?? 0;
    if (skip !== undefined) offset = skip;
    const rows = result.slice(offset, offset + top);
    const more = offset + top < result.length;
    const projection = [...steps].reverse().find((s) => s.kind === 'project');
    const columns = projection?.kind === 'project' ? projection.columns : GRAPH_COLUMNS;
    const pageable = columns.includes('id');
    const out: Record<string, unknown> = {
      totalRecords: result.length,
      count: rows.length,
      data:
        format.toLowerCase() === 'table'
          ? {
              columns: columns.map((name) => ({
                name,
                type: GRAPH_STRING_COLUMNS.includes(name) ? 'string' : 'object',
              })),
              rows: rows.map((row) => columns.map((c) => row[c] ?? null)),
            }
          : rows,
      facets: [],
      resultTruncated: more && !pageable ? 'true' : 'false',
    };
    if (more && pageable) {
      out.$skipToken = Buffer.from(JSON.stringify({ o: offset + top, b: binding })).toString('base64');
    }
    return { status: 200, body: out };
  }

  private graphOption(
    options: Record<string, unknown>,
    name: string,
    min: number,
    max: number,
  ): number | undefined {
    const value = options[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw this.graphFailure([
        {
          code: 'InvalidQueryRequestOptions',
          message: `${name} must be an integer between ${min} and ${max === Number.MAX_SAFE_INTEGER ? 'infinity' : max}.`,
        },
      ]);
    }
    return value;
  }

  /** The offset a $skipToken issued here stands for; a token from another query or scope is refused. */
  private graphSkipTokenOffset(token: unknown, binding: string): number | undefined {
    if (token === undefined || token === null) return undefined;
    let decoded: unknown;
    try {
      decoded =
        typeof token === 'string' ? JSON.parse(Buffer.from(token, 'base64').toString('utf8')) : undefined;
    } catch {
      decoded = undefined;
    }
    if (!isRecord(decoded) || decoded.b !== binding || typeof decoded.o !== 'number') {
      throw this.graphFailure([
        {
          code: 'InvalidSkipToken',
          message:
            'The $skipToken is invalid. Send it with the same query and scopes as the request it came from.',
        },
      ]);
    }
    return decoded.o;
  }

  /** Lower-cased subscriptions the query runs over: the readable ones among those requested (or all readable). */
  private graphScopes(requested: unknown): string[] {
    const readable = [...this.subscriptions.values()]
      .filter((s) => !this.isForbidden(`/subscriptions/${s}`, 'read'))
      .map((s) => s.toLowerCase());
    if (requested === undefined || requested === null) return readable;
    if (!isStringArray(requested)) {
      throw this.graphFailure([
        { code: 'InvalidRequestContent', message: 'subscriptions must be an array of subscription ids.' },
      ]);
    }
    if (requested.length === 0) return readable;
    const malformed = requested.filter((s) => !GUID.test(s));
    if (malformed.length > 0) {
      throw this.graphFailure([
        {
          code: 'SubscriptionsContainInvalidGuids',
          message: `The subscriptions in the request are not valid GUIDs: ${malformed.join(', ')}.`,
        },
      ]);
    }
    const wanted = [...new Set(requested.map((s) => s.toLowerCase()))].filter((s) => readable.includes(s));
    if (wanted.length === 0) {
      throw this.graphFailure([
        {
          code: 'NoValidSubscriptionsInQueryRequest',
          message: 'There must be at least one subscription the caller has access to in the query request.',
        },
      ]);
    }
    return wanted;
  }

  private visibleGraphRows(scopes: string[]): Array<Record<string, unknown>> {
    const rows = [
      ...[...this.apims.values()].map((a) => this.apimGraphRow(a)),
      ...this.graphRows.map((row) => structuredClone(row)),
    ];
    return rows.filter(
      (row) =>
        scopes.includes(String(row.subscriptionId).toLowerCase()) &&
        !this.isForbidden(String(row.id), 'read'),
    );
  }

  private apimGraphRow(record: ApimRecord): Record<string, unknown> {
    const body = this.renderApim(record, GRAPH_APIM_VERSION);
    return {
      id: record.id,
      name: record.ref.name,
      type: 'microsoft.apimanagement/service',
      tenantId: TENANT_ID,
      kind: '',
      location: normalizeLocation(record.seed.location),
      resourceGroup: record.ref.resourceGroup.toLowerCase(),
      subscriptionId: record.ref.subscription.toLowerCase(),
      managedBy: '',
      sku: body.sku,
      plan: null,
      properties: body.properties,
      tags: body.tags,
      identity: body.identity,
      zones: body.zones ?? null,
      extendedLocation: null,
    };
  }

  // ----- long-running operations ---------------------------------------------------------------------------------

  private startOperation(
    start: Pick<Operation, 'id' | 'name' | 'subscription' | 'location' | 'kind'> & {
      routeName: string;
      polls?: number;
      retryAfter?: number;
    },
    apply: (status: TerminalStatus) => void,
  ): void {
    const planned = this.plannedOutcomes.get(start.routeName)?.shift() ?? { status: 'Succeeded' };
    const { routeName: _routeName, polls, retryAfter, ...op } = start;
    this.operations.set(start.id, {
      ...op,
      subscription: key(start.subscription),
      status: 'InProgress',
      pollsLeft: polls ?? this.lroPolls,
      retryAfter: retryAfter ?? this.retryAfterSeconds,
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
        headers: { 'Retry-After': String(op.retryAfter) },
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
          'Retry-After': String(op.retryAfter),
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
    retryAfter = this.retryAfterSeconds,
  ): Record<string, string> {
    return {
      'Azure-AsyncOperation': this.operationUrl(r, location, kind, opId),
      'Azure-AsyncNotification': 'Enabled',
      'Retry-After': String(retryAfter),
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
  if (namespace === 'microsoft.web') return WEB_VERSIONS;
  if (namespace === 'microsoft.resourcegraph') return GRAPH_VERSIONS;
  if (namespace !== 'microsoft.network') return undefined;
  if (/^firewallpolicies\/rulecollectiongroups$/i.test(target.type)) return RULE_COLLECTION_GROUP_VERSIONS;
  if (/^firewallpolicies$/i.test(target.type)) return FIREWALL_POLICY_VERSIONS;
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
    'firewallPolicy.get': 'Microsoft.Network/firewallPolicies/read',
    'ruleCollectionGroup.get': 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
    'ruleCollectionGroup.list': 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
    'ruleCollectionGroup.put': 'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write',
    'site.get': 'Microsoft.Web/sites/read',
    'webConfig.get': 'Microsoft.Web/sites/config/read',
    'webConfig.put': 'Microsoft.Web/sites/config/write',
    'webConfig.patch': 'Microsoft.Web/sites/config/write',
    'resourceGraph.query': 'Microsoft.ResourceGraph/resources/read',
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
  if (routeName.startsWith('ruleCollectionGroup')) {
    return {
      code: 'FirewallPolicyUpdateFailed',
      message: 'Put on Firewall Policy Failed with 1 faulted referenced firewalls',
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

function groupContent(group: RuleCollectionGroupContent): RuleCollectionGroupContent {
  return { priority: group.priority, ruleCollections: structuredClone(group.ruleCollections) };
}

function checkGroupName(name: string): void {
  if (!RULE_COLLECTION_GROUP_NAME.test(name)) {
    throw nrpFailure(
      400,
      'InvalidResourceName',
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word ` +
        `character, and it must end with a word character or with '_'. The name may contain word characters or ` +
        `'.', '-', '_'.`,
    );
  }
}

function isRestrictionField(name: string): boolean {
  return /^(scm)?IpSecurityRestrictions(DefaultAction|UseMain)?$/i.test(name);
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
