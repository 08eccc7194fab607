import type { SafetyConfig } from '../config/schema';
import { isBroaderThan } from '../net/addresses';
import { invalidIn, type Observation, type Selection } from '../source/observation';
import type { Block, TargetPlan } from '../plan/types';

/** docs/design/product.md §5: the checks between planning and writing. Each returns the first block that applies. */

/** A source that answered but must not be acted on: not running, or still changing. */
export function sourceBlock(observation: Observation): Block | undefined {
  if (observation.provisioningState !== 'Succeeded') {
    return {
      reason: 'SourceNotRunning',
      detail: `${observation.serviceName} is ${observation.provisioningState}, not Succeeded; holding the last applied state`,
    };
  }
  if (observation.targetProvisioningState) {
    return {
      reason: 'SourceNotRunning',
      detail: `${observation.serviceName} is still changing (targetProvisioningState ${observation.targetProvisioningState}); holding the last applied state until it settles`,
    };
  }
  return undefined;
}

/** The addresses a target selects, judged for their field: any invalid one holds that target (InvalidAddress). */
export function addressBlock(observation: Observation, selected: Selection): Block | undefined {
  const invalid = invalidIn(selected);
  if (invalid.length === 0) return undefined;
  return {
    reason: 'InvalidAddress',
    detail: `${observation.serviceName} reported addresses that are not valid for their kind: ${invalid.join(', ')}; holding this target (targets that select other addresses go on)`,
  };
}

/** A target's plan that must not be applied. `force` lifts only TooManyRemovals. */
export function planBlock(plan: TargetPlan, safety: SafetyConfig, force: boolean): Block | undefined {
  if (plan.blocked) return plan.blocked;
  const broad = plan.additions.filter((p) => isBroaderThan(p, safety.minPrefixLength));
  if (broad.length > 0) {
    return {
      reason: 'BroadPrefix',
      detail: `would add ${broad.map((p) => p.key).join(', ')}, broader than safety.minPrefixLength (IPv4 /${safety.minPrefixLength.ipv4}, IPv6 /${safety.minPrefixLength.ipv6})`,
    };
  }
  if (plan.removals > safety.maxRemovalsPerTarget && !force) {
    return {
      reason: 'TooManyRemovals',
      detail: `would remove ${plan.removals} entries, more than safety.maxRemovalsPerTarget (${safety.maxRemovalsPerTarget}); if that is intended, run again with --force (HTTP: ?force=true)`,
    };
  }
  return undefined;
}
