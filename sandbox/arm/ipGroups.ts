/**
 * IP Groups (Microsoft.Network/ipGroups): GET and PUT (long-running), as Azure Firewall rules reference them.
 *
 * - Paths and schema: Azure/azure-rest-api-specs `specification/network/resource-manager/Microsoft.Network/stable/
 *   2025-07-01/ipGroups.json` (PUT 200/201, final-state-via azure-async-operation; `ipAddresses` takes addresses and
 *   CIDRs, `firewalls` and `firewallPolicies` are read-only). IP Groups appeared in api-version 2019-09-01.
 * - Wire shape from real traffic (azure-sdk-for-go armnetwork recording TestIPGroupsClient_BeginCreateOrUpdate.json,
 *   api 2021-05-01): PUT → 201 with provisioningState "Updating", Azure-AsyncOperation on
 *   …/locations/{loc}/nfvOperations/{id} and Retry-After 10; `type` is "Microsoft.Network/IpGroups" (capital I, unlike
 *   the spec example); the etag is a BARE GUID in the body and `"<guid>"` in the ETag header (If-Match accepts both);
 *   `firewalls` and `firewallPolicies` come back as `[]`.
 * - Entries: an IPv4 address, an IPv4 CIDR without host bits, or an ascending range `a-b`. Limit: 5,000 addresses or
 *   prefixes per IP Group (MicrosoftDocs/azure-docs `includes/azure-firewall-limits.md`).
 * - Error texts quoted from real traffic: InvalidAddressPrefixFormat "IP Prefix x is invalid."
 *   (azure-service-operator#3081), IPGroupsIPAddressCountZero (bicep-registry-modules#6747: some regions reject an
 *   empty IP Group; this emulator rejects it everywhere), IpGroupsUpdateFailed, the default error of a Failed
 *   operation (terraform-provider-azurerm#27279). Invented: IPGroupsIPAddressCountExceeded (the 5,000 limit). From
 *   memory, not re-verified: the LocationRequired and InvalidResourceLocation wording.
 * - Operations: Failed keeps the new content, Failed; Canceled restores the previous content (or removes a group the
 *   operation was creating); a second write supersedes an operation in flight.
 * - concurrentModification faults on a PUT: another writer changed the group just before the request (new etag; one
 *   more TEST-NET address). Nothing happens to a missing one.
 */
import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Reply } from '../emulator';
import { ipv4ToBigInt, parsePrefix } from './addresses';
import {
  ArmProvider,
  NETWORK_VERSIONS,
  type ApiVersionRule,
  type ArmRequest,
  type ArmRoute,
  type TerminalStatus,
} from './core';
import {
  ArmFailure,
  checkPreconditions,
  checkResourceName,
  dropUndefined,
  invalidJson,
  isRecord,
  isStringArray,
  isStringMap,
  key,
  normalizeLocation,
  nrpFailure,
  parseTopLevelId,
  requireBody,
  resourcePath,
  seedOrThrow,
  RESOURCE_NOT_FOUND_HELP,
  type ErrorBody,
  type ResourceRef,
} from './wire';

const TYPE = 'Microsoft.Network/ipGroups';
const MAX_IP_GROUP_ENTRIES = 5000;
/** IP Groups appeared in 2019-09-01. */
const IP_GROUP_VERSIONS = NETWORK_VERSIONS.filter((v) => v >= '2019-09-01');

interface IpGroupContent {
  location: string;
  tags?: Record<string, string>;
  ipAddresses: string[];
}

interface IpGroupRecord extends IpGroupContent {
  ref: ResourceRef;
  id: string;
  etag: string;
  provisioningState: string;
  pendingOp?: string;
  rollback?: IpGroupContent | null;
}

export class IpGroups extends ArmProvider {
  private readonly groups = new Map<string, IpGroupRecord>();

  routes(): ArmRoute[] {
    const template = `/subscriptions/{subscription}/resourceGroups/{resourceGroup}/providers/${TYPE}/{ipGroup}`;
    return [
      { name: 'ipGroup.get', method: 'GET', template, action: `${TYPE}/read`, handle: (r) => this.get(r) },
      { name: 'ipGroup.put', method: 'PUT', template, action: `${TYPE}/write`, handle: (r) => this.put(r) },
    ];
  }

  override apiVersions(): ApiVersionRule[] {
    return [{ namespace: 'Microsoft.Network', type: /^ipgroups$/i, versions: IP_GROUP_VERSIONS }];
  }

  override locationOf(lowerPath: string): string | undefined {
    return this.groups.get(lowerPath)?.location;
  }

  override failedOperationError(routeName: string): ErrorBody | undefined {
    if (!routeName.startsWith('ipGroup')) return undefined;
    return {
      code: 'IpGroupsUpdateFailed',
      message: 'Failed to update the IP Group. Please retry the operation.',
    };
  }

  // ----- seeding and inspection ----------------------------------------------------------------------------------

