/**
 * API Management services (Microsoft.ApiManagement/service): GET one, list by subscription or resource group. Read
 * only: tests seed services with setApim() and change them with patchApim() (new IPs after a reactivation).
 *
 * - Paths, definitions and api-versions: Azure/azure-rest-api-specs `specification/apimanagement/resource-manager/
 *   Microsoft.ApiManagement/ApiManagement/stable/2024-05-01/apimdeployment.json` and the readme.md beside it (2024-05-01
 *   is the newest stable; the previews up to 2025-09-01-preview are accepted too).
 * - The payload follows the 2024-05-01 examples (same folder, examples/): ApiManagementServiceGetService.json (Premium,
 *   multi-region, stv2), ApiManagementServiceGetMultiRegionInternalVnet.json (privateIPAddresses),
 *   ApiManagementCreateServiceSkuv2Service.json (StandardV2: no publicIPAddresses, no gatewayRegionalUrl,
 *   platformVersion "undetermined", natGatewayState "Unsupported") and ApiManagementCreateServiceWithNatGatewayEnabled.json
 *   (CIDR outboundPublicIPAddresses). The etag is base64 ("AAAAAAAWN/4=") and changes with every change.
 * - IP fields the seed omits are absent from the wire (v2 and Consumption tiers publish none): absent, not `[]`.
 *   `sku.name` is modelAsString, so names outside the enum (PremiumV2) are served as given.
 * - Fields absent from older api-versions are dropped: outboundPublicIPAddresses and natGatewayState before
 *   2022-08-01 (first in stable/2022-08-01/apimdeployment.json), platformVersion and publicNetworkAccess before
 *   2021-08-01.
 * - targetProvisioningState defaults to "" when idle and "Activating" while Created/Activating (the create examples);
 *   the only documented signal of a stopped (suspended) service is provisioningState "Stopped" (the spec's
 *   description of provisioningState).
 * - Resource Graph rows: each service as the 2024-05-01 GET returns its properties, with ARG's lower-cased type,
 *   resource group and subscription and a normalised location (resourceGraph.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Reply } from '../emulator';
import { ArmProvider, TENANT_ID, type ApiVersionRule, type ArmRequest, type ArmRoute } from './core';
import {
  ArmFailure,
  RESOURCE_NOT_FOUND_HELP,
  apiVersionAtLeast,
  key,
  netTimestamp,
  normalizeLocation,
  parseTopLevelId,
  resourcePath,
  type ResourceRef,
} from './wire';

export interface ApimSku {
  name: string;
  capacity: number;
}

export interface ApimRegionSeed {
  location: string;
  sku?: ApimSku;
  publicIPAddresses?: string[];
  privateIPAddresses?: string[];
  outboundPublicIPAddresses?: string[];
  disableGateway?: boolean;
  gatewayRegionalUrl?: string;
  natGatewayState?: string;
  platformVersion?: string;
  zones?: string[];
}

export interface ApimSeed {
  location: string;
  sku: ApimSku;
  provisioningState: string;
  publicIPAddresses?: string[];
  privateIPAddresses?: string[];
  outboundPublicIPAddresses?: string[];
  additionalLocations?: ApimRegionSeed[];
  gatewayUrl?: string;
  tags?: Record<string, string>;
  natGatewayState?: string;
  platformVersion?: string;
  disableGateway?: boolean;
  virtualNetworkType?: string;
  /** Default: "" when idle, "Activating" while Created/Activating, else the provisioningState. */
  targetProvisioningState?: string;
  publisherEmail?: string;
  publisherName?: string;
}

// prettier-ignore
const APIM_VERSIONS = [
  '2016-07-07', '2016-10-10', '2017-03-01', '2018-01-01', '2019-01-01', '2019-12-01', '2020-12-01', '2021-08-01',
  '2022-08-01', '2023-03-01-preview', '2023-05-01-preview', '2023-09-01-preview', '2024-05-01', '2024-06-01-preview',
  '2024-10-01-preview', '2025-03-01-preview', '2025-09-01-preview',
];

/** The APIM api-version whose GET body Resource Graph rows carry as `properties`. */
const GRAPH_APIM_VERSION = '2024-05-01';

const TYPE = 'Microsoft.ApiManagement/service';

interface ApimRecord {
  ref: ResourceRef;
  id: string;
  seed: ApimSeed;
  etag: bigint;
  createdAt: string;
  modifiedAt: string;
  principalId: string;
}

export class ApimServices extends ArmProvider {
  private readonly apims = new Map<string, ApimRecord>();
  private etagCounter = 0x16_37_fe_00n;

