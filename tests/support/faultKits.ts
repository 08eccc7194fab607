import type { TargetType } from '../../lib/config/schema';
import { parsePrefix } from '../../lib/net/addresses';
import type { State } from '../../lib/state/store';
import {
  IP_GROUP_ID,
  NEW_IP,
  OLD_IP,
  OTHER_RULE_ID,
  RECORD_NAME,
  RULE_ID,
  SUBSCRIPTION,
  ZONE_ID,
  type World,
} from '../../sandbox/story';

/**
 * What the fault matrix (tests/e2e/faults.matrix.ts) needs to know of each target type in a world: its config,
 * what to seed beside the story's resources (entries the reconciler does not own among them), and the checks
 * every cell makes: converged (the source's addresses, `Succeeded`, owned in the state), never empty, and
 * every entry the reconciler does not own, to compare before and after.
 */

const MARK = 'managed-by=apim-ip-reconciler';
const COMMENT_MARK = 'managed-by:apim-ip-reconciler';
export const ACCOUNT = '01a7362d577a6c3019a474fd6f485823';
export const LIST = '2c0fc9fa937b11eaa1b71c4d701ab86e';
export const POOL = '17b5962d775c646f3f9725cbc7a53df4';
export const POLICY_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-firewall/providers/Microsoft.Network/firewallPolicies/fw-policy`;
export const RCG_ID = `${POLICY_ID}/ruleCollectionGroups/apim`;
export const SITE_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-web/providers/Microsoft.Web/sites/backend-app`;
export const CNAME_NAME = 'edge.contoso.com';
const GATEWAY = 'contoso.azure-api.net';

const key = (entry: string): string => parsePrefix(entry)?.key ?? entry;
const keys = (entries: readonly string[]): string[] => entries.map(key);
export const json = (value: unknown): string => JSON.stringify(value);
const without = (record: Record<string, unknown>, ...names: string[]): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([k]) => !names.includes(k)));

/** Observations of one target type in a world, for the checks every cell makes. */
export interface Kit {
  type: TargetType;
  name: string;
  target: Record<string, unknown>;
  emulator: 'arm' | 'cloudflare';
  /** The route the target is read with, and the one its write goes to. */
  read: string;
  write: string;
  seed(world: World): void;
  /** Problems that keep the target from counting as converged; [] when it holds the source's addresses. */
  converged(world: World, state: State): string[];
  /** The allowlist or DNS name is empty (a message), or nothing. */
  empty(world: World): string[];
  /** Every entry the reconciler does not own, one string each (DNS: see zoneForeign). */
  foreign(world: World): string[];
}

function ownedProblems(state: State, name: string): string[] {
  const owned = state.targets[name]?.owned ?? [];
  return owned.includes(key(NEW_IP)) ? [] : [`the state does not own ${NEW_IP} in ${name} (owns ${owned})`];
}

function addressProblems(what: string, entries: readonly string[]): string[] {
  const present = keys(entries);
  return [NEW_IP, OLD_IP]
    .filter((ip) => !present.includes(key(ip)))
    .map((ip) => `${what} lacks ${ip} (has ${entries.join(', ')})`);
}

// ----- Cloudflare DNS -----------------------------------------------------------------------------------------

type DnsRecord = Record<string, unknown>;
const ADDRESS_TYPES = ['A', 'AAAA', 'CNAME'];
const records = (world: World, name: string): DnsRecord[] =>
  world.cloudflare.records(ZONE_ID, { name }).filter((r) => ADDRESS_TYPES.includes(String(r.type)));
const dnsEmpty = (world: World, name: string) =>
  records(world, name).length === 0 ? [`DNS name ${name} has no A, AAAA or CNAME record`] : [];
const describeRecords = (rs: DnsRecord[]) => rs.map((r) => `${r.type} ${r.content} "${r.comment ?? ''}"`);

/** Every record of the zone but the address records of the names the scene manages. */
export function zoneForeign(world: World, managed: readonly string[]): string[] {
  return world.cloudflare
    .records(ZONE_ID)
    .filter((r) => !(managed.includes(String(r.name)) && ADDRESS_TYPES.includes(String(r.type))))
    .map((r) => `record ${json(r)}`);
}