  set(id: string, seed: { location: string; tags?: Record<string, string>; ipAddresses: string[] }): void {
    const ref = parseTopLevelId(id, TYPE);
    this.core.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const content = seedOrThrow(() =>
      validateContent({ ...seed, location: normalizeLocation(seed.location) }),
    );
    this.groups.set(key(resourcePath(ref, TYPE)), {
      ...structuredClone(content),
      ref,
      id: resourcePath(ref, TYPE),
      etag: randomUUID(),
      provisioningState: 'Succeeded',
    });
  }

  /** Exactly the JSON a GET of the group would return now. */
  group(id: string): Record<string, unknown> | undefined {
    const record = this.groups.get(key(resourcePath(parseTopLevelId(id, TYPE), TYPE)));
    return record ? render(record) : undefined;
  }

  // ----- handlers ------------------------------------------------------------------------------------------------

  private fromParams(r: ArmRequest): { record?: IpGroupRecord; ref: ResourceRef } {
    const { subscription = '', resourceGroup = '', ipGroup = '' } = r.params;
    const ref = {
      subscription,
      resourceGroup: this.core.requireResourceGroup(subscription, resourceGroup),
      name: ipGroup,
    };
    return { record: this.groups.get(key(resourcePath(ref, TYPE))), ref };
  }

  private get(r: ArmRequest): Reply {
    const { record } = this.fromParams(r);
    if (!record) {
      throw nrpFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.Network/ipGroups/${r.params.ipGroup}' under resource group ` +
          `'${r.params.resourceGroup}' was not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    return { status: 200, body: render(record), headers: { ETag: `"${record.etag}"` } };
  }

  private put(r: ArmRequest): Reply {
    const { record: before, ref } = this.fromParams(r);
    if (before && r.ctx.concurrentModification) this.concurrentWrite(before);
    checkResourceName(ref.name);
    const body = requireBody(r.ctx.body);
    const content = readBody(body);
    if (before && before.location !== content.location) {
      throw new ArmFailure(
        409,
        'InvalidResourceLocation',
        `The resource '${ref.name}' already exists in location '${before.location}' in resource group ` +
          `'${ref.resourceGroup}'. A resource with the same name cannot be created in location ` +
          `'${content.location}'. Please select a new resource name.`,
      );
    }
    checkPreconditions(
      r.ctx.req,
      before ? [`"${before.etag}"`, before.etag] : undefined,
      resourcePath(ref, TYPE),
    );
    validateContent(content);
    const opId = randomUUID();
    const rollback = before ? (before.pendingOp ? before.rollback : contentOf(before)) : null;
    if (before?.pendingOp) this.core.supersede(before.pendingOp, opId);
    const record: IpGroupRecord = {
      ...content,
      ref,
      id: before?.id ?? resourcePath(ref, TYPE),
      etag: randomUUID(),
      provisioningState: 'Updating',
      pendingOp: opId,
      rollback: rollback ?? null,
    };
    this.groups.set(key(record.id), record);
    const operation = {
      id: opId,
      name: 'PutIpGroupOperation',
      routeName: 'ipGroup.put',
      kind: 'nfvOperations' as const,
    };
    this.core.startOperation(
      { ...operation, subscription: ref.subscription, location: content.location },
      (status) => this.finishWrite(key(record.id), opId, status),
    );
    return {
      status: before ? 200 : 201,
      body: render(record),
      headers: {
        ...this.core.lroHeaders(r, opId, content.location, 'nfvOperations'),
        ETag: `"${record.etag}"`,
      },
    };
  }

  private finishWrite(recordKey: string, opId: string, status: TerminalStatus): void {
    const record = this.groups.get(recordKey);
    if (!record || record.pendingOp !== opId) return;
    if (status === 'Canceled' && !record.rollback) {
      this.groups.delete(recordKey);
      return;
    }
    if (status === 'Canceled' && record.rollback) Object.assign(record, { tags: undefined }, record.rollback);
    record.provisioningState = status === 'Failed' ? 'Failed' : 'Succeeded';
    record.pendingOp = undefined;
    record.rollback = undefined;
    record.etag = randomUUID();
  }

  private concurrentWrite(record: IpGroupRecord): void {
    const extra = this.core.foreignAddress(record.ipAddresses.filter((a) => !a.includes('-')));
    if (extra !== undefined) record.ipAddresses = [...record.ipAddresses, extra];
    record.etag = randomUUID();
  }
}

function render(record: IpGroupRecord): Record<string, unknown> {
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

function validateContent(content: IpGroupContent): IpGroupContent {
  const bad = content.ipAddresses.find((entry) => !isIpGroupEntry(entry));
  if (bad !== undefined) throw nrpFailure(400, 'InvalidAddressPrefixFormat', `IP Prefix ${bad} is invalid.`);
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

function readBody(body: Record<string, unknown>): IpGroupContent {
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

function contentOf(record: IpGroupRecord): IpGroupContent {
  return dropUndefined({
    location: record.location,
    tags: record.tags,
    ipAddresses: [...record.ipAddresses],
  });
}
