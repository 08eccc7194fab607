/**
 * Network security groups and their security rules (Microsoft.Network/networkSecurityGroups[/securityRules]): GET
 * of the NSG; list, GET, PUT (long-running) and DELETE (long-running) of its rules, validated as NRP does.
 *
 * - Paths and the SecurityRule schema: Azure/azure-rest-api-specs `specification/network/resource-manager/
 *   Microsoft.Network/stable/2025-07-01/networkSecurityGroup.json` (PUT 200/201 with final-state-via
 *   azure-async-operation, DELETE 200/202/204 via location; priority 100–4096 unique per direction; description
 *   "restricted to 140 chars"). Examples: `…/stable/2024-07-01/examples/NetworkSecurityGroupRuleGet.json`,
 *   `NetworkSecurityGroupRuleCreate.json`.
 * - Wire shape from real traffic (azure-sdk-for-go `sdk/resourcemanager/network/armnetwork/testdata/recordings/
 *   TestNetworkSecurityGroupTestSuite.json`): GET bodies always carry the four plural arrays (`[]` when unused) and
 *   omit a singular key whose plural is used; etag `W/"<guid>"`, mirrored in the ETag header; a PUT answers 201 with
 *   provisioningState "Updating", Azure-AsyncOperation on …/locations/{loc}/operations/{id} and Retry-After 3.
 * - Limits (MicrosoftDocs/azure-docs `includes/azure-virtual-network-limits.md`): 1,000 rules per NSG; 4,000 source
 *   and 4,000 destination addresses and ranges per NSG (counted apart; tags are not counted).
 * - Ports: `*` only in the singular sourcePortRange / destinationPortRange; every entry of a plural list must be a
 *   port or `from-to` range, else 400 SecurityRuleInvalidPortRange "Security rule has invalid Port range. Value
 *   provided: *. …" (Azure/azure-cli#23499, hashicorp/terraform-provider-azurerm#1530).
 * - Error texts quoted from real traffic in public issues: SecurityRuleInvalidPriority (pulumi-azure-native#2221),
 *   SecurityRuleConflict "…conflicts with rule … To learn more, see aka.ms/nsgrules." (existing rule named first,
 *   terraform-provider-azurerm#11137), SecurityRuleInvalidAddressPrefix and SecurityRuleParameterContainsUnsupportedValue
 *   (terraform-provider-azurerm#5617; a CIDR with host bits set is rejected: azure-powershell#4557),
 *   OverlappingSubnetsNotPermittedInSecurityRule (cloud-provider-azure#6775; an exact duplicate is treated as an overlap),
 *   ResourceCannotContainAddressPrefixesFromDifferentAddressFamilies (gardener-extension-provider-azure#397: IPv4 and IPv6
 *   never share one rule), SecurityRuleParametersMissing / SecurityRuleParameterMissing (Azure/sap-hana#135,
 *   clong/DetectionLab#479), SecurityRuleInvalidProtocol (azure-cli#25181), SecurityRuleCountLimitReached (1000 rules,
 *   azure-rest-api-specs#3003).
 * - Invented where no real text was found (clients must key on the HTTP status, not these codes):
 *   SecurityRuleInvalidAccess/-Direction (by analogy with the Protocol one), SecurityRuleDescriptionTooLong,
 *   SecurityRuleMutuallyExclusiveParameters (singular and plural of one side both set), SecurityGroupAddressPrefixLimitReached
 *   (the documented 4,000 source / 4,000 destination addresses per NSG).
 * - Enum values (protocol/access/direction) must be spelled exactly as the API documents them; whether NRP accepts
 *   other casings is unknown, and a client that sends "tcp" would otherwise see drift on every read.
 * - ETags: an NSG and its rules are one document in NRP (recordings show child rules reporting the parent's
 *   provisioningState; identical etags are recalled, not verified), so every rule carries the NSG's etag (W/"guid") and
 *   any change to any rule changes all of them. The etag changes when a write is accepted AND again when its operation ends,
 *   so the etag in a PUT response is stale once the operation completes: re-read before the next conditional write.
 * - Operations: Failed keeps the new content with provisioningState "Failed" (NRP does not roll back; a re-PUT
 *   repairs it); Canceled restores the previous content (or removes a rule the operation was creating). A second write
 *   to a rule with an operation in flight supersedes it. DELETE of a rule answers 202 with Azure-AsyncOperation and
 *   Location; a missing rule is 204.
 * - concurrentModification faults on a PUT: "another writer" changed the rule just before the request (new etag; a
 *   rule using a plural address list also gains one TEST-NET address). Nothing happens to a missing one.
 */
