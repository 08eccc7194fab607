import type { Config } from '../config/schema';
import { describeFailure, hintFor, remoteFailure } from '../remote';
import { summarize, type FleetResolver, type Observation, type SourceReader } from '../source/observation';
import { driverFor, type DriverTable } from '../targets/registry';
import { expandFleets, type Expansion, type FleetFailure } from './fleet';
import { sourceBlock } from './guards';
import type { SourceReport, TargetReport } from './report';

/**
 * Stage 1, observe: fleets expanded into their services, and every source a target uses read once. A source
 * that cannot be read is reported unavailable (SourceUnavailable): a failed read is never "no IPs".
 */

export interface ObservedSource {
  report: SourceReport;
  observation?: Observation;
}

export interface World {
  expansion: Expansion;
  sources: Map<string, ObservedSource>;
}

export async function observe(
  config: Config,
  sources: SourceReader,
  fleet: FleetResolver | undefined,
): Promise<World> {
  const expansion = await expandFleets(config, fleet);
  const used = [...new Set(expansion.targets.map((t) => t.source))];
  const entries = await Promise.all(
    used.map(async (name): Promise<[string, ObservedSource]> => {
      const resourceId = expansion.sources[name] ?? '';
      try {
        return [name, observed(name, resourceId, await sources.observe(name, resourceId))];
      } catch (error) {
        return [name, unavailable(name, resourceId, error)];
      }
    }),
  );
  return { expansion, sources: new Map(entries) };
}

function observed(name: string, resourceId: string, observation: Observation): ObservedSource {
  const block = sourceBlock(observation);
  return {
    observation,
    report: {
      name,
      resourceId,
      status: block ? 'blocked' : 'observed',
      provisioningState: observation.provisioningState,
      sku: observation.sku,
      gatewayHost: observation.gatewayHost,
      addresses: summarize(observation),
      regions: observation.regions.map(({ location, inbound, outbound, private: priv }) => ({
        location,
        inbound,
        outbound,
        private: priv,
      })),
      block,
    },
  };
}

function unavailable(name: string, resourceId: string, error: unknown): ObservedSource {
  const remote = remoteFailure(error);
  const hint = hintFor(remote, 'Azure');
  const failure = describeFailure(remote);
  return {
    report: {
      name,
      resourceId,
      status: 'unavailable',
      error: failure,
      block: {
        reason: 'SourceUnavailable',
        detail: `cannot read ${resourceId}: ${failure}; no target of source ${name} changes${hint ? ` — ${hint}` : ''}`,
      },
    },
  };
}

export function fleetReport(failure: FleetFailure): SourceReport {
  return {
    name: failure.fleet,
    resourceId: `Resource Graph: APIM services tagged ${failure.query.tag}`,
    status: 'unavailable',
    error: failure.error,
    block: {
      reason: 'SourceUnavailable',
      detail: `the fleet query failed: ${failure.error}; no target of fleet ${failure.fleet} changes`,
    },
  };
}

/** Every source's report: the services read, and the fleets whose query failed. */
export function sourceReports(world: World): SourceReport[] {
  return [
    ...[...world.sources.values()].map((o) => o.report),
    ...world.expansion.failedFleets.map(fleetReport),
  ];
}

/** Reports for the targets of a failed fleet (held) and for expansions that are not valid targets (failed). */
export function heldOrInvalid(expansion: Expansion, drivers: DriverTable): TargetReport[] {
  const base = { changes: [], deferred: [] };
  return [
    ...expansion.heldTemplates.flatMap((t): TargetReport[] => {
      const fleet = expansion.failedFleets.find((f) => f.fleet === t.source);
      if (!fleet) return [];
      return [
        {
          ...base,
          name: t.name,
          type: t.type,
          source: t.source,
          resource: driverFor(drivers, t).resource(t),
          status: 'blocked',
          heldBySource: true,
          block: fleetReport(fleet).block,
        },
      ];
    }),
    ...expansion.invalid.map((i): TargetReport => ({
      ...base,
      name: i.name,
      type: i.type,
      source: i.source,
      resource: '',
      status: 'failed',
      error: i.error,
      hint: 'fix the target template of the fleet',
    })),
  ];
}
