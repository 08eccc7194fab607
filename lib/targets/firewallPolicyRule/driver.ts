import type { NetworkManagementClient } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import { sleep } from '../../net/limits';
import type { AllowlistWrite } from '../../plan/allowlist';
import { markedDescription } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import { remoteFailure } from '../../remote';
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

  /** Every rule of one rule collection group is written in one read-modify-write. */
  writeKey(target: FirewallPolicyRuleTarget): string {
    return target.ruleCollectionGroupId.toLowerCase();
  }

  async read(target: FirewallPolicyRuleTarget): Promise<FirewallRuleActual> {
    const actual = { group: await this.readGroup(target) };
    locate(actual.group, target);
    return actual;
  }

  /** One read per rule collection group, shared by every target of a rule in it. */
  async readMany(targets: FirewallPolicyRuleTarget[]): Promise<Array<FirewallRuleActual | Error>> {
    const groups = new Map<string, Promise<FirewallRuleActual['group']>>();
    return Promise.all(
      targets.map(async (target) => {
        const key = this.writeKey(target);
        let read = groups.get(key);
        if (!read) groups.set(key, (read = this.readGroup(target)));
        try {
          // Each target gets its own copy: a plan never sees another target's edits.
          const actual = { group: structuredClone(await read) };
          locate(actual.group, target);
          return actual;
        } catch (error) {
          return error as Error;
        }
      }),
    );
  }

  private async readGroup(target: FirewallPolicyRuleTarget): Promise<FirewallRuleActual['group']> {
    const { subscriptionId, resourceGroup, names } = parseResourceId(target.ruleCollectionGroupId);
    const [policy, group] = names as [string, string];
    try {
      return await this.clientFor(subscriptionId).firewallPolicyRuleCollectionGroups.get(
        resourceGroup,
        policy,
        group,
      );
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `rule collection group ${group} of firewall policy ${policy} not found in resource group ${resourceGroup}`,
          `check ruleCollectionGroupId of target ${target.name}`,
        );
      }
      throw readError(error, `rule collection group ${group} of firewall policy ${policy}`);
    }
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
    const groups = new Map<string, Item[]>();
    for (const item of items) {
      const key = this.writeKey(item.target);
      groups.set(key, [...(groups.get(key) ?? []), item]);
    }
    // Azure takes one write per policy at a time (409 otherwise), so groups go in turn, one write each.
    const outcomes = new Map<Item, ApplyOutcome>();
    for (const group of groups.values()) {
      const outcome = await this.writeGroup(group);
      for (const item of group) outcomes.set(item, outcome);
    }
    return items.map((item) => outcomes.get(item)!);
  }

  /** One read-modify-write of a rule collection group for every rule of it that changes this run. */
  private async writeGroup(items: Item[]): Promise<ApplyOutcome> {
    const [first] = items as [Item, ...Item[]];
    const etag = first.actual.group.etag;
    if (items.some((item) => item.actual.group.etag !== etag)) {
      return {
        status: 'lost-race',
        error: 'the rule collection group changed between the reads of its rules',
      };
    }
    const group = structuredClone(first.actual.group);
    for (const { target, plan } of items) {
      const write = plan.write!;
      const { rule } = locate(group, target);
      rule[field(target)] = write.entries;
      if (write.mark) rule.description = markedDescription(rule.description as string | undefined);
    }

    const { subscriptionId, resourceGroup, names } = parseResourceId(first.target.ruleCollectionGroupId);
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
            requestOptions: { headers: conditionalHeaders(etag, false) },
          },
        );
        return { status: 'applied' };
      } catch (error) {
        if (policyBusy(error) && Date.now() < deadline) {
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

type Item = ApplyItem<FirewallPolicyRuleTarget, FirewallRuleActual, AllowlistWrite>;

/**
 * The policy is busy with another write: 409 AnotherOperationInProgress, or (a policy whose own update is still
 * running) FirewallPolicyUpdateNotAllowedWhenUpdatingOrDeleting. Both clear when that operation ends.
 */
function policyBusy(error: unknown): boolean {
  const { status, code } = remoteFailure(error);
  return (
    (status === 409 || status === 400) &&
    (code === 'AnotherOperationInProgress' || code === 'FirewallPolicyUpdateNotAllowedWhenUpdatingOrDeleting')
  );
}
