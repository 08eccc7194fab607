import { z } from 'zod';
import { cloudflareId, hostname, targetBase, ttl } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `cloudflare.dnsRecords`: the A/AAAA records at recordName equal the source's addresses. */
export const dnsRecordsSchema = z
  .strictObject({
    ...targetBase,
    type: z.literal('cloudflare.dnsRecords'),
    zoneId: cloudflareId,
    recordName: hostname,
    proxied: z.boolean().optional(),
    ttl: ttl.optional(),
  })
  .meta({ description: "The A/AAAA records at recordName equal the source's addresses." });

export type DnsRecordsTarget = z.output<typeof dnsRecordsSchema>;

export const dnsRecordsSpec = {
  schema: dnsRecordsSchema,
  defaultSelector: 'inbound',
  example: {
    name: 'api-dns',
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: '023e105f4ecef8ad9ca31a8372d0c353',
    recordName: 'api.contoso.com',
    adopt: true,
  },
  writes: (t: DnsRecordsTarget) => `zone ${t.zoneId}: DNS name ${t.recordName}`,
  permissions: { provider: 'cloudflare', token: ['Zone → DNS → Edit'] },
} satisfies Omit<TargetTypeDefinition<typeof dnsRecordsSchema>, 'driver'>;
