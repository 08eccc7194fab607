import type { FirewallPolicyRuleCollectionGroup, NetworkManagementClient } from '@azure/arm-network';
import type { FirewallPolicyRuleTarget } from '../config/schema';
import { parseResourceId } from '../config/resourceId';
import { planAllowlist, type AllowlistWrite } from '../engine/plan';
import { sleep } from '../net/limits';
import { hasStatus, remoteFailure } from '../remote';
import {
  conditionalHeaders,
  isNotFound,
  readError,
  writeOutcome,
  type AzureWriteOptions,
} from './azureCommon';
import { markedDescription } from './azureNsgRule';
import {
  OWNER_MARK,
  TargetError,
  type ApplyItem,
  type ApplyOutcome,
  type PlanContext,
  type TargetDriver,
  type TargetPlan,
} from './target';

/**
 * `azure.firewallPolicyRule`: one rule's `sourceAddresses` (or `destinationAddresses`) inside a firewall policy's
 * rule collection group. Rules are not resources: the whole group is read, the one rule changed, and the whole
 * group written back with If-Match, every other collection and rule as it was. The write is a slow long-running
 * operation (minutes), and Azure takes one write per policy at a time (409 AnotherOperationInProgress).
 */

export interface FirewallRuleActual {
  group: FirewallPolicyRuleCollectionGroup;
}

interface Located {
  collection: Record<string, unknown>;
  rule: Record<string, unknown>;
}

function field(target: FirewallPolicyRuleTarget): 'sourceAddresses' | 'destinationAddresses' {
  return target.field === 'destination' ? 'destinationAddresses' : 'sourceAddresses';
}

/** The collection and rule the target names, as plain objects of the group (so a write changes them in place). */
function locate(group: FirewallPolicyRuleCollectionGroup, target: FirewallPolicyRuleTarget): Located {
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

export class FirewallRuleDriver implements TargetDriver<
  FirewallPolicyRuleTarget,
  FirewallRuleActual,
  AllowlistWrite
> {
  readonly type = 'azure.firewallPolicyRule' as const;

  constructor(
    private readonly clientFor: (subscriptionId: string) => NetworkManagementClient,
    private readonly options: AzureWriteOptions & {
      /** How long to wait for a policy busy with another operation (409) before giving up for this run. */
      busyWaitMs: number;
    },
  ) {}

  resource(target: FirewallPolicyRuleTarget): string {
    return `${target.ruleCollectionGroupId}/${target.ruleCollection}/${target.rule}`;
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
      this.resource(target),
    );
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