const dnsRecordsKit: Kit = {
  type: 'cloudflare.dnsRecords',
  name: 'api-dns',
  target: {
    name: 'api-dns',
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: ZONE_ID,
    recordName: RECORD_NAME,
    adopt: true,
  },
  emulator: 'cloudflare',
  read: 'dnsRecords.list',
  write: 'dnsRecords.batch',
  seed(world) {
    // The story seeds a hand-made proxied A record and a TXT record at api.contoso.com.
    world.cloudflare.addRecord(ZONE_ID, {
      type: 'A',
      name: 'www.contoso.com',
      content: '203.0.113.80',
      proxied: false,
      ttl: 300,
      comment: 'the web server',
    });
  },
  converged(world) {
    const rs = records(world, RECORD_NAME);
    const ok =
      rs.length === 1 &&
      rs[0]!.type === 'A' &&
      rs[0]!.content === NEW_IP &&
      String(rs[0]!.comment ?? '').startsWith(COMMENT_MARK);
    return ok ? [] : [`${RECORD_NAME} holds ${describeRecords(rs).join('; ')}, not the marked A ${NEW_IP}`];
  },
  empty: (world) => dnsEmpty(world, RECORD_NAME),
  foreign: () => [],
};

const dnsCnameKit: Kit = {
  type: 'cloudflare.dnsCname',
  name: 'edge-cname',
  target: {
    name: 'edge-cname',
    type: 'cloudflare.dnsCname',
    source: 'prod',
    zoneId: ZONE_ID,
    recordName: CNAME_NAME,
    adopt: true,
  },
  emulator: 'cloudflare',
  read: 'dnsRecords.list',
  write: 'dnsRecords.batch',
  seed(world) {
    world.cloudflare.addRecord(ZONE_ID, {
      type: 'A',
      name: CNAME_NAME,
      content: OLD_IP,
      proxied: true,
      ttl: 1,
    });
    world.cloudflare.addRecord(ZONE_ID, {
      type: 'TXT',
      name: CNAME_NAME,
      content: '"ownership-check=edge"',
      ttl: 3600,
    });
  },
  converged(world) {
    const rs = records(world, CNAME_NAME);
    const ok =
      rs.length === 1 &&
      rs[0]!.type === 'CNAME' &&
      rs[0]!.content === GATEWAY &&
      String(rs[0]!.comment ?? '').startsWith(COMMENT_MARK);
    return ok
      ? []
      : [`${CNAME_NAME} holds ${describeRecords(rs).join('; ')}, not the marked CNAME ${GATEWAY}`];
  },
  empty: (world) => dnsEmpty(world, CNAME_NAME),
  foreign: () => [],
};

// ----- Cloudflare pools and lists -----------------------------------------------------------------------------

export const origins = (world: World) =>
  (world.cloudflare.pool(ACCOUNT, POOL)?.origins ?? []) as Array<Record<string, unknown>>;
const ours = (world: World) => origins(world).filter((o) => String(o.name).startsWith('apim-'));

const poolKit: Kit = {
  type: 'cloudflare.poolOrigins',
  name: 'edge-pool',
  target: {
    name: 'edge-pool',
    type: 'cloudflare.poolOrigins',
    source: 'prod',
    accountId: ACCOUNT,
    poolId: POOL,
  },
  emulator: 'cloudflare',
  read: 'pools.get',
  write: 'pools.patch',
  seed(world) {
    world.cloudflare.addPool(ACCOUNT, {
      id: POOL,
      name: 'primary',
      description: 'APIM behind Cloudflare',
      minimum_origins: 1,
      check_regions: ['WEU'],
      origin_steering: { policy: 'least_outstanding_requests' },
      origins: [{ name: 'backup-dc', address: 'backup.contoso.net', enabled: true, weight: 0.2, port: 8443 }],
    });
  },
  converged(world) {
    const mine = ours(world);
    const ok =
      mine.length === 1 &&
      mine[0]!.name === `apim-${NEW_IP}` &&
      mine[0]!.address === NEW_IP &&
      json(mine[0]!.header) === json({ Host: [GATEWAY] });
    return ok ? [] : [`pool origins ${json(mine)} are not apim-${NEW_IP} alone`];
  },
  empty: (world) => (ours(world).length === 0 ? ['the pool has no apim- origin'] : []),
  foreign(world) {
    const pool = world.cloudflare.pool(ACCOUNT, POOL) ?? {};
    return [
      `pool settings ${json(without(pool, 'origins', 'modified_on'))}`,
      ...origins(world)
        .filter((o) => !String(o.name).startsWith('apim-'))
        .map((o) => `origin ${json(o)}`),
    ];
  },
};

