import type { NetworkManagementClient } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import { sleep } from '../../net/limits';
import type { AllowlistWrite } from '../../plan/allowlist';
import { markedDescription } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { hasStatus, remoteFailure } from '../../remote';
import {
  conditionalHeaders,
  isNotFound,
  readError,
  writeOutcome,
  type AzureWriteOptions,
} from '../common/azure';
import { TargetError, type ApplyItem, type ApplyOutcome, type TargetDriver } from '../target';
import { field, firewallRuleResource, locate, planFirewallRule, type FirewallRuleActual } from './plan';
import type { FirewallPolicyRuleTarget } from './schema';

/**
 * `azure.firewallPolicyRule` over `@azure/arm-network`: the whole rule collection group is read, the one rule
 * changed, and the whole group written back with If-Match (a slow long-running operation; one write per policy at
 * a time, 409 AnotherOperationInProgress otherwise).
 */

export class FirewallRuleDriver implements TargetDriver<
  FirewallPolicyRuleTarget,
  FirewallRuleActual,
  AllowlistWrite
> {
  constructor(
    private readonly clientFor: (subscriptionId: string) => NetworkManagementClient,
    private readonly options: AzureWriteOptions & {
      /** How long to wait for a policy busy with another operation (409) before giving up for this run. */
      busyWaitMs: number;
    },
  ) {}

  resource(target: FirewallPolicyRuleTarget): string {
    return firewallRuleResource(target);
  }

  async read(target: FirewallPolicyRuleTarget): Promise<FirewallRuleActual> {
    const { subscriptionId, resourceGroup, names } = parseResourceId(target.ruleCollectionGroupId);
    const [policy, group] = names as [string, string];
    let actual: FirewallRuleActual;
    try {
      actual = {
        group: await this.clientFor(subscriptionId).firewallPolicyRuleCollectionGroups.get(
          resourceGroup,
          policy,
          group,
        ),
      };
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `rule collection group ${group} of firewall policy ${policy} not found in resource group ${resourceGroup}`,
          `check ruleCollectionGroupId of target ${target.name}`,
        );
      }
      throw readError(error, `rule collection group ${group} of firewall policy ${policy}`);
    }
    locate(actual.group, target);
    return actual;
  }

  plan(
    target: FirewallPolicyRuleTarget,
    actual: FirewallRuleActual,
    context: PlanContext,
  ): TargetPlan<AllowlistWrite> {
    return planFirewallRule(target, actual, context);
  }

  async apply(
    items: ApplyItem<FirewallPolicyRuleTarget, FirewallRuleActual, AllowlistWrite>[],
  ): Promise<ApplyOutcome[]> {
    // One write per policy at a time: targets of the same group would race each other, so they go in turn.
    const outcomes: ApplyOutcome[] = [];
    for (const item of items) outcomes.push(await this.write(item));
    return outcomes;
  }

  private async write({
    target,
    actual,
    plan,
  }: ApplyItem<FirewallPolicyRuleTarget, FirewallRuleActual, AllowlistWrite>): Promise<ApplyOutcome> {
    const write = plan.write!;
    const group = structuredClone(actual.group);
    const { rule } = locate(group, target);
    rule[field(target)] = write.entries;
    if (write.mark) rule.description = markedDescription(rule.description as string | undefined);

    const { subscriptionId, resourceGroup, names } = parseResourceId(target.ruleCollectionGroupId);
    const [policy, name] = names as [string, string];
    const deadline = Date.now() + this.options.busyWaitMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.clientFor(subscriptionId).firewallPolicyRuleCollectionGroups.createOrUpdate(
          resourceGroup,
          policy,
          name,
          { priority: group.priority, ruleCollections: group.ruleCollections },
          {
            updateIntervalInMs: this.options.pollIntervalMs,
            abortSignal: AbortSignal.timeout(this.options.maxWaitMs),
            requestOptions: { headers: conditionalHeaders(actual.group.etag, false) },
          },
        );
        return { status: 'applied' };
      } catch (error) {
        if (
          hasStatus(error, 409) &&
          remoteFailure(error).code === 'AnotherOperationInProgress' &&
          Date.now() < deadline
        ) {
          await sleep(
            Math.min(this.options.pollIntervalMs * 2 ** attempt, Math.max(0, deadline - Date.now())),
          );
          continue;
        }
        return writeOutcome(error, this.options.maxWaitMs);
      }
    }
  }
}
