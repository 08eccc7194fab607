import type { NetworkManagementClient, SecurityRule } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import type { AllowlistWrite } from '../../plan/allowlist';
import { markedDescription } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import {
  conditionalHeaders,
  isNotFound,
  readError,
  writeOutcome,
  type AzureWriteOptions,
} from '../common/azure';
import { TargetError, type ApplyItem, type ApplyOutcome, type TargetDriver } from '../target';
import { planNsgRule, side, type NsgRuleActual } from './plan';
import type { NsgRuleTarget } from './schema';

/** `azure.nsgRule` over `@azure/arm-network`: GET the rule, PUT it back (long-running) with If-Match. */

/**
 * A side's ports as NRP takes them: one value (`*` included) in the singular field, several in the plural one. NRP
 * refuses `*` in a plural list (400 SecurityRuleInvalidPortRange) and wants exactly one of the two set.
 */
function ports(side: 'source' | 'destination', ranges: string[]): SecurityRule {
  return ranges.length === 1 ? { [`${side}PortRange`]: ranges[0] } : { [`${side}PortRanges`]: ranges };
}

export class NsgRuleDriver implements TargetDriver<NsgRuleTarget, NsgRuleActual, AllowlistWrite> {
  constructor(
    private readonly clientFor: (subscriptionId: string) => NetworkManagementClient,
    private readonly options: AzureWriteOptions,
  ) {}

  resource(target: NsgRuleTarget): string {
    return target.ruleId;
  }

  async read(target: NsgRuleTarget): Promise<NsgRuleActual> {
    const { subscriptionId, resourceGroup, names } = parseResourceId(target.ruleId);
    const [nsg, rule] = names as [string, string];
    const client = this.clientFor(subscriptionId);
    try {
      return { exists: true, rule: await client.securityRules.get(resourceGroup, nsg, rule) };
    } catch (error) {
      if (!isNotFound(error)) throw readError(error, `security rule ${rule} of NSG ${nsg}`);
    }
    try {
      await client.networkSecurityGroups.get(resourceGroup, nsg);
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `network security group ${nsg} not found in resource group ${resourceGroup}`,
          `check ruleId of target ${target.name}`,
        );
      }
      throw readError(error, `network security group ${nsg}`);
    }
    if (!target.create) {
      throw new TargetError(
        `security rule ${rule} not found in NSG ${nsg}`,
        `add a "create" block (priority, direction, ports) to target ${target.name} to let the reconciler create it`,
      );
    }
    return { exists: false };
  }

  plan(target: NsgRuleTarget, actual: NsgRuleActual, context: PlanContext): TargetPlan<AllowlistWrite> {
    return planNsgRule(target, actual, context);
  }

  private body(target: NsgRuleTarget, actual: NsgRuleActual, write: AllowlistWrite): SecurityRule {
    const { plural, singular } = side(target);
    if (actual.rule) {
      const rule: SecurityRule = { ...actual.rule };
      // GET returns every plural list ([] when unused) beside its singular; send only the ones in use.
      for (const key of [
        'sourcePortRanges',
        'destinationPortRanges',
        'sourceAddressPrefixes',
        'destinationAddressPrefixes',
      ] as const) {
        if (rule[key]?.length === 0) rule[key] = undefined;
      }
      rule[plural] = write.entries;
      rule[singular] = undefined;
      if (write.mark) rule.description = markedDescription(rule.description);
      return rule;
    }
    const create = target.create!;
    const other = target.field === 'destination' ? 'sourceAddressPrefix' : 'destinationAddressPrefix';
    return {
      protocol: create.protocol,
      access: 'Allow',
      priority: create.priority,
      direction: create.direction,
      ...ports('source', create.sourcePortRanges),
      ...ports('destination', create.destinationPortRanges),
      [plural]: write.entries,
      [other]: create[other] ?? '*',
      description: markedDescription(create.description),
    };
  }

  async apply(items: ApplyItem<NsgRuleTarget, NsgRuleActual, AllowlistWrite>[]): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(async ({ target, actual, plan }): Promise<ApplyOutcome> => {
        const write = plan.write!;
        const { subscriptionId, resourceGroup, names } = parseResourceId(target.ruleId);
        const [nsg, rule] = names as [string, string];
        try {
          await this.clientFor(subscriptionId).securityRules.createOrUpdate(
            resourceGroup,
            nsg,
            rule,
            this.body(target, actual, write),
            {
              updateIntervalInMs: this.options.pollIntervalMs,
              abortSignal: AbortSignal.timeout(this.options.maxWaitMs),
              requestOptions: { headers: conditionalHeaders(actual.rule?.etag, write.create) },
            },
          );
          return { status: 'applied' };
        } catch (error) {
          return writeOutcome(error, this.options.maxWaitMs);
        }
      }),
    );
  }
}
