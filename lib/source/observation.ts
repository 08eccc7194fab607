import type { AddressSelector, FleetQuery } from '../config/schema';
import { classify, parseAll, type Prefix } from '../net/addresses';

/** What one read of an APIM service says about its addresses (docs/design/product.md §3). */
export interface RegionObservation {
  location: string;
  primary: boolean;
  /** `disableGateway`: the region serves no gateway traffic, so its IPs are not inbound addresses. */
  gatewayDisabled: boolean;
  inbound: string[];
  outbound: string[];
  private: string[];
}

export interface Observation {
  source: string;
  resourceId: string;
  serviceName: string;
  provisioningState: string;
  sku: string;
  platformVersion?: string;
  gatewayHost?: string;
  regions: RegionObservation[];
}

/** A service a fleet query found. */
export interface FleetMember {
  name: string;
  resourceId: string;
}

/** Finds the APIM services of a fleet (docs/design/product.md §3); throws on failure. */
export interface FleetResolver {
  discover(query: FleetQuery): Promise<FleetMember[]>;
}

/** Reads one APIM service; throws on failure (a failed read is never "no IPs"). */
export interface SourceReader {
  observe(source: string, resourceId: string): Promise<Observation>;
}

/** "West Europe" = "westeurope". */
export function normalizeRegion(name: string): string {
  return name.replace(/\s+/g, '').toLowerCase();
}

function regionsOf(observation: Observation, regions: readonly string[] | undefined): RegionObservation[] {
  if (!regions) return observation.regions;
  const wanted = new Set(regions.map(normalizeRegion));
  return observation.regions.filter((r) => wanted.has(normalizeRegion(r.location)));
}

/** The raw values a selector picks, in region order. */
export function selectRaw(
  observation: Observation,
  selector: AddressSelector,
  regions?: readonly string[],
): string[] {
  return regionsOf(observation, regions).flatMap((r) => {
    switch (selector) {
      case 'inbound':
        return r.gatewayDisabled ? [] : r.inbound;
      case 'outbound':
        return r.outbound.length > 0 ? r.outbound : r.inbound;
      case 'private':
        return r.private;
    }
  });
}

/** The normalized, de-duplicated addresses a selector picks. Invalid values are dropped here; see invalidValues. */
export function select(
  observation: Observation,
  selector: AddressSelector,
  regions?: readonly string[],
): Prefix[] {
  return parseAll(selectRaw(observation, selector, regions)).prefixes;
}

/**
 * Values the service reported that are not usable addresses for their kind: garbage, or (for public
 * fields) private, loopback, link-local, CGNAT, multicast or reserved addresses; private fields must be private.
 */
export function invalidValues(observation: Observation): string[] {
  const bad: string[] = [];
  for (const r of observation.regions) {
    for (const [values, wantPrivate] of [
      [r.inbound, false],
      [r.outbound, false],
      [r.private, true],
    ] as const) {
      const { prefixes, invalid } = parseAll(values);
      bad.push(...invalid);
      for (const p of prefixes) {
        const cls = classify(p);
        if (wantPrivate ? cls !== 'private' : cls !== 'public') bad.push(`${p.key} (${cls})`);
      }
    }
  }
  return bad;
}

/** Every address the service reported, by kind, for telemetry and status. */
export function summarize(observation: Observation): Record<'inbound' | 'outbound' | 'private', string[]> {
  const all = (selector: AddressSelector) => [...new Set(selectRaw(observation, selector))];
  return { inbound: all('inbound'), outbound: all('outbound'), private: all('private') };
}
