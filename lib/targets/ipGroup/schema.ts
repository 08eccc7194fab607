import { z } from 'zod';
import { armId, armIdPattern, NAME_SEGMENT, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `azure.ipGroup`: an IP Group's addresses (reference it from Azure Firewall rules). */
export const IP_GROUP_ID = armIdPattern(`Microsoft\\.Network/ipGroups/${NAME_SEGMENT}`);

export const ipGroupSchema = z
  .strictObject({
    ...targetBase,
    type: z.literal('azure.ipGroup'),
    resourceId: armId(
      IP_GROUP_ID,
      '/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.Network/ipGroups/<name>',
    ),
  })
  .meta({ description: "An IP Group's addresses (reference it from Azure Firewall rules)." });

export type IpGroupTarget = z.output<typeof ipGroupSchema>;

export const ipGroupSpec = {
  schema: ipGroupSchema,
  defaultSelector: 'outbound',
  example: {
    name: 'firewall-egress',
    type: 'azure.ipGroup',
    source: 'prod',
    resourceId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-firewall/providers/Microsoft.Network/ipGroups/apim-egress',
  },
  writes: (t: IpGroupTarget) => t.resourceId.toLowerCase(),
  permissions: {
    provider: 'azure',
    actions: ['Microsoft.Network/ipGroups/read', 'Microsoft.Network/ipGroups/write'],
  },
} satisfies Omit<TargetTypeDefinition<typeof ipGroupSchema>, 'driver'>;
