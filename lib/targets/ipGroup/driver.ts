import type { NetworkManagementClient } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import type { AllowlistWrite } from '../../plan/allowlist';
import { OWNER_TAG } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import {
  conditionalHeaders,
  isNotFound,
  readError,
  writeOutcome,
  type AzureWriteOptions,
} from '../common/azure';
import { TargetError, type ApplyItem, type ApplyOutcome, type TargetDriver } from '../target';
import { planIpGroup, type IpGroupActual } from './plan';
import type { IpGroupTarget } from './schema';

/** `azure.ipGroup` over `@azure/arm-network`: GET the group, PUT it back (long-running) with If-Match. */

export class IpGroupDriver implements TargetDriver<IpGroupTarget, IpGroupActual, AllowlistWrite> {
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
    return planIpGroup(target, actual, context);
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
