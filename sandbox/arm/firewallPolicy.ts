/**
 * Firewall policies and their rule collection groups (Microsoft.Network/firewallPolicies/{fp}/ruleCollectionGroups/
 * {rcg}): GET of the policy; list, GET and PUT (slow, long-running, whole group) of its groups.
 *
 * - Paths and schema: Azure/azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/
 *   2025-07-01/firewallPolicy.json` (PUT 201/200, final-state-via azure-async-operation; a group is
 *   `properties{priority, ruleCollections[{ruleCollectionType, name, priority, action, rules}]}`; rules are not
 *   resources, so updates are read-modify-write of the group). Firewall policies appeared in 2019-06-01; rule
 *   collection groups replaced rule groups in 2020-05-01.
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
 *   referenced firewalls" (terraform-provider-azurerm#19843); the group keeps the new content, Failed. Canceled
 *   restores the previous content (or removes a group the operation was creating).
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
 */
import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Reply } from '../emulator';
import { ipv4ToBigInt, isServiceTag, parsePrefix } from './addresses';
import {
  ArmProvider,
  NETWORK_VERSIONS,
  type ApiVersionRule,
  type ArmCore,
  type ArmCoreOptions,
  type ArmRequest,
  type ArmRoute,
  type TerminalStatus,
} from './core';
import {
  ArmFailure,
  RESOURCE_NOT_FOUND_HELP,
  RG_PREFIX,
  apiVersionAtLeast,
  checkPreconditions,
  inWireOrder,
  invalidJson,
  isAtOrUnder,
  isRecord,
  isStringArray,
  key,
  normalizeLocation,
  nrpFailure,
  parseId,
  parseTopLevelId,
  requireBody,
  resourcePath,
  seedOrThrow,
  type ErrorBody,
  type ResourceRef,
  type WireOrder,
} from './wire';

export interface RuleCollectionGroupOptions extends ArmCoreOptions {
  /** InProgress poll answers of a rule collection group operation (default lroPolls; real ones take minutes). */
  ruleCollectionGroupPolls?: number;
  /** Retry-After on rule collection group LROs (default retryAfterSeconds; real NRP says 10). */
  ruleCollectionGroupRetryAfterSeconds?: number;
}

const POLICY_TYPE = 'Microsoft.Network/firewallPolicies';
const GROUP_ACTION = 'Microsoft.Network/firewallPolicies/ruleCollectionGroups';
const RULE_COLLECTION_GROUP_TYPE = 'Microsoft.Network/FirewallPolicies/RuleCollectionGroups';
/** Firewall policies appeared in 2019-06-01; rule collection groups replaced rule groups in 2020-05-01. */
const FIREWALL_POLICY_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2019-06-01');
const RULE_COLLECTION_GROUP_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2020-05-01');
/** The REST reference's pattern for rule collection group names. */
const RULE_COLLECTION_GROUP_NAME = /^[^_\W][\w.-]{0,79}(?<![-.])$/;
const MAX_RULE_COLLECTION_GROUPS = 100;
const FILTER_COLLECTION = 'FirewallPolicyFilterRuleCollection';
const NAT_COLLECTION = 'FirewallPolicyNatRuleCollection';
const NETWORK_PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'Any'];
const IP_GROUP_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/ipGroups\/[^/]+$/i;
const FQDN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;

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

interface RuleCollectionGroupRef extends ResourceRef {
  group: string;
}

function parseRuleCollectionGroupId(id: string): RuleCollectionGroupRef {
  const [subscription, resourceGroup, name, group] = parseId(
    id,
    new RegExp(`${RG_PREFIX}Microsoft\\.Network/firewallPolicies/([^/]+)/ruleCollectionGroups/([^/]+)$`, 'i'),
    'Microsoft.Network/firewallPolicies/ruleCollectionGroups',
  ) as [string, string, string, string];
  return { subscription, resourceGroup, name, group };
}

// ---------------------------------------------------------------------------------------------------------------
// State

interface RuleCollectionGroupContent {
  priority: number;
  ruleCollections: Array<Record<string, unknown>>;
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
  ref: ResourceRef;
  id: string;
  location: string;
  etag: string;
  groups: Map<string, RuleCollectionGroupRecord>;
  /** The operation that holds the policy: NRP takes one write per policy at a time. */
  lock?: { opId: string; url: string };
}

// ---------------------------------------------------------------------------------------------------------------
// The provider

export class FirewallPolicies extends ArmProvider {
  private readonly policies = new Map<string, FirewallPolicyRecord>();
  private readonly groupPolls: number;
  private readonly groupRetryAfter: number;

  constructor(core: ArmCore, options: RuleCollectionGroupOptions) {
    super(core);
    this.groupPolls = options.ruleCollectionGroupPolls ?? core.lroPolls;
    this.groupRetryAfter = options.ruleCollectionGroupRetryAfterSeconds ?? core.retryAfterSeconds;
  }

  routes(): ArmRoute[] {
    const policy = `/subscriptions/{subscription}/resourceGroups/{resourceGroup}/providers/${POLICY_TYPE}/{policy}`;
    return [
      {
        name: 'firewallPolicy.get',
        method: 'GET',
        template: policy,
        action: `${POLICY_TYPE}/read`,
        handle: (r) => this.getPolicy(r),
      },
      {
        name: 'ruleCollectionGroup.list',
        method: 'GET',
        template: `${policy}/ruleCollectionGroups`,
        action: `${GROUP_ACTION}/read`,
        handle: (r) => this.listGroups(r),
      },
      {
        name: 'ruleCollectionGroup.get',
        method: 'GET',
        template: `${policy}/ruleCollectionGroups/{group}`,
        action: `${GROUP_ACTION}/read`,
        handle: (r) => this.getGroup(r),
      },
      {
        name: 'ruleCollectionGroup.put',
        method: 'PUT',
        template: `${policy}/ruleCollectionGroups/{group}`,
        action: `${GROUP_ACTION}/write`,
        handle: (r) => this.putGroup(r),
      },
    ];
  }