import { randomUUID } from 'node:crypto';
import type { Reply } from '../emulator';
import { parsePrefix, prefixRange, isServiceTag, type Prefix } from './addresses';
import { ArmProvider, type ArmRequest, type ArmRoute, type TerminalStatus } from './core';
import {
  ArmFailure,
  RESOURCE_NOT_FOUND_HELP,
  RG_PREFIX,
  capitalize,
  checkPreconditions,
  checkResourceName,
  dropUndefined,
  invalidJson,
  isAtOrUnder,
  isRecord,
  key,
  normalizeLocation,
  nrpFailure,
  parseId,
  parseTopLevelId,
  requireBody,
  resourcePath,
  seedOrThrow,
  type ResourceRef,
} from './wire';

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

const NSG_TYPE = 'Microsoft.Network/networkSecurityGroups';
const RULE_TYPE = 'Microsoft.Network/networkSecurityGroups/securityRules';
const MAX_RULES_PER_NSG = 1000;
const MAX_PREFIXES_PER_NSG_SIDE = 4000;
const MAX_DESCRIPTION = 140;

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

// prettier-ignore
const DEFAULT_RULES: Array<{ name: string; description: string } & SecurityRuleSeed> = [
  { name: 'AllowVnetInBound', description: 'Allow inbound traffic from all VMs in VNET', protocol: '*', access: 'Allow', priority: 65000, direction: 'Inbound', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork' },
  { name: 'AllowAzureLoadBalancerInBound', description: 'Allow inbound traffic from azure load balancer', protocol: '*', access: 'Allow', priority: 65001, direction: 'Inbound', sourceAddressPrefix: 'AzureLoadBalancer', destinationAddressPrefix: '*' },
  { name: 'DenyAllInBound', description: 'Deny all inbound traffic', protocol: '*', access: 'Deny', priority: 65500, direction: 'Inbound', sourceAddressPrefix: '*', destinationAddressPrefix: '*' },
  { name: 'AllowVnetOutBound', description: 'Allow outbound traffic from all VMs to all VMs in VNET', protocol: '*', access: 'Allow', priority: 65000, direction: 'Outbound', sourceAddressPrefix: 'VirtualNetwork', destinationAddressPrefix: 'VirtualNetwork' },
  { name: 'AllowInternetOutBound', description: 'Allow outbound traffic from all VMs to Internet', protocol: '*', access: 'Allow', priority: 65001, direction: 'Outbound', sourceAddressPrefix: '*', destinationAddressPrefix: 'Internet' },
  { name: 'DenyAllOutBound', description: 'Deny all outbound traffic', protocol: '*', access: 'Deny', priority: 65500, direction: 'Outbound', sourceAddressPrefix: '*', destinationAddressPrefix: '*' },
];

interface RuleRef extends ResourceRef {
  rule: string;
}

function parseRuleId(id: string): RuleRef {
  const [subscription, resourceGroup, name, rule] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/networkSecurityGroups/([^/]+)/securityRules/([^/]+)$`, 'i'),
    RULE_TYPE,
  ) as [string, string, string, string];
  return { subscription, resourceGroup, name, rule };
}

const weakEtag = () => `W/"${randomUUID()}"`;

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
  ref: ResourceRef;
  id: string;
  location: string;
  etag: string;
  resourceGuid: string;
  rules: Map<string, RuleRecord>;
}

// ---------------------------------------------------------------------------------------------------------------
// The provider

export class NetworkSecurityGroups extends ArmProvider {
  private readonly nsgs = new Map<string, NsgRecord>();

  routes(): ArmRoute[] {
    const nsg = `/subscriptions/{subscription}/resourceGroups/{resourceGroup}/providers/${NSG_TYPE}/{nsg}`;
    const rule = `${nsg}/securityRules/{rule}`;
    return [
      {
        name: 'nsg.get',
        method: 'GET',
        template: nsg,
        action: `${NSG_TYPE}/read`,
        handle: (r) => this.getNsg(r),
      },
      {
        name: 'securityRule.list',
        method: 'GET',
        template: `${nsg}/securityRules`,
        action: `${RULE_TYPE}/read`,
        handle: (r) => this.listRules(r),
      },
      {
        name: 'securityRule.get',
        method: 'GET',
        template: rule,
        action: `${RULE_TYPE}/read`,
        handle: (r) => this.getRule(r),
      },
      {
        name: 'securityRule.put',
        method: 'PUT',
        template: rule,
        action: `${RULE_TYPE}/write`,
        handle: (r) => this.putRule(r),
      },
      {
        name: 'securityRule.delete',
        method: 'DELETE',
        template: rule,
        action: `${RULE_TYPE}/delete`,
        handle: (r) => this.deleteRule(r),
      },
    ];
  }

  override locationOf(lowerPath: string): string | undefined {
    return [...this.nsgs.values()].find((n) => isAtOrUnder(lowerPath, n.id))?.location;
  }

  // ----- seeding and inspection ----------------------------------------------------------------------------------

  setNsg(nsgId: string, seed: { location: string; rules?: Record<string, SecurityRuleSeed> }): void {
    const ref = parseTopLevelId(nsgId, NSG_TYPE);
    this.core.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const nsg: NsgRecord = {
      ref,
      id: resourcePath(ref, NSG_TYPE),
      location: normalizeLocation(seed.location),
      etag: weakEtag(),
      resourceGuid: randomUUID(),
      rules: new Map(),
    };
    this.nsgs.set(key(nsg.id), nsg);
    for (const [name, properties] of Object.entries(seed.rules ?? {})) {
      this.setRule(`${nsg.id}/securityRules/${name}`, properties);
    }
  }

  /** Creates or replaces a rule as if someone else had written it (validated like a PUT). The NSG must exist. */
  setRule(ruleId: string, properties: SecurityRuleSeed): void {
    const { nsg, ruleKey } = this.requireNsgOf(ruleId);
    const ref = parseRuleId(ruleId);
    const id = `${nsg.id}/securityRules/${ref.rule}`;
    const props = seedOrThrow(() => validateRuleInNsg(nsg, ruleKey, properties, id));
    nsg.rules.set(ruleKey, { id, name: ref.rule, props, provisioningState: 'Succeeded' });
    nsg.etag = weakEtag();
  }

  /** Removes a rule as if someone else had deleted it (no operation). */
  removeRule(ruleId: string): void {
    const { nsg, ruleKey } = this.requireNsgOf(ruleId);
    if (nsg.rules.delete(ruleKey)) nsg.etag = weakEtag();
  }

  /** Exactly the JSON a GET of the rule would return now. */
  rule(ruleId: string): Record<string, unknown> | undefined {
    const ref = parseRuleId(ruleId);
    const nsg = this.nsgs.get(key(resourcePath(ref, NSG_TYPE)));
    const rule = nsg?.rules.get(ref.rule.toLowerCase());
    return nsg && rule ? renderRule(nsg, rule) : undefined;
  }

  private requireNsgOf(ruleId: string): { nsg: NsgRecord; ruleKey: string } {
    const ref = parseRuleId(ruleId);
    const nsg = this.nsgs.get(key(resourcePath(ref, NSG_TYPE)));
    if (!nsg) throw new Error(`no NSG ${resourcePath(ref, NSG_TYPE)}: call setNsg() first`);
    return { nsg, ruleKey: ref.rule.toLowerCase() };
  }

  // ----- handlers ------------------------------------------------------------------------------------------------

  private nsgFromParams(r: ArmRequest): NsgRecord {
    const { subscription = '', resourceGroup = '', nsg = '' } = r.params;
    const record = this.nsgs.get(key(resourcePath({ subscription, resourceGroup, name: nsg }, NSG_TYPE)));
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
      type: NSG_TYPE,
      location: nsg.location,
      properties: {
        provisioningState: 'Succeeded',
        resourceGuid: nsg.resourceGuid,
        securityRules: [...nsg.rules.values()].map((rule) => renderRule(nsg, rule)),
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
    const items = [...nsg.rules.values()].map((rule) => renderRule(nsg, rule));
    return { status: 200, body: this.core.page(r, items) };
  }

  private getRule(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const name = r.params.rule ?? '';
    const rule = nsg.rules.get(name.toLowerCase());
    if (!rule) throw ruleNotFound(nsg, name);
    return { status: 200, body: renderRule(nsg, rule), headers: { ETag: nsg.etag } };
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
    const props = validateRuleInNsg(nsg, ruleKey, body.properties, id);
    const opId = randomUUID();
    const rollback = existing ? (existing.pendingOp ? existing.rollback : existing.props) : null;
    if (existing?.pendingOp) this.core.supersede(existing.pendingOp, opId);
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
    this.core.startOperation(
      this.operation(nsg, opId, 'securityRule.put', 'PutSecurityRuleOperation'),
      (status) => finishRuleWrite(nsg, ruleKey, opId, status),
    );
    return {
      status: existing ? 200 : 201,
      body: renderRule(nsg, record),
      headers: { ...this.core.lroHeaders(r, opId, nsg.location, 'operations'), ETag: nsg.etag },
    };
  }

  private deleteRule(r: ArmRequest): Reply {
    const nsg = this.nsgFromParams(r);
    const ruleKey = (r.params.rule ?? '').toLowerCase();
    const rule = nsg.rules.get(ruleKey);
    if (!rule) return { status: 204 };
    checkPreconditions(r.ctx.req, [nsg.etag], rule.id);
    const opId = randomUUID();
    if (rule.pendingOp) this.core.supersede(rule.pendingOp, opId);
    Object.assign(rule, { provisioningState: 'Deleting', pendingOp: opId });
    nsg.etag = weakEtag();
    this.core.startOperation(
      this.operation(nsg, opId, 'securityRule.delete', 'DeleteSecurityRuleOperation'),
      (status) => finishRuleDelete(nsg, ruleKey, opId, status),
    );
    const headers = this.core.lroHeaders(r, opId, nsg.location, 'operations');
    headers.Location = this.core.operationUrl(r, nsg.location, 'operationResults', opId);
    return { status: 202, headers };
  }

  /** Another writer changes the rule just before this request (new etag; one more address where a list is used). */
  private concurrentRuleWrite(nsg: NsgRecord, ruleKey: string): void {
    const rule = nsg.rules.get(ruleKey);
    if (!rule) return;
    const side =
      rule.props.sourceAddressPrefixes.length > 0 ? 'sourceAddressPrefixes' : 'destinationAddressPrefixes';
    const list = rule.props[side];
    const extra = this.core.foreignAddress(list);
    if (extra !== undefined) rule.props = { ...rule.props, [side]: [...list, extra] };
    nsg.etag = weakEtag();
  }

  private operation(nsg: NsgRecord, id: string, routeName: string, name: string) {
    const kind = 'operations' as const;
    return { id, name, routeName, kind, subscription: nsg.ref.subscription, location: nsg.location };
  }
}

function ruleNotFound(nsg: NsgRecord, name: string): ArmFailure {
  return nrpFailure(404, 'NotFound', `Resource ${nsg.id}/securityRules/${name} not found.`);
}

function finishRuleWrite(nsg: NsgRecord, ruleKey: string, opId: string, status: TerminalStatus): void {
  const rule = nsg.rules.get(ruleKey);
  if (!rule || rule.pendingOp !== opId) return;
  const { rollback } = rule;
  Object.assign(rule, { pendingOp: undefined, rollback: undefined });
  if (status !== 'Canceled') rule.provisioningState = status;
  else if (rollback) Object.assign(rule, { props: rollback, provisioningState: 'Succeeded' });
  else nsg.rules.delete(ruleKey);
  nsg.etag = weakEtag();
}

function finishRuleDelete(nsg: NsgRecord, ruleKey: string, opId: string, status: TerminalStatus): void {
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

function renderRule(nsg: NsgRecord, rule: RuleRecord): Record<string, unknown> {
  return {
    name: rule.name,
    id: rule.id,
    etag: nsg.etag,
    type: RULE_TYPE,
    properties: { provisioningState: rule.provisioningState, ...renderRuleProps(rule.props) },
  };
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

// ---------------------------------------------------------------------------------------------------------------
// Validation (NRP's checks, in the order a client would meet them)

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

/** Rule-level then NSG-level checks (priority per direction, rule count, addresses per NSG). */
function validateRuleInNsg(nsg: NsgRecord, ruleKey: string, properties: unknown, ruleId: string): RuleProps {
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

/** Number of literal addresses and ranges a rule names on one side (tags are not counted). */
function literalCount(props: RuleProps, side: Side): number {
  const single = side === 'source' ? props.sourceAddressPrefix : props.destinationAddressPrefix;
  const plural = side === 'source' ? props.sourceAddressPrefixes : props.destinationAddressPrefixes;
  return plural.length + (single !== undefined && parsePrefix(single) ? 1 : 0);
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
