import type { SecurityRule } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import { planAllowlist, type AllowlistWrite } from '../../plan/allowlist';
import { OWNER_MARK } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import type { NsgRuleTarget } from './schema';

/** `azure.nsgRule`: one security rule's source (or destination) address prefixes, planned as an allowlist. */

export interface NsgRuleActual {
  exists: boolean;
  rule?: SecurityRule;
}

/** The rule's keys for the side the target manages. */
export function side(target: NsgRuleTarget) {
  return target.field === 'destination'
    ? ({
        plural: 'destinationAddressPrefixes',
        singular: 'destinationAddressPrefix',
        asgs: 'destinationApplicationSecurityGroups',
      } as const)
    : ({
        plural: 'sourceAddressPrefixes',
        singular: 'sourceAddressPrefix',
        asgs: 'sourceApplicationSecurityGroups',
      } as const);
}

/** The managed side's entries as written: the plural list, or the singular value when that is used. */
function entriesOf(rule: SecurityRule, target: NsgRuleTarget): string[] {
  const { plural, singular } = side(target);
  const list = rule[plural] ?? [];
  if (list.length > 0) return [...list];
  const one = rule[singular];
  return one ? [one] : [];
}

export function planNsgRule(
  target: NsgRuleTarget,
  actual: NsgRuleActual,
  context: PlanContext,
): TargetPlan<AllowlistWrite> {
  const { rule } = actual;
  const label = `rule ${parseResourceId(target.ruleId).names[1]}`;
  return planAllowlist(
    {
      exists: actual.exists,
      marked: (rule?.description ?? '').includes(OWNER_MARK),
      entries: rule ? entriesOf(rule, target) : [],
      wildcards: (rule?.[side(target).asgs] ?? []).map(() => 'an application security group'),
      failed: rule?.provisioningState === 'Failed',
    },
    context,
    {
      adopt: target.adopt,
      label,
      markPlace: 'description',
      targetName: target.name,
      wildcardHint: `point ruleId of target ${target.name} at a rule of its own`,
    },
    target.ruleId,
  );
}
