import { z } from 'zod';
import { parseDuration } from './duration';
import { isLoopbackUrl } from './settings';

/**
 * The configuration document of PRODUCT §3. Unknown keys are errors everywhere, so a typo is never
 * silently ignored. The JSON Schema printed by `apim-ip-reconciler schema` is generated from this.
 */

const SEGMENT = '[^/]+';
const ARM_ID = (provider: string) =>
  new RegExp(`^/subscriptions/${SEGMENT}/resourceGroups/${SEGMENT}/providers/${provider}$`, 'i');

export const APIM_ID = ARM_ID(`Microsoft\\.ApiManagement/service/${SEGMENT}`);
export const NSG_RULE_ID = ARM_ID(
  `Microsoft\\.Network/networkSecurityGroups/${SEGMENT}/securityRules/${SEGMENT}`,
);
export const IP_GROUP_ID = ARM_ID(`Microsoft\\.Network/ipGroups/${SEGMENT}`);
export const RULE_COLLECTION_GROUP_ID = ARM_ID(
  `Microsoft\\.Network/firewallPolicies/${SEGMENT}/ruleCollectionGroups/${SEGMENT}`,
);
export const SITE_ID = ARM_ID(`Microsoft\\.Web/sites/${SEGMENT}(/slots/${SEGMENT})?`);

const armId = (pattern: RegExp, example: string) =>
  z.string().regex(pattern, { message: `must be a resource ID like ${example}` });

/** In a target of a fleet source, `{service}` stands for each service's name (PRODUCT §3). */
export const SERVICE_TOKEN = '{service}';

/** A string pattern that also accepts `{service}` where a name could stand. */
const templated = (pattern: RegExp, message: string) =>
  z.string().refine((s) => pattern.test(s.replaceAll(SERVICE_TOKEN, 'service')), { message });

const name = templated(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,119}$/, 'letters, digits, ".", "_", "-" and "/" only');
const sourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, { message: 'letters, digits, ".", "_" and "-" only' });

const hostname = z
  .string()
  .transform((s) => s.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(
    templated(
      /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$/,
      'must be a fully qualified DNS name such as api.contoso.com',
    ),
  );

const cloudflareId = templated(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Cloudflare identifier');

const selector = z.enum(['inbound', 'outbound', 'private']);

const targetBase = {
  name,
  source: z.string().min(1),
  addresses: selector.optional(),
  regions: z.array(z.string().min(1)).min(1).optional(),
  adopt: z.boolean().default(false),
};

const ttl = z
  .number()
  .int()
  .refine((n) => n === 1 || (n >= 30 && n <= 86400), {
    message: 'must be 1 (automatic) or 30–86400 seconds',
  });

export const dnsRecordsTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('cloudflare.dnsRecords'),
    zoneId: cloudflareId,
    recordName: hostname,
    proxied: z.boolean().optional(),
    ttl: z
      .number()
      .int()
      .refine((n) => n === 1 || (n >= 30 && n <= 86400), {
        message: 'must be 1 (automatic) or 30–86400 seconds',
      })
      .optional(),
  })
  .meta({
    description: "The A/AAAA records at recordName equal the source's addresses.",
  });

export const dnsCnameTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('cloudflare.dnsCname'),
    zoneId: cloudflareId,
    recordName: hostname,
    /** The host the CNAME points at; the APIM gateway host (from gatewayUrl) when omitted. */
    target: hostname.optional(),
    proxied: z.boolean().optional(),
    ttl: ttl.optional(),
  })
  .meta({
    description: 'One CNAME at recordName to the APIM gateway host (or target).',
  });

/** Account, list and pool ids: 32 hexadecimal characters, as Cloudflare shows them. */
const cloudflareHexId = z
  .string()
  .regex(/^[0-9a-fA-F]{32}$/, { message: 'must be a 32-character hexadecimal Cloudflare ID' })
  .transform((s) => s.toLowerCase());

export const ipListTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('cloudflare.ipList'),
    accountId: cloudflareHexId,
    listId: cloudflareHexId,
  })
  .meta({
    description:
      "The items of a Cloudflare Rules IP list that carry the reconciler's comment equal the source's addresses.",
  });

export const poolOriginsTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('cloudflare.poolOrigins'),
    accountId: cloudflareHexId,
    poolId: cloudflareHexId,
    /** The Host header of the origins; the APIM gateway host (from gatewayUrl) when omitted. */
    hostHeader: hostname.optional(),
  })
  .meta({
    description:
      "The origins named apim-<ip> of a Cloudflare load-balancer pool equal the source's addresses.",
  });

const portRange = z
  .string()
  .regex(/^(\*|\d{1,5}(-\d{1,5})?)$/, { message: 'must be "*", a port or a range' });

