import {
  SERVICE_TOKEN,
  targetSchema,
  type Config,
  type FleetQuery,
  type TargetConfig,
} from '../config/schema';
import { describeFailure, hintFor, remoteFailure } from '../remote';
import type { FleetMember, FleetResolver } from '../source/observation';

/**
 * Fleets (docs/design/product.md §3): a source that is a Resource Graph query stands for every APIM service it finds, each a
 * source named `<fleet>/<service>`; a target of the fleet applies to each, with `{service}` in its string values
 * replaced by the service name. A service that stops matching is simply not in the list: left alone.
 */

export interface FleetFailure {
  fleet: string;
  query: FleetQuery;
  error: string;
}

export interface InvalidExpansion {
  /** The target as expanded for one service (its name and source are concrete). */
  name: string;
  type: TargetConfig['type'];
  source: string;
  error: string;
}

export interface Expansion {
  sources: Record<string, string>;
  targets: TargetConfig[];
  /** Fleets whose query failed: none of their targets may change (SourceUnavailable). */
  failedFleets: FleetFailure[];
  /** Templates of the failed fleets, to report as held. */
  heldTemplates: TargetConfig[];
  invalid: InvalidExpansion[];
}

function replaceToken(value: unknown, service: string): unknown {
  if (typeof value === 'string') return value.replaceAll(SERVICE_TOKEN, service);
  if (Array.isArray(value)) return value.map((v) => replaceToken(v, service));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceToken(v, service)]));
  }
  return value;
}

/** One target of the fleet for one service, validated again with the concrete values. */
function expandTarget(
  template: TargetConfig,
  fleet: string,
  member: FleetMember,
): TargetConfig | InvalidExpansion {
  const name = template.name.includes(SERVICE_TOKEN)
    ? template.name.replaceAll(SERVICE_TOKEN, member.name)
    : `${template.name}/${member.name}`;
  const source = `${fleet}/${member.name}`;
  const candidate = { ...(replaceToken(template, member.name) as Record<string, unknown>), name, source };
  const parsed = targetSchema.safeParse(candidate);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  return { name, type: template.type, source, error: `for service ${member.name}: ${problems}` };
}

export async function expandFleets(config: Config, resolver: FleetResolver | undefined): Promise<Expansion> {
  const expansion: Expansion = { sources: {}, targets: [], failedFleets: [], heldTemplates: [], invalid: [] };
  const fleets = new Map<string, FleetMember[] | undefined>();
  await Promise.all(
    Object.entries(config.sources).map(async ([name, source]) => {
      if ('resourceId' in source) {
        expansion.sources[name] = source.resourceId;
        return;
      }
      try {
        if (!resolver) throw new Error('no fleet resolver is configured');
        fleets.set(name, await resolver.discover(source.query));
      } catch (error) {
        const failure = remoteFailure(error);
        const hint = hintFor(failure, 'Azure');
        expansion.failedFleets.push({
          fleet: name,
          query: source.query,
          error: `${describeFailure(failure)}${hint ? ` — ${hint}` : ''}`,
        });
      }
    }),
  );
  for (const target of config.targets) {
    if (!(target.source in config.sources) || 'resourceId' in config.sources[target.source]!) {
      expansion.targets.push(target);
      continue;
    }
    const members = fleets.get(target.source);
    if (!members) {
      expansion.heldTemplates.push(target);
      continue;
    }
    for (const member of members) {
      expansion.sources[`${target.source}/${member.name}`] = member.resourceId;
      const expanded = expandTarget(target, target.source, member);
      if ('error' in expanded) expansion.invalid.push(expanded);
      else expansion.targets.push(expanded);
    }
  }
  return expansion;
}
