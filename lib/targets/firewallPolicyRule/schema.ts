import { z } from 'zod';
import { armId, armIdPattern, NAME_SEGMENT, targetBase } from '../../config/fields';
import type { TargetTypeDefinition } from '../target';

/** `azure.firewallPolicyRule`: one rule's addresses in a firewall policy rule collection group. */
export const RULE_COLLECTION_GROUP_ID = armIdPattern(
  `Microsoft\\.Network/firewallPolicies/${NAME_SEGMENT}/ruleCollectionGroups/${NAME_SEGMENT}`,
);

export const firewallPolicyRuleSchema = z
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
  .meta({ description: "One rule's sourceAddresses in a firewall policy rule collection group." });

export type FirewallPolicyRuleTarget = z.output<typeof firewallPolicyRuleSchema>;

export const firewallPolicyRuleSpec = {
  schema: firewallPolicyRuleSchema,
  defaultSelector: 'outbound',
  example: {
    name: 'fw',
    type: 'azure.firewallPolicyRule',
    source: 'prod',
    ruleCollectionGroupId:
      '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-firewall/providers/Microsoft.Network/firewallPolicies/fw-policy/ruleCollectionGroups/apim',
    ruleCollection: 'apim-egress',
    rule: 'allow-apim',
  },
  writes: (t: FirewallPolicyRuleTarget) =>
    `${t.ruleCollectionGroupId.toLowerCase()} collection ${t.ruleCollection} rule ${t.rule}`,
  permissions: {
    provider: 'azure',
    actions: [
      'Microsoft.Network/firewallPolicies/read',
      'Microsoft.Network/firewallPolicies/ruleCollectionGroups/read',
      'Microsoft.Network/firewallPolicies/ruleCollectionGroups/write',
    ],
  },
} satisfies Omit<TargetTypeDefinition<typeof firewallPolicyRuleSchema>, 'driver'>;
