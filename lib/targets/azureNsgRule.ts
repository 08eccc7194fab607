import type { NetworkManagementClient, SecurityRule } from '@azure/arm-network';
import type { NsgRuleTarget } from '../config/schema';
import { parseResourceId } from '../config/resourceId';
import { planAllowlist, type AllowlistWrite } from '../engine/plan';
import {
  conditionalHeaders,
  isNotFound,
  readError,
  writeOutcome,
  type AzureWriteOptions,
} from './azureCommon';
import {
  OWNER_MARK,
  TargetError,
  type ApplyItem,
  type ApplyOutcome,
  type PlanContext,
  type TargetDriver,
  type TargetPlan,
} from './target';

/** `azure.nsgRule`: one security rule's source (or destination) address prefixes. */

export interface NsgRuleActual {
  exists: boolean;
  rule?: SecurityRule;
}

const DESCRIPTION_LIMIT = 140;

function side(target: NsgRuleTarget) {
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

/** Keeps the existing description and appends the mark, within NRP's 140 characters. */
export function markedDescription(description: string | undefined): string {
  const existing = (description ?? '').trim();
  if (existing.includes(OWNER_MARK)) return existing;
  if (!existing) return OWNER_MARK;
  const room = DESCRIPTION_LIMIT - OWNER_MARK.length - 1;
  return `${existing.length > room ? existing.slice(0, room) : existing} ${OWNER_MARK}`;
}

export class NsgRuleDriver implements TargetDriver<NsgRuleTarget, NsgRuleActual, AllowlistWrite> {
  readonly type = 'azure.nsgRule' as const;

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
      sourcePortRanges: create.sourcePortRanges,
      destinationPortRanges: create.destinationPortRanges,
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
