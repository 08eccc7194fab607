import type { IpGroup } from '@azure/arm-network';
import { parseResourceId } from '../../config/resourceId';
import { planAllowlist, type AllowlistWrite } from '../../plan/allowlist';
import { OWNER_TAG } from '../../plan/marks';
import type { PlanContext, TargetPlan } from '../../plan/types';
import type { IpGroupTarget } from './schema';

/** `azure.ipGroup`: an IP Group's `ipAddresses`, planned as an allowlist; the mark is a tag. */

export interface IpGroupActual {
  group: IpGroup;
}

export function planIpGroup(
  target: IpGroupTarget,
  actual: IpGroupActual,
  context: PlanContext,
): TargetPlan<AllowlistWrite> {
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
