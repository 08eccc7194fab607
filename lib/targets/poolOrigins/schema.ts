import { z } from 'zod';
import { cloudflareHexId, hostname, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `cloudflare.poolOrigins`: the origins named apim-<ip> of a Cloudflare load-balancer pool. */
export const poolOriginsSchema = z
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

export type PoolOriginsTarget = z.output<typeof poolOriginsSchema>;

export const poolOriginsSpec = {
  schema: poolOriginsSchema,
  defaultSelector: 'inbound',
  example: {
    name: 'pool',
    type: 'cloudflare.poolOrigins',
    source: 'prod',
    accountId: '01a7362d577a6c3019a474fd6f485823',
    poolId: '17b5962d775c646f3f9725cbc7a53df4',
  },
  writes: (t: PoolOriginsTarget) => `account ${t.accountId}: pool ${t.poolId}`,
  permissions: { provider: 'cloudflare', token: ['Account → Load Balancing: Monitors and Pools → Edit'] },
} satisfies Omit<TargetTypeDefinition<typeof poolOriginsSchema>, 'driver'>;