const items = (world: World) => world.cloudflare.listItems(ACCOUNT, LIST);
const marked = (item: Record<string, unknown>) => String(item.comment ?? '').startsWith(COMMENT_MARK);

const ipListKit: Kit = {
  type: 'cloudflare.ipList',
  name: 'edge-list',
  target: { name: 'edge-list', type: 'cloudflare.ipList', source: 'prod', accountId: ACCOUNT, listId: LIST },
  emulator: 'cloudflare',
  read: 'listItems.list',
  write: 'listItems.create',
  seed(world) {
    world.cloudflare.addList(ACCOUNT, { id: LIST, name: 'apim_egress' });
    world.cloudflare.addListItem(ACCOUNT, LIST, { ip: '198.51.100.0/24', comment: 'office' });
  },
  converged: (world) =>
    addressProblems(
      'the marked IP list items',
      items(world)
        .filter(marked)
        .map((i) => String(i.ip)),
    ),
  empty: (world) => (items(world).filter(marked).length === 0 ? ['the IP list has no marked item'] : []),
  foreign: (world) =>
    items(world)
      .filter((i) => !marked(i))
      .map((i) => `item ${json({ id: i.id, ip: i.ip, comment: i.comment })}`),
};

// ----- Azure ----------------------------------------------------------------------------------------------------

const ourKeys = new Set([key(OLD_IP), key(NEW_IP)]);
const foreignEntries = (what: string, entries: readonly string[]) =>
  entries.filter((e) => !ourKeys.has(key(e))).map((e) => `${what} entry ${e}`);

type Props = Record<string, unknown>;
const ruleProps = (world: World, id: string) =>
  (world.arm.securityRule(id) as { properties?: Props } | undefined)?.properties;
const rulePrefixes = (props: Props | undefined) => (props?.sourceAddressPrefixes ?? []) as string[];

const nsgKit: Kit = {
  type: 'azure.nsgRule',
  name: 'backend-nsg',
  target: {
    name: 'backend-nsg',
    type: 'azure.nsgRule',
    source: 'prod',
    ruleId: RULE_ID,
    adopt: true,
    create: { priority: 200, direction: 'Inbound', protocol: 'Tcp', destinationPortRanges: ['443'] },
  },
  emulator: 'arm',
  read: 'securityRule.get',
  write: 'securityRule.put',
  seed(world) {
    world.arm.setSecurityRule(RULE_ID, {
      protocol: 'Tcp',
      access: 'Allow',
      priority: 200,
      direction: 'Inbound',
      sourcePortRange: '*',
      destinationPortRange: '443',
      sourceAddressPrefixes: [OLD_IP, '198.51.100.7'],
      destinationAddressPrefix: '*',
      description: 'APIM gateway to the backend (made by hand)',
    });
  },
  converged(world, state) {
    const props = ruleProps(world, RULE_ID);
    if (!props) return ['rule allow-apim is gone'];
    return [
      ...(props.provisioningState === 'Succeeded' ? [] : [`rule allow-apim is ${props.provisioningState}`]),
      ...(String(props.description ?? '').includes(MARK) ? [] : ['rule allow-apim lacks the mark']),
      ...addressProblems('rule allow-apim', rulePrefixes(props)),
      ...ownedProblems(state, 'backend-nsg'),
    ];
  },
  empty: (world) =>
    rulePrefixes(ruleProps(world, RULE_ID)).length === 0 ? ['rule allow-apim has no source address'] : [],
  foreign(world) {
    const props = ruleProps(world, RULE_ID);
    const other = ruleProps(world, OTHER_RULE_ID) ?? {};
    const office = `rule allow-office-ssh ${json(without(other, 'provisioningState'))}`;
    // A missing rule has nothing of anyone's; once the reconciler creates it, all of it is the reconciler's.
    if (!props) return [office];
    return [
      office,
      `rule allow-apim ${json({
        ...without(props, 'sourceAddressPrefixes', 'sourceAddressPrefix', 'provisioningState', 'description'),
        description: String(props.description ?? '')
          .replace(MARK, '')
          .trim(),
      })}`,
      ...foreignEntries('rule allow-apim', rulePrefixes(props)),
    ];
  },
};

