import { z } from 'zod';
import { cloudflareHexId, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `cloudflare.ipList`: the items of a Rules IP list that carry the reconciler's comment. */
export const ipListSchema = z
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

export type IpListTarget = z.output<typeof ipListSchema>;

export const ipListSpec = {
  schema: ipListSchema,
  defaultSelector: 'outbound',
  example: {
    name: 'waf-list',
    type: 'cloudflare.ipList',
    source: 'prod',
    accountId: '01a7362d577a6c3019a474fd6f485823',
    listId: '2c0fc9fa937b11eaa1b71c4d701ab86e',
  },
  writes: (t: IpListTarget) => `account ${t.accountId}: IP list ${t.listId}`,
  permissions: { provider: 'cloudflare', token: ['Account → Account Filter Lists → Edit'] },
} satisfies Omit<TargetTypeDefinition<typeof ipListSchema>, 'driver'>;
