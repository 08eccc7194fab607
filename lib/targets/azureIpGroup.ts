import type { IpGroup, NetworkManagementClient } from '@azure/arm-network';
import type { IpGroupTarget } from '../config/schema';
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
  OWNER_TAG,
  TargetError,
  type ApplyItem,
  type ApplyOutcome,
  type PlanContext,
  type TargetDriver,
  type TargetPlan,
} from './target';

/** `azure.ipGroup`: an IP Group's `ipAddresses`, referenced from Azure Firewall rules. */

export interface IpGroupActual {
  group: IpGroup;
}

export class IpGroupDriver implements TargetDriver<IpGroupTarget, IpGroupActual, AllowlistWrite> {
  readonly type = 'azure.ipGroup' as const;

  constructor(
    private readonly clientFor: (subscriptionId: string) => NetworkManagementClient,
    private readonly options: AzureWriteOptions,
  ) {}

  resource(target: IpGroupTarget): string {
    return target.resourceId;
  }

  async read(target: IpGroupTarget): Promise<IpGroupActual> {
    const { subscriptionId, resourceGroup, names } = parseResourceId(target.resourceId);
    const name = names[0] as string;
    try {
      return { group: await this.clientFor(subscriptionId).ipGroups.get(resourceGroup, name) };
    } catch (error) {
      if (isNotFound(error)) {
        throw new TargetError(
          `IP group ${name} not found in resource group ${resourceGroup}`,
          `create it (the reconciler fills, never creates, IP groups) or fix resourceId of target ${target.name}`,
        );
      }
      throw readError(error, `IP group ${name}`);
    }
  }

  plan(target: IpGroupTarget, actual: IpGroupActual, context: PlanContext): TargetPlan<AllowlistWrite> {
    return planAllowlist(
      {
        exists: true,
        marked: actual.group.tags?.[OWNER_TAG.name] === OWNER_TAG.value,
        entries: [...(actual.group.ipAddresses ?? [])],
        failed: actual.group.provisioningState === 'Failed',
      },
      context,
      {
        adopt: target.adopt,
        label: `IP group ${parseResourceId(target.resourceId).names[0]}`,
        markPlace: 'tags',
        targetName: target.name,
        wildcardHint: `point target ${target.name} at an IP group of its own`,
      },
      target.resourceId,
    );
  }

  async apply(items: ApplyItem<IpGroupTarget, IpGroupActual, AllowlistWrite>[]): Promise<ApplyOutcome[]> {
    return Promise.all(
      items.map(async ({ target, actual, plan }): Promise<ApplyOutcome> => {
        const write = plan.write!;
        const { subscriptionId, resourceGroup, names } = parseResourceId(target.resourceId);
        const { group } = actual;
        const tags = write.mark ? { ...(group.tags ?? {}), [OWNER_TAG.name]: OWNER_TAG.value } : group.tags;
        try {
          await this.clientFor(subscriptionId).ipGroups.createOrUpdate(
            resourceGroup,
            names[0] as string,
            { location: group.location, tags, ipAddresses: write.entries },
            {
              updateIntervalInMs: this.options.pollIntervalMs,
              abortSignal: AbortSignal.timeout(this.options.maxWaitMs),
              requestOptions: { headers: conditionalHeaders(group.etag, false) },
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