  override apiVersions(): ApiVersionRule[] {
    return [
      {
        namespace: 'Microsoft.Network',
        type: /^firewallpolicies\/rulecollectiongroups$/i,
        versions: RULE_COLLECTION_GROUP_VERSIONS,
      },
      { namespace: 'Microsoft.Network', type: /^firewallpolicies$/i, versions: FIREWALL_POLICY_VERSIONS },
    ];
  }

  override locationOf(lowerPath: string): string | undefined {
    return [...this.policies.values()].find((p) => isAtOrUnder(lowerPath, p.id))?.location;
  }

  override failedOperationError(routeName: string): ErrorBody | undefined {
    if (!routeName.startsWith('ruleCollectionGroup')) return undefined;
    return {
      code: 'FirewallPolicyUpdateFailed',
      message: 'Put on Firewall Policy Failed with 1 faulted referenced firewalls',
    };
  }

  // ----- seeding and inspection ----------------------------------------------------------------------------------

  /** Creates or replaces an (empty) Firewall Policy; its rule collection groups are dropped. */
  setPolicy(policyId: string, seed: { location: string }): void {
    const ref = parseTopLevelId(policyId, POLICY_TYPE);
    this.core.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const id = resourcePath(ref, POLICY_TYPE);
    this.policies.set(key(id), {
      ref,
      id,
      location: normalizeLocation(seed.location),
      etag: randomUUID(),
      groups: new Map(),
    });
  }

  /** Creates or replaces a group as if someone else had written it (validated like a PUT). The policy must exist. */
  setGroup(rcgId: string, seed: { priority: number; ruleCollections: Array<Record<string, unknown>> }): void {
    const ref = parseRuleCollectionGroupId(rcgId);
    const policyId = resourcePath(ref, POLICY_TYPE);
    const policy = this.policies.get(key(policyId));
    if (!policy) throw new Error(`no Firewall Policy ${policyId}: call setFirewallPolicy() first`);
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
  group(rcgId: string): Record<string, unknown> | undefined {
    const ref = parseRuleCollectionGroupId(rcgId);
    const policy = this.policies.get(key(resourcePath(ref, POLICY_TYPE)));
    const group = policy?.groups.get(ref.group.toLowerCase());
    return policy && group ? renderGroup(policy, group, NETWORK_VERSIONS.at(-1) ?? '') : undefined;
  }

  // ----- handlers ------------------------------------------------------------------------------------------------

  private policyFromParams(r: ArmRequest): FirewallPolicyRecord {
    const { subscription = '', resourceGroup = '', policy = '' } = r.params;
    const record = this.policies.get(
      key(resourcePath({ subscription, resourceGroup, name: policy }, POLICY_TYPE)),
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

  private getPolicy(r: ArmRequest): Reply {
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

  private getGroup(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const name = r.params.group ?? '';
    const group = policy.groups.get(name.toLowerCase());
    if (!group) throw groupNotFound(policy, name);
    return {
      status: 200,
      body: renderGroup(policy, group, r.apiVersion),
      headers: { ETag: `"${group.etag}"` },
    };
  }

  private listGroups(r: ArmRequest): Reply {
    const policy = this.policyFromParams(r);
    const items = [...policy.groups.values()].map((g) => renderGroup(policy, g, r.apiVersion));
    return { status: 200, body: this.core.page(r, items) };
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
    const headers = this.core.lroHeaders(r, opId, policy.location, 'nfvOperations', this.groupRetryAfter);
    policy.lock = { opId, url: headers['Azure-AsyncOperation'] ?? '' };
    this.core.startOperation(
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
      (status) => finishGroupWrite(policy, groupKey, opId, status),
    );
    return {
      status: existing ? 200 : 201,
      body: renderGroup(policy, record, r.apiVersion),
      headers: { ...headers, ETag: `"${record.etag}"` },
    };
  }

  /** Another writer changes the group just before this request (new etag; one more source address somewhere). */
  private concurrentGroupWrite(policy: FirewallPolicyRecord, groupKey: string): void {
    const group = policy.groups.get(groupKey);
    if (!group) return;
    const rules = group.ruleCollections.flatMap((rc) => (rc.rules as Array<Record<string, unknown>>) ?? []);
    for (const rule of rules) {
      const sources = rule.sourceAddresses;
      if (rule.ruleType !== 'NetworkRule' || !isStringArray(sources)) continue;
      const extra = this.core.foreignAddress(sources.filter((a) => parsePrefix(a) !== undefined));
      if (extra === undefined) continue;
      rule.sourceAddresses = [...sources, extra];
      break;
    }
    group.etag = randomUUID();
    policy.etag = randomUUID();
  }
}

function groupNotFound(policy: FirewallPolicyRecord, name: string): ArmFailure {
  return nrpFailure(404, 'NotFound', `Resource ${policy.id}/ruleCollectionGroups/${name} not found.`);
}

function finishGroupWrite(
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

function renderGroup(
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

/** "0.00165081 MB", as NRP reports a group's size. */
function groupSize(content: RuleCollectionGroupContent): string {
  const bytes = Buffer.byteLength(JSON.stringify(content));
  return `${Number((bytes / 1_048_576).toPrecision(6))} MB`;
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

// ---------------------------------------------------------------------------------------------------------------
// Validation: NRP's checks and the wire shape it writes back

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