  routes(): ArmRoute[] {
    const rg = '/subscriptions/{subscription}/resourceGroups/{resourceGroup}';
    const action = 'Microsoft.ApiManagement/service/read';
    return [
      {
        name: 'apim.get',
        method: 'GET',
        template: `${rg}/providers/${TYPE}/{service}`,
        action,
        handle: (r) => this.get(r),
      },
      {
        name: 'apim.list',
        method: 'GET',
        template: `/subscriptions/{subscription}/providers/${TYPE}`,
        action,
        handle: (r) => this.list(r),
      },
      {
        name: 'apim.list',
        method: 'GET',
        template: `${rg}/providers/${TYPE}`,
        action,
        handle: (r) => this.list(r),
      },
    ];
  }

  override apiVersions(): ApiVersionRule[] {
    return [{ namespace: 'Microsoft.ApiManagement', versions: APIM_VERSIONS }];
  }

  override locationOf(lowerPath: string): string | undefined {
    const apim = this.apims.get(lowerPath);
    return apim ? normalizeLocation(apim.seed.location) : undefined;
  }

  override graphRows(): Array<Record<string, unknown>> {
    return [...this.apims.values()].map((record) => {
      const body = this.render(record, GRAPH_APIM_VERSION);
      return {
        id: record.id,
        name: record.ref.name,
        type: 'microsoft.apimanagement/service',
        tenantId: TENANT_ID,
        kind: '',
        location: normalizeLocation(record.seed.location),
        resourceGroup: record.ref.resourceGroup.toLowerCase(),
        subscriptionId: record.ref.subscription.toLowerCase(),
        managedBy: '',
        sku: body.sku,
        plan: null,
        properties: body.properties,
        tags: body.tags,
        identity: body.identity,
        zones: body.zones ?? null,
        extendedLocation: null,
      };
    });
  }

  // ----- seeding -------------------------------------------------------------------------------------------------

  /** Creates or replaces an APIM service. */
  set(resourceId: string, seed: ApimSeed): void {
    const ref = parseTopLevelId(resourceId, TYPE);
    this.core.registerResourceGroup(ref.subscription, ref.resourceGroup);
    const id = resourcePath(ref, TYPE);
    const existing = this.apims.get(key(id));
    const now = netTimestamp();
    this.apims.set(key(id), {
      ref,
      id,
      seed: structuredClone(seed),
      etag: this.nextEtag(),
      createdAt: existing?.createdAt ?? now,
      modifiedAt: now,
      principalId: existing?.principalId ?? randomUUID(),
    });
  }

  /** Changes some fields of an existing APIM service (e.g. new IPs after a reactivation). */
  patch(resourceId: string, patch: Partial<ApimSeed>): void {
    const record = this.apims.get(key(resourcePath(parseTopLevelId(resourceId, TYPE), TYPE)));
    if (!record) throw new Error(`no APIM service ${resourceId}`);
    record.seed = { ...record.seed, ...structuredClone(patch) };
    record.etag = this.nextEtag();
    record.modifiedAt = netTimestamp();
  }

  // ----- handlers ------------------------------------------------------------------------------------------------

  private get(r: ArmRequest): Reply {
    const record = this.apims.get(key(r.ctx.url.pathname.replace(/\/+$/, '')));
    if (!record) {
      throw new ArmFailure(
        404,
        'ResourceNotFound',
        `The Resource 'Microsoft.ApiManagement/service/${r.params.service}' under resource group ` +
          `'${r.params.resourceGroup}' was not found. ${RESOURCE_NOT_FOUND_HELP}`,
      );
    }
    return { status: 200, body: this.render(record, r.apiVersion) };
  }

  private list(r: ArmRequest): Reply {
    const scope = key(r.ctx.url.pathname.replace(/\/providers\/.*$/i, ''));
    const items = [...this.apims.values()]
      .filter((a) => key(a.id).startsWith(`${scope}/`))
      .map((a) => this.render(a, r.apiVersion));
    return { status: 200, body: this.core.page(r, items) };
  }

  // ----- wire shape ----------------------------------------------------------------------------------------------

  private render(record: ApimRecord, apiVersion: string): Record<string, unknown> {
    const { seed, ref } = record;
    const body: Record<string, unknown> = {
      id: record.id,
      name: ref.name,
      type: TYPE,
      tags: seed.tags ?? {},
      location: seed.location,
      etag: base64Etag(record.etag),
      properties: renderProperties(record, apiVersion),
      sku: { name: seed.sku.name, capacity: seed.sku.capacity },
      identity: { type: 'SystemAssigned', principalId: record.principalId, tenantId: TENANT_ID },
      systemData: {
        createdBy: 'sandbox@contoso.com',
        createdByType: 'User',
        createdAt: record.createdAt,
        lastModifiedBy: 'sandbox@contoso.com',
        lastModifiedByType: 'User',
        lastModifiedAt: record.modifiedAt,
      },
    };
    if (skuTier(seed.sku.name) === 'v2') body.zones = null;
    return body;
  }

  private nextEtag(): bigint {
    this.etagCounter += BigInt(1 + Math.floor(Math.random() * 64));
    return this.etagCounter;
  }
}

