import { z } from 'zod';

/**
 * The field parsers every part of the configuration document shares (docs/configuration.md): names, resource IDs,
 * hostnames, Cloudflare IDs, and the keys every target has. Each target type adds its own keys in
 * lib/targets/<type>/schema.ts.
 */

const SEGMENT = '[^/]+';

/** An Azure resource ID of a provider path, e.g. `Microsoft\\.Network/ipGroups/[^/]+`. */
export function armIdPattern(providerPath: string): RegExp {
  return new RegExp(`^/subscriptions/${SEGMENT}/resourceGroups/${SEGMENT}/providers/${providerPath}$`, 'i');
}

/** One path segment of a resource ID pattern. */
export const NAME_SEGMENT = SEGMENT;

export const armId = (pattern: RegExp, example: string) =>
  z.string().regex(pattern, { message: `must be a resource ID like ${example}` });

/** In a target of a fleet source, `{service}` stands for each service's name (docs/configuration.md, fleets). */
export const SERVICE_TOKEN = '{service}';

/** A string pattern that also accepts `{service}` where a name could stand. */
export const templated = (pattern: RegExp, message: string) =>
  z.string().refine((s) => pattern.test(s.replaceAll(SERVICE_TOKEN, 'service')), { message });

const targetName = templated(
  /^[A-Za-z0-9][A-Za-z0-9._/-]{0,119}$/,
  'letters, digits, ".", "_", "-" and "/" only',
);

export const hostname = z
  .string()
  .transform((s) => s.trim().toLowerCase().replace(/\.$/, ''))
  .pipe(
    templated(
      /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$/,
      'must be a fully qualified DNS name such as api.contoso.com',
    ),
  );

/** A zone ID as Cloudflare shows it. */
export const cloudflareId = templated(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Cloudflare identifier');

/** Account, list and pool ids: 32 hexadecimal characters, as Cloudflare shows them. */
export const cloudflareHexId = z
  .string()
  .regex(/^[0-9a-fA-F]{32}$/, { message: 'must be a 32-character hexadecimal Cloudflare ID' })
  .transform((s) => s.toLowerCase());

/** DNS record TTL: 1 (automatic) or seconds. */
export const ttl = z
  .number()
  .int()
  .refine((n) => n === 1 || (n >= 30 && n <= 86400), {
    message: 'must be 1 (automatic) or 30–86400 seconds',
  });

export const addressSelector = z.enum(['inbound', 'outbound', 'private']);
export type AddressSelector = z.output<typeof addressSelector>;

/** The keys every target has. */
export const targetBase = {
  name: targetName,
  source: z.string().min(1),
  addresses: addressSelector.optional(),
  regions: z.array(z.string().min(1)).min(1).optional(),
  adopt: z.boolean().default(false),
};
