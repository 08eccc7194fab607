import type { ApiManagementClient, ApiManagementServiceResource } from '@azure/arm-apimanagement';
import { parseResourceId } from '../config/resourceId';
import type { Observation, RegionObservation, SourceReader } from './observation';

/** Reads APIM services through `@azure/arm-apimanagement` (one GET per service). */
export class ApimSourceReader implements SourceReader {
  constructor(private readonly clientFor: (subscriptionId: string) => ApiManagementClient) {}

  async observe(source: string, resourceId: string): Promise<Observation> {
    const id = parseResourceId(resourceId);
    const service = await this.clientFor(id.subscriptionId).apiManagementService.get(
      id.resourceGroup,
      id.names[0] as string,
    );
    return toObservation(source, resourceId, service);
  }
}

function strings(value: readonly string[] | null | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** Parses the SDK's model into an Observation; missing IP arrays become empty lists (v2 and Consumption tiers). */
export function toObservation(
  source: string,
  resourceId: string,
  service: ApiManagementServiceResource,
): Observation {
  const primary: RegionObservation = {
    location: service.location,
    primary: true,
    gatewayDisabled: service.disableGateway === true,
    inbound: strings(service.publicIPAddresses),
    outbound: strings(service.outboundPublicIPAddresses),
    private: strings(service.privateIPAddresses),
  };
  const additional: RegionObservation[] = (service.additionalLocations ?? []).map((l) => ({
    location: l.location,
    primary: false,
    gatewayDisabled: l.disableGateway === true,
    inbound: strings(l.publicIPAddresses),
    outbound: strings(l.outboundPublicIPAddresses),
    private: strings(l.privateIPAddresses),
  }));
  return {
    source,
    resourceId,
    serviceName: service.name ?? parseResourceId(resourceId).names[0]!,
    provisioningState: service.provisioningState ?? 'Unknown',
    targetProvisioningState: service.targetProvisioningState || undefined,
    virtualNetworkType: service.virtualNetworkType,
    sku: service.sku?.name ?? 'Unknown',
    platformVersion: service.platformVersion,
    gatewayHost: hostOf(service.gatewayUrl),
    regions: [primary, ...additional],
  };
}
