import { z } from 'zod';
import {
  TARGET_SCHEMAS,
  TARGET_TYPES,
  typeOf,
  type TargetConfig,
  type TargetType,
} from '../targets/registry';
import { parseDuration } from './duration';
import { armId, armIdPattern, NAME_SEGMENT, type AddressSelector } from './fields';
import { isLoopbackUrl } from './settings';

/**
 * The configuration document (docs/design/product.md §3, docs/configuration.md). Unknown keys are errors
 * everywhere, so a typo is never silently ignored. Each target type's keys come from its folder in lib/targets/
 * through the registry. The JSON Schema printed by `apim-ip-reconciler schema` is generated from this.
 */

export { SERVICE_TOKEN, type AddressSelector } from './fields';
export type { TargetConfig, TargetType } from '../targets/registry';

const sourceName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, { message: 'letters, digits, ".", "_" and "-" only' });

export const APIM_ID = armIdPattern(`Microsoft\\.ApiManagement/service/${NAME_SEGMENT}`);

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
  /**
   * How long DNS and pool origins wait for the allowlists' additions before they move anyway: after a reactivation
   * the old inbound IP is dead, and a firewall policy write can take minutes (docs/configuration.md, safety).
   */
  dnsWaitForAllowlists: duration.default('PT30S'),
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
    dnsWaitForAllowlists: 'PT30S',
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
export type SafetyConfig = Config['safety'];
export type SourceConfig = Config['sources'][string];
export type FleetQuery = z.output<typeof fleetSource>['query'];

/** Default `addresses` per target type: DNS follows the gateway's inbound IPs, allowlists its outbound ones. */
const DEFAULT_SELECTOR = Object.fromEntries(
  TARGET_TYPES.map((t) => [typeOf(t), t.defaultSelector]),
) as Record<TargetType, AddressSelector>;

export function selectorOf(t: TargetConfig): AddressSelector {
  return t.addresses ?? DEFAULT_SELECTOR[t.type];
}

/** One example of each target type, shown in the JSON Schema (checked valid by the tests). */
export const TARGET_EXAMPLES = Object.fromEntries(
  TARGET_TYPES.map((t) => [typeOf(t), t.example as Record<string, unknown>]),
) as Record<TargetType, Record<string, unknown>>;

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