function renderProperties(record: ApimRecord, apiVersion: string): Record<string, unknown> {
  const { seed, ref } = record;
  const host = ref.name.toLowerCase();
  const tier = skuTier(seed.sku.name);
  const classic = tier === 'classic';
  const gatewayUrl = seed.gatewayUrl ?? `https://${host}.azure-api.net`;
  const withOutbound = apiVersionAtLeast(apiVersion, '2022-08-01');
  const withPlatform = apiVersionAtLeast(apiVersion, '2021-08-01');
  const p: Record<string, unknown> = {
    publisherEmail: seed.publisherEmail ?? 'apim@contoso.com',
    publisherName: seed.publisherName ?? 'Contoso',
    notificationSenderEmail: 'apimgmt-noreply@mail.windowsazure.com',
    provisioningState: seed.provisioningState,
    targetProvisioningState: seed.targetProvisioningState ?? targetStateFor(seed.provisioningState),
    createdAtUtc: record.createdAt,
    gatewayUrl,
  };
  if (classic) {
    p.gatewayRegionalUrl = regionalUrl(host, seed.location);
    p.portalUrl = `https://${host}.portal.azure-api.net`;
    p.developerPortalUrl = `https://${host}.developer.azure-api.net`;
    p.managementApiUrl = `https://${host}.management.azure-api.net`;
    p.scmUrl = `https://${host}.scm.azure-api.net`;
  }
  p.hostnameConfigurations = [
    {
      type: 'Proxy',
      hostName: new URL(gatewayUrl).hostname,
      negotiateClientCertificate: false,
      defaultSslBinding: true,
      certificateSource: 'BuiltIn',
    },
  ];
  if (seed.publicIPAddresses) p.publicIPAddresses = [...seed.publicIPAddresses];
  if (seed.privateIPAddresses) p.privateIPAddresses = [...seed.privateIPAddresses];
  if (seed.additionalLocations) {
    p.additionalLocations = seed.additionalLocations.map((l) => renderRegion(l, seed, host, apiVersion));
  }
  p.customProperties = {
    'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10': 'False',
    'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls11': 'False',
    'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls10': 'False',
    'Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Backend.Protocols.Tls11': 'False',
    'Microsoft.WindowsAzure.ApiManagement.Gateway.Protocols.Server.Http2': 'False',
  };
  p.virtualNetworkType = seed.virtualNetworkType ?? 'None';
  p.disableGateway = seed.disableGateway ?? false;
  const natGatewayState = seed.natGatewayState ?? (tier === 'classic' ? undefined : 'Unsupported');
  if (withOutbound && natGatewayState !== undefined) p.natGatewayState = natGatewayState;
  if (withOutbound && seed.outboundPublicIPAddresses) {
    p.outboundPublicIPAddresses = [...seed.outboundPublicIPAddresses];
  }
  p.apiVersionConstraint = {};
  if (withPlatform) {
    p.publicNetworkAccess = 'Enabled';
    p.platformVersion = seed.platformVersion ?? defaultPlatform(tier);
  }
  return p;
}

function base64Etag(counter: bigint): string {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(counter);
  return buffer.toString('base64');
}

type SkuTier = 'classic' | 'v2' | 'consumption';

function skuTier(sku: string): SkuTier {
  const lower = sku.toLowerCase();
  if (lower === 'consumption') return 'consumption';
  return lower.endsWith('v2') ? 'v2' : 'classic';
}

function defaultPlatform(tier: SkuTier): string {
  return tier === 'classic' ? 'stv2' : tier === 'v2' ? 'undetermined' : 'mtv1';
}

function targetStateFor(provisioningState: string): string {
  if (['Succeeded', 'Stopped', 'Failed', 'Deleted'].includes(provisioningState)) return '';
  return ['Created', 'Activating'].includes(provisioningState) ? 'Activating' : provisioningState;
}

function regionalUrl(host: string, location: string): string {
  return `https://${host}-${normalizeLocation(location)}-01.regional.azure-api.net`;
}

function renderRegion(
  region: ApimRegionSeed,
  seed: ApimSeed,
  host: string,
  apiVersion: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    location: region.location,
    sku: { ...(region.sku ?? seed.sku) },
    zones: region.zones ?? [],
  };
  if (region.publicIPAddresses) out.publicIPAddresses = [...region.publicIPAddresses];
  if (region.privateIPAddresses) out.privateIPAddresses = [...region.privateIPAddresses];
  out.gatewayRegionalUrl = region.gatewayRegionalUrl ?? regionalUrl(host, region.location);
  if (apiVersionAtLeast(apiVersion, '2022-08-01')) {
    if (region.natGatewayState !== undefined) out.natGatewayState = region.natGatewayState;
    if (region.outboundPublicIPAddresses)
      out.outboundPublicIPAddresses = [...region.outboundPublicIPAddresses];
  }
  out.disableGateway = region.disableGateway ?? false;
  if (apiVersionAtLeast(apiVersion, '2021-08-01')) {
    out.platformVersion = region.platformVersion ?? seed.platformVersion ?? 'stv2';
  }
  return out;
}
