import type { FirewallPolicyRuleCollectionGroup } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import { planAllowlist, type AllowlistWrite } from '../../plan/allowlist';
import { OWNER_MARK } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { TargetError } from '../target';
import type { FirewallPolicyRuleTarget } from './schema';

/**
 * `azure.firewallPolicyRule`: one rule's `sourceAddresses` (or `destinationAddresses`) inside a firewall policy's
 * rule collection group. Rules are not resources: the whole group is read, the one rule changed, and the whole
 * group written back with If-Match, every other collection and rule as it was. The write is a slow long-running
 * operation (minutes), and Azure takes one write per policy at a time (409 AnotherOperationInProgress).
 */

export interface FirewallRuleActual {
  group: FirewallPolicyRuleCollectionGroup;
}

export interface Located {
  collection: Record<string, unknown>;
  rule: Record<string, unknown>;
}

export function field(target: FirewallPolicyRuleTarget): 'sourceAddresses' | 'destinationAddresses' {
  return target.field === 'destination' ? 'destinationAddresses' : 'sourceAddresses';
}

/** The collection and rule the target names, as plain objects of the group (so a write changes them in place). */
export function locate(group: FirewallPolicyRuleCollectionGroup, target: FirewallPolicyRuleTarget): Located {
  const collections = (group.ruleCollections ?? []) as unknown as Array<Record<string, unknown>>;
  const collection = collections.find((c) => c.name === target.ruleCollection);
  const groupName = parseResourceId(target.ruleCollectionGroupId).names[1];
  if (!collection) {
    throw new TargetError(
      `rule collection ${target.ruleCollection} not found in rule collection group ${groupName} (it has: ${collections.map((c) => c.name).join(', ') || 'none'})`,
      `check ruleCollection of target ${target.name}`,
    );
  }
  const rules = (collection.rules ?? []) as Array<Record<string, unknown>>;
  const rule = rules.find((r) => r.name === target.rule);
  if (!rule) {
    throw new TargetError(
      `rule ${target.rule} not found in rule collection ${target.ruleCollection} (it has: ${rules.map((r) => r.name).join(', ') || 'none'})`,
      `check rule of target ${target.name}; the reconciler does not create firewall rules`,
    );
  }
  return { collection, rule };
}

const entriesOf = (rule: Record<string, unknown>, key: string): string[] =>
  Array.isArray(rule[key]) ? (rule[key] as unknown[]).filter((v): v is string => typeof v === 'string') : [];

/** The resource a firewall rule target writes: its group, collection and rule. */
export function firewallRuleResource(target: FirewallPolicyRuleTarget): string {
  return `${target.ruleCollectionGroupId}/${target.ruleCollection}/${target.rule}`;
}

export function planFirewallRule(
  target: FirewallPolicyRuleTarget,
  actual: FirewallRuleActual,
  context: PlanContext,
): TargetPlan<AllowlistWrite> {
  const { rule } = locate(actual.group, target);
  const entries = entriesOf(rule, field(target));
  const label = `firewall rule ${target.ruleCollection}/${target.rule}`;
  return planAllowlist(
    {
      exists: true,
      marked: String(rule.description ?? '').includes(OWNER_MARK),
      entries,
      failed: actual.group.provisioningState === 'Failed',
    },
    context,
    {
      adopt: target.adopt,
      label,
      markPlace: 'description',
      targetName: target.name,
      wildcardHint: `point target ${target.name} at a rule of its own`,
    },
    firewallRuleResource(target),
  );
}
