import type { SafetyConfig } from '../../lib/config/schema';
import { parseAll } from '../../lib/net/addresses';
import type { Observation } from '../../lib/source/observation';
import type { PlanContext } from '../../lib/plan/types';

/** What the planner unit tests share: a fixed now, the default safety settings, and a context to plan in. */

export const NOW = new Date('2026-11-27T10:00:00Z');
export const HOUR = 3_600_000;

export const SAFETY: SafetyConfig = {
  retireAfter: 'PT1H',
  maxRemovalsPerTarget: 4,
  runBudget: 'PT8M',
  dnsWaitForAllowlists: 'PT30S',
  minPrefixLength: { ipv4: 28, ipv6: 124 },
};

/** An APIM service named contoso, running, with `extra` (a gateway host, say) and no regions. */
export function observation(extra: Partial<Observation> = {}): Observation {
  return {
    source: 'prod',
    resourceId: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso',
    serviceName: 'contoso',
    provisioningState: 'Succeeded',
    sku: 'Premium',
    regions: [],
    ...extra,
  };
}

/** A plan context wanting `desired` (addresses as text), at NOW, with retireAfter one hour; `extra` overrides. */
export function planContext(desired: string[], extra: Partial<PlanContext> = {}): PlanContext {
  return {
    desired: parseAll(desired).prefixes,
    observation: observation(),
    state: undefined,
    now: NOW,
    safety: SAFETY,
    retireAfterMs: HOUR,
    ...extra,
  };
}
