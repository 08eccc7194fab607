import { z } from 'zod';
import { cloudflareId, hostname, targetBase, ttl } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `cloudflare.dnsCname`: one CNAME at recordName to the APIM gateway host (or `target`). */
export const dnsCnameSchema = z
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
  .meta({ description: 'One CNAME at recordName to the APIM gateway host (or target).' });

export type DnsCnameTarget = z.output<typeof dnsCnameSchema>;

export const dnsCnameSpec = {
  schema: dnsCnameSchema,
  defaultSelector: 'inbound',
  example: {
    name: 'api-cname',
    type: 'cloudflare.dnsCname',
    source: 'prod',
    zoneId: '023e105f4ecef8ad9ca31a8372d0c353',
    recordName: 'api.contoso.com',
  },
  writes: (t: DnsCnameTarget) => `zone ${t.zoneId}: DNS name ${t.recordName}`,
  permissions: { provider: 'cloudflare', token: ['Zone → DNS → Edit'] },
} satisfies Omit<TargetTypeDefinition<typeof dnsCnameSchema>, 'driver'>;
