import type { AddressSelector, FleetQuery } from '../config/schema';
import { classify, parseAll, parsePrefix, type Prefix } from '../net/addresses';

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
  /** Non-empty while an operation on the service is still in flight (e.g. `Activating`). */
  targetProvisioningState?: string;
  /** `None`, `External` or `Internal`: with `Internal`, clients reach the gateway on the private addresses. */
  virtualNetworkType?: string;
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

/** Which field of the service a selector reads, and why, for the plan's output. */
export type AddressField = 'publicIPAddresses' | 'outboundPublicIPAddresses' | 'privateIPAddresses';

export interface Selection {
  /** The raw values picked, with the field each came from, in region order. */
  values: Array<{ value: string; field: AddressField }>;
  /** Which addresses these are: the selector, the fields they came from, and why when it is not the obvious. */
  source: AddressSource;
}

export interface AddressSource {
  selector: AddressSelector;
  fields: AddressField[];
  /** Why these fields, when it is not the obvious (an internal VNet's inbound addresses are its private ones). */
  note?: string;
}

/** An internal-VNet service: clients reach its gateway on the private addresses only. */
export const isInternalVnet = (observation: Observation): boolean =>
  (observation.virtualNetworkType ?? '').toLowerCase() === 'internal';

/** The raw values a selector picks, each with its field, and why those. */
export function selection(
  observation: Observation,
  selector: AddressSelector,
  regions?: readonly string[],
): Selection {
  const internal = isInternalVnet(observation);
  const values = regionsOf(observation, regions).flatMap((r) => {
    const from = (field: AddressField, list: string[]) => list.map((value) => ({ value, field }));
    switch (selector) {
      case 'inbound':
        if (r.gatewayDisabled) return [];
        return internal ? from('privateIPAddresses', r.private) : from('publicIPAddresses', r.inbound);
      case 'outbound':
        return r.outbound.length > 0
          ? from('outboundPublicIPAddresses', r.outbound)
          : from('publicIPAddresses', r.inbound);
      case 'private':
        return from('privateIPAddresses', r.private);
    }
  });
  const fields = [...new Set(values.map((v) => v.field))];
  const note =
    selector === 'inbound' && internal
      ? 'internal VNet: clients reach the gateway on its private addresses; its public IP serves only management (port 3443) and egress'
      : undefined;
  return { values, source: { selector, fields, ...(note ? { note } : {}) } };
}

/** The raw values a selector picks, in region order. */
export function selectRaw(
  observation: Observation,
  selector: AddressSelector,
  regions?: readonly string[],
): string[] {
  return selection(observation, selector, regions).values.map((v) => v.value);
}

/** The normalized, de-duplicated addresses of a selection. Invalid values are dropped here; see invalidIn. */
export function parseSelection(selected: Selection): Prefix[] {
  return parseAll(selected.values.map((v) => v.value)).prefixes;
}

/** The normalized, de-duplicated addresses a selector picks. */
export function select(
  observation: Observation,
  selector: AddressSelector,
  regions?: readonly string[],
): Prefix[] {
  return parseSelection(selection(observation, selector, regions));
}

/**
 * The picked values that are not usable addresses for their field: garbage, or (for the public fields) private,
 * loopback, link-local, CGNAT, multicast or reserved addresses; a private field must hold private addresses (a VNet
 * may use the shared 100.64.0.0/10 space). Only what a target selects is judged (docs/design/product.md §5).
 */
export function invalidIn(selected: Selection): string[] {
  const bad: string[] = [];
  for (const { value, field } of selected.values) {
    const prefix = parsePrefix(value);
    if (!prefix) {
      bad.push(value);
      continue;
    }
    const cls = classify(prefix);
    const ok = field === 'privateIPAddresses' ? cls === 'private' || cls === 'cgnat' : cls === 'public';
    if (!ok) bad.push(`${prefix.key} (${cls}, in ${field})`);
  }
  return [...new Set(bad)];
}

/** Every address the service reported, by kind, for telemetry and status. */
export function summarize(observation: Observation): Record<'inbound' | 'outbound' | 'private', string[]> {
  const all = (selector: AddressSelector) => [...new Set(selectRaw(observation, selector))];
  return { inbound: all('inbound'), outbound: all('outbound'), private: all('private') };
}
