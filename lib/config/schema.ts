import { z } from 'zod';
import { parseDuration } from './duration';

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

const armId = (pattern: RegExp, example: string) =>
  z.string().regex(pattern, { message: `must be a resource ID like ${example}` });

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, { message: 'letters, digits, ".", "_" and "-" only' });

const hostname = z
  .string()
  .transform((s) => s.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(
    z.string().regex(/^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$/, {
      message: 'must be a fully qualified DNS name such as api.contoso.com',
    }),
  );

const cloudflareId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, { message: 'must be a Cloudflare identifier' });

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

export const dnsRecordsTarget = z.strictObject({
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
});

export const dnsCnameTarget = z.strictObject({
  ...targetBase,
  type: z.literal('cloudflare.dnsCname'),
  zoneId: cloudflareId,
  recordName: hostname,
  /** The host the CNAME points at; the APIM gateway host (from gatewayUrl) when omitted. */
  target: hostname.optional(),
  proxied: z.boolean().optional(),
  ttl: ttl.optional(),
});

const portRange = z
  .string()
  .regex(/^(\*|\d{1,5}(-\d{1,5})?)$/, { message: 'must be "*", a port or a range' });

export const nsgRuleTarget = z.strictObject({
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
});

export const ipGroupTarget = z.strictObject({
  ...targetBase,
  type: z.literal('azure.ipGroup'),
  resourceId: armId(
    IP_GROUP_ID,
    '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/ipGroups/<name>',
  ),
});

export const TARGET_SCHEMAS = [dnsRecordsTarget, dnsCnameTarget, nsgRuleTarget, ipGroupTarget] as const;
export const TARGET_TYPES = TARGET_SCHEMAS.map((s) => s.shape.type.value);

const target = z.discriminatedUnion('type', TARGET_SCHEMAS);

const source = z.strictObject({
  resourceId: armId(
    APIM_ID,
    '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ApiManagement/service/<name>',
  ),
});

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'must be an ISO 8601 duration such as PT1H or PT30M (days, hours, minutes, seconds)',
});

const safety = z.strictObject({
  retireAfter: duration.default('PT1H'),
  maxRemovalsPerTarget: z.number().int().min(0).default(4),
  minPrefixLength: z
    .strictObject({
      ipv4: z.number().int().min(1).max(32).default(28),
      ipv6: z.number().int().min(1).max(128).default(124),
    })
    .default({ ipv4: 28, ipv6: 124 }),
});

const httpsOrLoopbackUrl = z.url({ protocol: /^https?$/ });

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  sources: z
    .record(name, source)
    .refine((s) => Object.keys(s).length > 0, { message: 'at least one source' }),
  targets: z.array(target).min(1),
  safety: safety.default({
    retireAfter: 'PT1H',
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
export type SafetyConfig = Config['safety'];
export type AddressSelector = z.output<typeof selector>;

/** Default `addresses` per target type: DNS follows the gateway's inbound IPs, allowlists its outbound ones. */
const DEFAULT_SELECTOR: Record<TargetType, AddressSelector> = {
  'cloudflare.dnsRecords': 'inbound',
  'cloudflare.dnsCname': 'inbound',
  'azure.nsgRule': 'outbound',
  'azure.ipGroup': 'outbound',
};

export function selectorOf(t: TargetConfig): AddressSelector {
  return t.addresses ?? DEFAULT_SELECTOR[t.type];
}

/** The JSON Schema of the configuration document, for editors. */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return {
    ...schema,
    $id: 'https://github.com/apim-ip-reconciler/apim-ip-reconciler/reconciler.config.schema.json',
    title: 'apim-ip-reconciler configuration',
  };
}