export const nsgRuleTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.nsgRule'),
    ruleId: armId(
      NSG_RULE_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/networkSecurityGroups/<nsg>/securityRules/<rule>',
    ),
    field: z.enum(['source', 'destination']).default('source'),
    create: z
      .strictObject({
        priority: z.number().int().min(100).max(4096),
        direction: z.enum(['Inbound', 'Outbound']),
        protocol: z.enum(['Tcp', 'Udp', 'Icmp', 'Esp', 'Ah', '*']).default('Tcp'),
        destinationPortRanges: z.array(portRange).min(1).default(['443']),
        sourcePortRanges: z.array(portRange).min(1).default(['*']),
        /** The side of the rule the reconciler does not manage (`*`, any, when omitted). */
        sourceAddressPrefix: z.string().min(1).optional(),
        destinationAddressPrefix: z.string().min(1).optional(),
        description: z.string().max(100).optional(),
      })
      .optional(),
  })
  .meta({
    description:
      "One NSG security rule's source (or destination) address prefixes; created from create if missing.",
  });

export const ipGroupTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.ipGroup'),
    resourceId: armId(
      IP_GROUP_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/ipGroups/<name>',
    ),
  })
  .meta({
    description: "An IP Group's addresses (reference it from Azure Firewall rules).",
  });

export const firewallPolicyRuleTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.firewallPolicyRule'),
    ruleCollectionGroupId: armId(
      RULE_COLLECTION_GROUP_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/firewallPolicies/<policy>/ruleCollectionGroups/<group>',
    ),
    ruleCollection: z.string().min(1),
    rule: z.string().min(1),
    /** Which address list of the rule to manage (default `source`: `sourceAddresses`). */
    field: z.enum(['source', 'destination']).default('source'),
  })
  .meta({
    description: "One rule's sourceAddresses in a firewall policy rule collection group.",
  });

const priority = z.number().int().min(1).max(2147483646);

export const appServiceAccessRestrictionTarget = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.appServiceAccessRestriction'),
    siteId: armId(
      SITE_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Web/sites/<app>[/slots/<slot>]',
    ),
    /** Priorities new `apim-*` entries may take; entries outside are never renumbered. */
    priorityRange: z
      .tuple([priority, priority])
      .refine(([from, to]) => from <= to, { message: 'must be [from, to] with from ≤ to' })
      .default([300, 399]),
    /** Also manage the scm (Kudu) site's restrictions, unless it uses the main site's list. */
    scm: z.boolean().default(false),
  })
  .meta({
    description: 'The access restrictions named apim-<ip> of a web app (or slot).',
  });

export const TARGET_SCHEMAS = [
  dnsRecordsTarget,
  dnsCnameTarget,
  ipListTarget,
  poolOriginsTarget,
  nsgRuleTarget,
  ipGroupTarget,
  firewallPolicyRuleTarget,
  appServiceAccessRestrictionTarget,
] as const;
export const TARGET_TYPES = TARGET_SCHEMAS.map((s) => s.shape.type.value);

export const targetSchema = z.discriminatedUnion('type', TARGET_SCHEMAS);

const serviceSource = z.strictObject({
  resourceId: armId(
    APIM_ID,
    '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ApiManagement/service/<name>',
  ),
});

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every APIM service carrying a tag, found through Azure Resource Graph at each run. */
export const fleetSource = z.strictObject({
  query: z.strictObject({
    tag: z
      .string()
      .regex(/^[^=\\'"]+=[^\\'"]*$/, { message: 'must be "name=value" (no quotes or backslashes)' }),
    subscriptions: z
      .array(z.string().regex(GUID, { message: 'must be a subscription ID (a GUID)' }))
      .min(1)
      .optional(),
  }),
});

const source = z.union([serviceSource, fleetSource]);

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'must be an ISO 8601 duration such as PT1H or PT30M (days, hours, minutes, seconds)',
});

const safety = z.strictObject({
  retireAfter: duration.default('PT1H'),
  maxRemovalsPerTarget: z.number().int().min(0).default(4),
  /** The longest one run may take, retry waits included (the Functions timeout is 10 minutes). */
  runBudget: duration.default('PT8M'),
  minPrefixLength: z
    .strictObject({
      ipv4: z.number().int().min(1).max(32).default(28),
      ipv6: z.number().int().min(1).max(128).default(124),
    })
    .default({ ipv4: 28, ipv6: 124 }),
});

/** Tokens go to these endpoints: https, or http to this machine only (emulators), never in clear over a network. */
const httpsOrLoopbackUrl = z
  .url({ protocol: /^https?$/ })
  .refine((url) => url.startsWith('https://') || isLoopbackUrl(url), {
    message: 'must be an https:// URL (http:// only for an emulator on this machine)',
  });

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  sources: z
    .record(sourceName, source)
    .refine((s) => Object.keys(s).length > 0, { message: 'at least one source' }),
  targets: z.array(targetSchema).min(1),
  safety: safety.default({
    retireAfter: 'PT1H',
    runBudget: 'PT8M',
    maxRemovalsPerTarget: 4,
    minPrefixLength: { ipv4: 28, ipv6: 124 },
  }),
  azure: z
    .strictObject({ resourceManagerEndpoint: httpsOrLoopbackUrl.default('https://management.azure.com') })
    .default({ resourceManagerEndpoint: 'https://management.azure.com' }),
  cloudflare: z
    .strictObject({ baseUrl: httpsOrLoopbackUrl.default('https://api.cloudflare.com/client/v4') })
    .default({ baseUrl: 'https://api.cloudflare.com/client/v4' }),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type TargetConfig = Config['targets'][number];