const ipGroup = (world: World) =>
  world.arm.ipGroup(IP_GROUP_ID) as
    { location: string; tags?: Record<string, string>; properties: Props } | undefined;
const groupAddresses = (world: World) => (ipGroup(world)?.properties.ipAddresses ?? []) as string[];

const ipGroupKit: Kit = {
  type: 'azure.ipGroup',
  name: 'firewall-egress',
  target: {
    name: 'firewall-egress',
    type: 'azure.ipGroup',
    source: 'prod',
    resourceId: IP_GROUP_ID,
    adopt: true,
  },
  emulator: 'arm',
  read: 'ipGroup.get',
  write: 'ipGroup.put',
  seed(world) {
    world.arm.setIpGroup(IP_GROUP_ID, {
      location: 'westeurope',
      tags: { team: 'network' },
      ipAddresses: [`${OLD_IP}/32`, '198.51.100.0/28'],
    });
  },
  converged(world, state) {
    const group = ipGroup(world);
    if (!group) return ['IP group apim-egress is gone'];
    return [
      ...(group.properties.provisioningState === 'Succeeded'
        ? []
        : [`IP group apim-egress is ${group.properties.provisioningState}`]),
      ...(group.tags?.['managed-by'] === 'apim-ip-reconciler' ? [] : ['IP group apim-egress lacks the tag']),
      ...addressProblems('IP group apim-egress', groupAddresses(world)),
      ...ownedProblems(state, 'firewall-egress'),
    ];
  },
  empty: (world) => (groupAddresses(world).length === 0 ? ['IP group apim-egress is empty'] : []),
  foreign(world) {
    const group = ipGroup(world);
    return [
      `IP group ${json({ location: group?.location, tags: without(group?.tags ?? {}, 'managed-by') })}`,
      ...foreignEntries('IP group', groupAddresses(world)),
    ];
  },
};

type Collection = Props & { name: string; rules: Props[] };
const groupOf = (world: World) =>
  world.arm.ruleCollectionGroup(RCG_ID) as
    { properties: Props & { ruleCollections: Collection[] } } | undefined;
const apimRule = (world: World) =>
  groupOf(world)
    ?.properties.ruleCollections.find((c) => c.name === 'apim-egress')
    ?.rules.find((r) => r.name === 'allow-apim');
const ruleSources = (world: World) => (apimRule(world)?.sourceAddresses ?? []) as string[];

