/**
 * Contract tests of the ARM emulator's API Management services (sandbox/arm/apim.ts), driven by the real
 * ApiManagementClient and raw HTTPS. Run under `node scripts/with-sandbox-ca.js npx jest
 * tests/contract/arm/apim.test.ts`.
 */
import type { ArmEmulator } from '../../../sandbox/arm';
import { APIM_API, APIM_RG, PREMIUM, apim, apimId, raw, startArm, statuses } from '../../support/armContract';
import { at, failure } from '../../support/contract';

let emulator: ArmEmulator;

beforeEach(async () => {
  emulator = await startArm();
  emulator.setApim(apimId('contoso'), PREMIUM);
});
afterEach(() => emulator.close());

describe('APIM service GET', () => {
  it('returns a running multi-region service with IPs lifted to top-level fields by the SDK', async () => {
    const service = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(service.provisioningState).toBe('Succeeded');
    expect(service.publicIPAddresses).toEqual(['20.1.1.1']);
    expect(service.outboundPublicIPAddresses).toEqual(['20.1.1.1']);
    expect(service.additionalLocations?.map((l) => [l.location, l.publicIPAddresses])).toEqual([
      ['North Europe', ['20.2.2.2']],
    ]);
    expect(service.gatewayUrl).toBe('https://contoso.azure-api.net');
    expect(service.gatewayRegionalUrl).toBe('https://contoso-westeurope-01.regional.azure-api.net');
    expect(service.sku).toEqual({ name: 'Premium', capacity: 1 });
    expect(service.platformVersion).toBe('stv2');
    expect(service.etag).toMatch(/^[A-Za-z0-9+/]{11}=$/);
  });

  it('nests the IP fields under properties on the wire, like the reference example', async () => {
    const { status, body } = await raw('GET', apimId('contoso'), { apiVersion: APIM_API });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      id: apimId('contoso'),
      name: 'contoso',
      type: 'Microsoft.ApiManagement/service',
      location: 'West Europe',
      sku: { name: 'Premium', capacity: 1 },
      properties: {
        provisioningState: 'Succeeded',
        targetProvisioningState: '',
        publicIPAddresses: ['20.1.1.1'],
        additionalLocations: [{ location: 'North Europe', sku: { name: 'Premium', capacity: 1 } }],
      },
    });
    expect(at(body, 'publicIPAddresses')).toBeUndefined();
    expect(at(body, 'systemData', 'lastModifiedAt')).toEqual(expect.any(String));
  });

  it('reports a stopped service and follows patchApim (new IPs after reactivation, new etag)', async () => {
    const before = await apim().apiManagementService.get(APIM_RG, 'contoso');
    emulator.patchApim(apimId('contoso'), { provisioningState: 'Stopped' });
    const stopped = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(stopped.provisioningState).toBe('Stopped');
    emulator.patchApim(apimId('contoso'), {
      provisioningState: 'Succeeded',
      publicIPAddresses: ['20.9.9.9'],
    });
    const after = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(after.publicIPAddresses).toEqual(['20.9.9.9']);
    expect(new Set([before.etag, stopped.etag, after.etag]).size).toBe(3);
  });

  it('omits IP fields entirely for StandardV2 (absent, not empty)', async () => {
    emulator.setApim(apimId('v2'), {
      location: 'East US',
      sku: { name: 'StandardV2', capacity: 1 },
      provisioningState: 'Succeeded',
    });
    const { body } = await raw('GET', apimId('v2'), { apiVersion: APIM_API });
    const properties = at(body, 'properties') as Record<string, unknown>;
    for (const field of [
      'publicIPAddresses',
      'privateIPAddresses',
      'outboundPublicIPAddresses',
      'gatewayRegionalUrl',
    ]) {
      expect(properties).not.toHaveProperty(field);
    }
    expect(properties).toMatchObject({ natGatewayState: 'Unsupported', platformVersion: 'undetermined' });
    const service = await apim().apiManagementService.get(APIM_RG, 'v2');
    expect(service.publicIPAddresses).toBeUndefined();
    expect(service.additionalLocations).toBeUndefined();
  });

  it('returns CIDR outbound prefixes and private IPs per region', async () => {
    emulator.setApim(apimId('nat'), {
      ...PREMIUM,
      natGatewayState: 'Enabled',
      outboundPublicIPAddresses: ['60.0.0.0/31'],
      privateIPAddresses: ['10.0.0.5'],
      virtualNetworkType: 'Internal',
      additionalLocations: [
        { location: 'North Europe', publicIPAddresses: ['20.2.2.2'], privateIPAddresses: ['10.1.0.6'] },
      ],
    });
    const service = await apim().apiManagementService.get(APIM_RG, 'nat');
    expect(service.outboundPublicIPAddresses).toEqual(['60.0.0.0/31']);
    expect(service.natGatewayState).toBe('Enabled');
    expect(service.privateIPAddresses).toEqual(['10.0.0.5']);
    expect(service.additionalLocations?.[0]?.privateIPAddresses).toEqual(['10.1.0.6']);
  });

  it('drops fields an older api-version does not know', async () => {
    const old = await raw('GET', apimId('contoso'), { apiVersion: '2021-08-01' });
    expect(old.status).toBe(200);
    expect(at(old.body, 'properties')).not.toHaveProperty('outboundPublicIPAddresses');
    expect(at(old.body, 'properties', 'platformVersion')).toBe('stv2');
  });

  it('lists by subscription and by resource group across nextLink pages', async () => {
    emulator.setApim(apimId('second'), PREMIUM);
    emulator.setApim(apimId('third', 'rg-other'), PREMIUM);
    const all: string[] = [];
    for await (const s of apim().apiManagementService.list()) all.push(s.name ?? '');
    expect(all.sort()).toEqual(['contoso', 'second', 'third']);
    expect(statuses('apim.list')).toEqual([200, 200]);
    const inGroup: string[] = [];
    for await (const s of apim().apiManagementService.listByResourceGroup(APIM_RG))
      inGroup.push(s.name ?? '');
    expect(inGroup.sort()).toEqual(['contoso', 'second']);
  });

  it('answers 404 ResourceNotFound with ARM wording, and ResourceGroupNotFound for a missing group', async () => {
    const missing = await raw('GET', apimId('nope'), { apiVersion: APIM_API });
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: {
        code: 'ResourceNotFound',
        message:
          "The Resource 'Microsoft.ApiManagement/service/nope' under resource group 'rg-apim' was not found. " +
          'For more details please go to https://aka.ms/ARMResourceNotFoundFix',
      },
    });
    const error = await failure(apim().apiManagementService.get('rg-missing', 'contoso'));
    expect(error).toMatchObject({ statusCode: 404, code: 'ResourceGroupNotFound' });
  });
});