export type TargetType = TargetConfig['type'];
export type DnsRecordsTarget = z.output<typeof dnsRecordsTarget>;
export type DnsCnameTarget = z.output<typeof dnsCnameTarget>;
export type NsgRuleTarget = z.output<typeof nsgRuleTarget>;
export type IpGroupTarget = z.output<typeof ipGroupTarget>;
export type IpListTarget = z.output<typeof ipListTarget>;
export type PoolOriginsTarget = z.output<typeof poolOriginsTarget>;
export type FirewallPolicyRuleTarget = z.output<typeof firewallPolicyRuleTarget>;
export type AppServiceAccessRestrictionTarget = z.output<typeof appServiceAccessRestrictionTarget>;
export type SafetyConfig = Config['safety'];
export type SourceConfig = Config['sources'][string];
export type FleetQuery = z.output<typeof fleetSource>['query'];
export type AddressSelector = z.output<typeof selector>;

/** Default `addresses` per target type: DNS follows the gateway's inbound IPs, allowlists its outbound ones. */
const DEFAULT_SELECTOR: Record<TargetType, AddressSelector> = {
  'cloudflare.dnsRecords': 'inbound',
  'cloudflare.dnsCname': 'inbound',
  'azure.nsgRule': 'outbound',
  'azure.ipGroup': 'outbound',
  'azure.firewallPolicyRule': 'outbound',
  'azure.appServiceAccessRestriction': 'outbound',
  'cloudflare.ipList': 'outbound',
  'cloudflare.poolOrigins': 'inbound',
};

export function selectorOf(t: TargetConfig): AddressSelector {
  return t.addresses ?? DEFAULT_SELECTOR[t.type];
}

/** One example of each target type, shown in the JSON Schema (checked valid by the tests). */
export const TARGET_EXAMPLES: Record<TargetType, Record<string, unknown>> = {
  'cloudflare.dnsRecords': {
    name: 'api-dns',
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: '023e105f4ecef8ad9ca31a8372d0c353',
    recordName: 'api.contoso.com',
    adopt: true,
  },
  'cloudflare.dnsCname': {
    name: 'api-cname',
    type: 'cloudflare.dnsCname',
    source: 'prod',
    zoneId: '023e105f4ecef8ad9ca31a8372d0c353',
    recordName: 'api.contoso.com',
  },
  'cloudflare.ipList': {
    name: 'waf-list',
    type: 'cloudflare.ipList',
    source: 'prod',
    accountId: '01a7362d577a6c3019a474fd6f485823',
    listId: '2c0fc9fa937b11eaa1b71c4d701ab86e',
  },
  'cloudflare.poolOrigins': {
    name: 'pool',
    type: 'cloudflare.poolOrigins',
    source: 'prod',
    accountId: '01a7362d577a6c3019a474fd6f485823',
    poolId: '17b5962d775c646f3f9725cbc7a53df4',
  },
  'azure.nsgRule': {
    name: 'backend-nsg',
    type: 'azure.nsgRule',
    source: 'prod',
    ruleId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/backend-nsg/securityRules/allow-apim',
    create: { priority: 200, direction: 'Inbound', protocol: 'Tcp', destinationPortRanges: ['443'] },
  },
  'azure.ipGroup': {
    name: 'firewall-egress',
    type: 'azure.ipGroup',
    source: 'prod',
    resourceId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-firewall/providers/Microsoft.Network/ipGroups/apim-egress',
  },
  'azure.firewallPolicyRule': {
    name: 'fw',
    type: 'azure.firewallPolicyRule',
    source: 'prod',
    ruleCollectionGroupId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-firewall/providers/Microsoft.Network/firewallPolicies/fw-policy/ruleCollectionGroups/apim',
    ruleCollection: 'apim-egress',
    rule: 'allow-apim',
  },
  'azure.appServiceAccessRestriction': {
    name: 'backend-app',
    type: 'azure.appServiceAccessRestriction',
    source: 'prod',
    siteId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-web/providers/Microsoft.Web/sites/backend-app',
    priorityRange: [300, 399],
  },
};

/** The JSON Schema of the configuration document, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  // zod leaves out examples of schemas that transform their input (hostnames are lower-cased): add them here.
  const targets = (schema.properties as Record<string, { items: { oneOf: Array<Record<string, unknown>> } }>)
    .targets!;
  for (const option of targets.items.oneOf) {
    const type = (option.properties as Record<string, { const: TargetType }>).type!.const;
    option.examples = [TARGET_EXAMPLES[type]];
  }
  return {
    ...schema,
    $id: 'https://github.com/apim-ip-reconciler/apim-ip-reconciler/reconciler.config.schema.json',
    title: 'apim-ip-reconciler configuration',
  };
}
