import { z } from 'zod';
import { armId, armIdPattern, NAME_SEGMENT, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `azure.nsgRule`: one NSG security rule's source (or destination) address prefixes. */
export const NSG_RULE_ID = armIdPattern(
  `Microsoft\\.Network/networkSecurityGroups/${NAME_SEGMENT}/securityRules/${NAME_SEGMENT}`,
);

const portRange = z
  .string()
  .regex(/^(\*|\d{1,5}(-\d{1,5})?)$/, { message: 'must be "*", a port or a range' });

/** NRP takes `*` (any port) only alone, in the singular field: never beside other ports. */
const portRanges = (fallback: string) =>
  z
    .array(portRange)
    .min(1)
    .refine((list) => list.length === 1 || !list.includes('*'), {
      message: '"*" (any port) must be the only entry: NRP refuses it in a list of ports',
    })
    .default([fallback]);

export const nsgRuleSchema = z
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
        destinationPortRanges: portRanges('443'),
        sourcePortRanges: portRanges('*'),
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

export type NsgRuleTarget = z.output<typeof nsgRuleSchema>;

export const nsgRuleSpec = {
  schema: nsgRuleSchema,
  defaultSelector: 'outbound',
  example: {
    name: 'backend-nsg',
    type: 'azure.nsgRule',
    source: 'prod',
    ruleId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/backend-nsg/securityRules/allow-apim',
    create: { priority: 200, direction: 'Inbound', protocol: 'Tcp', destinationPortRanges: ['443'] },
  },
  writes: (t: NsgRuleTarget) => t.ruleId.toLowerCase(),
  permissions: {
    provider: 'azure',
    actions: [
      'Microsoft.Network/networkSecurityGroups/read',
      'Microsoft.Network/networkSecurityGroups/securityRules/read',
      'Microsoft.Network/networkSecurityGroups/securityRules/write',
    ],
  },
  crossCheck(target) {
    const create = target.create;
    if (typeof create !== 'object' || create === null) return [];
    const managed = target.field === 'destination' ? 'destinationAddressPrefix' : 'sourceAddressPrefix';
    return (create as Record<string, unknown>)[managed] !== undefined
      ? [`.create.${managed}: the reconciler manages these addresses; remove this key`]
      : [];
  },
} satisfies Omit<TargetTypeDefinition<typeof nsgRuleSchema>, 'driver'>;