const firewallKit: Kit = {
  type: 'azure.firewallPolicyRule',
  name: 'fw',
  target: {
    name: 'fw',
    type: 'azure.firewallPolicyRule',
    source: 'prod',
    ruleCollectionGroupId: RCG_ID,
    ruleCollection: 'apim-egress',
    rule: 'allow-apim',
    adopt: true,
  },
  emulator: 'arm',
  read: 'ruleCollectionGroup.get',
  write: 'ruleCollectionGroup.put',
  seed(world) {
    const network = (name: string, sources: string[], port: string, description?: string) => ({
      ruleType: 'NetworkRule',
      name,
      ...(description ? { description } : {}),
      ipProtocols: ['TCP'],
      sourceAddresses: sources,
      destinationAddresses: ['10.2.0.0/24'],
      destinationPorts: [port],
    });
    world.arm.setFirewallPolicy(POLICY_ID, { location: 'westeurope' });
    world.arm.setRuleCollectionGroup(RCG_ID, {
      priority: 200,
      ruleCollections: [
        {
          ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
          name: 'apim-egress',
          priority: 200,
          action: { type: 'Allow' },
          rules: [
            network('allow-apim', [OLD_IP, '198.51.100.9'], '443', 'egress of the APIM gateway'),
            network('allow-monitoring', ['203.0.113.7'], '9100'),
          ],
        },
        {
          ruleCollectionType: 'FirewallPolicyFilterRuleCollection',
          name: 'office',
          priority: 300,
          action: { type: 'Allow' },
          rules: [network('office-ssh', ['198.51.100.0/28'], '22')],
        },
      ],
    });
  },
  converged(world, state) {
    const group = groupOf(world);
    if (!group) return ['rule collection group apim is gone'];
    const rule = apimRule(world) ?? {};
    return [
      ...(group.properties.provisioningState === 'Succeeded'
        ? []
        : [`rule collection group apim is ${group.properties.provisioningState}`]),
      ...(String(rule.description ?? '').includes(MARK) ? [] : ['firewall rule allow-apim lacks the mark']),
      ...addressProblems('firewall rule allow-apim', ruleSources(world)),
      ...ownedProblems(state, 'fw'),
    ];
  },
  empty: (world) => (ruleSources(world).length === 0 ? ['firewall rule allow-apim has no source'] : []),
  foreign(world) {
    const group = groupOf(world);
    const collections = group?.properties.ruleCollections ?? [];
    const rule = apimRule(world) ?? {};
    return [
      `group priority ${json(group?.properties.priority)}`,
      ...collections.flatMap((c) =>
        c.name !== 'apim-egress'
          ? [`collection ${json(c)}`]
          : [
              `collection ${json(without(c, 'rules'))}`,
              ...c.rules.filter((r) => r.name !== 'allow-apim').map((r) => `rule ${json(r)}`),
            ],
      ),
      `rule allow-apim ${json({
        ...without(rule, 'sourceAddresses', 'description'),
        description: String(rule.description ?? '')
          .replace(MARK, '')
          .trim(),
      })}`,
      ...foreignEntries('firewall rule allow-apim', ruleSources(world)),
    ];
  },
};

export const restrictions = (world: World) =>
  ((world.arm.siteConfig(SITE_ID) as { properties?: Props } | undefined)?.properties
    ?.ipSecurityRestrictions ?? []) as Props[];
const apimEntries = (world: World) => restrictions(world).filter((r) => String(r.name).startsWith('apim-'));

const appServiceKit: Kit = {
  type: 'azure.appServiceAccessRestriction',
  name: 'backend-app',
  target: { name: 'backend-app', type: 'azure.appServiceAccessRestriction', source: 'prod', siteId: SITE_ID },
  emulator: 'arm',
  read: 'webConfig.get',
  write: 'webConfig.put',
  seed(world) {
    world.arm.setSite(SITE_ID, {
      location: 'westeurope',
      ipSecurityRestrictions: [
        { ipAddress: '198.51.100.0/24', action: 'Allow', priority: 300, name: 'office' },
      ],
    });
  },
  converged: (world) =>
    addressProblems(
      'the apim- access restrictions',
      apimEntries(world).map((r) => String(r.ipAddress)),
    ),
  empty: (world) => (apimEntries(world).length === 0 ? ['the site has no apim- access restriction'] : []),
  foreign: (world) =>
    restrictions(world)
      .filter((r) => !String(r.name).startsWith('apim-'))
      .map((r) => `restriction ${json(r)}`),
};

export const KITS: Record<TargetType, Kit> = {
  'cloudflare.dnsRecords': dnsRecordsKit,
  'cloudflare.dnsCname': dnsCnameKit,
  'cloudflare.poolOrigins': poolKit,
  'cloudflare.ipList': ipListKit,
  'azure.nsgRule': nsgKit,
  'azure.ipGroup': ipGroupKit,
  'azure.firewallPolicyRule': firewallKit,
  'azure.appServiceAccessRestriction': appServiceKit,
};
