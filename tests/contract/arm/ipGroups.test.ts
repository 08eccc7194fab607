/**
 * Contract tests of the ARM emulator's IP Groups (sandbox/arm/ipGroups.ts): long-running writes on nfvOperations,
 * the real wire shape and etags, and validation, driven by the real NetworkManagementClient and raw HTTPS. Run under
 * `node scripts/with-sandbox-ca.js npx jest tests/contract/arm/ipGroups.test.ts`.
 */
import type { ArmEmulator } from '../../../sandbox/arm';
import { GUID, NET_RG, ipGroupId, network, raw, startArm, statuses } from '../../support/armContract';
import { at, failure } from '../../support/contract';

let emulator: ArmEmulator;

beforeEach(async () => {
  emulator = await startArm();
  emulator.setIpGroup(ipGroupId('apim-egress'), { location: 'westeurope', ipAddresses: ['20.1.1.1'] });
});
afterEach(() => emulator.close());

describe('IP Groups', () => {
  it('round-trips through the SDK: 201, nfvOperations polling, tags, IpGroups type, bare-GUID etag', async () => {
    const group = await network().ipGroups.createOrUpdate(
      NET_RG,
      'apim-new',
      {
        location: 'West Europe',
        tags: { 'managed-by': 'apim-ip-reconciler' },
        ipAddresses: ['20.1.1.1', '60.0.0.0/31'],
      },
      { updateIntervalInMs: 0 },
    );
    expect(group).toMatchObject({
      name: 'apim-new',
      type: 'Microsoft.Network/IpGroups',
      location: 'westeurope',
      tags: { 'managed-by': 'apim-ip-reconciler' },
      provisioningState: 'Succeeded',
      ipAddresses: ['20.1.1.1', '60.0.0.0/31'],
      firewalls: [],
      firewallPolicies: [],
    });
    expect(group.etag).toMatch(GUID);
    expect(statuses('ipGroup.put')).toEqual([201]);
    expect(emulator.requests.filter((r) => r.route === 'operation.get').map((r) => r.path)).toEqual([
      expect.stringMatching(/\/locations\/westeurope\/nfvOperations\/[0-9a-f-]{36}$/),
      expect.stringMatching(/\/nfvOperations\//),
    ]);
    const read = await raw('GET', ipGroupId('apim-new'));
    expect(read.headers.etag).toBe(`"${group.etag}"`);
    expect(emulator.ipGroup(ipGroupId('apim-new'))).toEqual(read.body);
  });

  it('honours If-Match with the body etag and rejects a stale one with 412', async () => {
    const current = await network().ipGroups.get(NET_RG, 'apim-egress');
    const update = (etag: string) =>
      network().ipGroups.createOrUpdate(
        NET_RG,
        'apim-egress',
        { location: 'westeurope', ipAddresses: ['20.1.1.1', '20.2.2.2'] },
        { updateIntervalInMs: 0, requestOptions: { headers: { 'If-Match': etag } } },
      );
    const updated = await update(current.etag ?? '');
    expect(updated.ipAddresses).toEqual(['20.1.1.1', '20.2.2.2']);
    expect(await failure(update(current.etag ?? ''))).toMatchObject({
      statusCode: 412,
      code: 'PreconditionFailed',
    });
  });

  it('surfaces a Failed IP Group operation and leaves the group Failed', async () => {
    emulator.failNextOperation('ipGroup.put', 'Failed');
    const error = await failure(
      network().ipGroups.createOrUpdate(
        NET_RG,
        'apim-egress',
        { location: 'westeurope', ipAddresses: ['20.9.9.9'] },
        { updateIntervalInMs: 0 },
      ),
    );
    expect(error.message).toContain('IpGroupsUpdateFailed');
    expect(at(emulator.ipGroup(ipGroupId('apim-egress')), 'properties')).toMatchObject({
      provisioningState: 'Failed',
      ipAddresses: ['20.9.9.9'],
    });
  });

  it('validates location, entry format and the 5,000-entry limit', async () => {
    const put = (body: unknown) => raw('PUT', ipGroupId('g'), { body });
    const noLocation = await put({ properties: { ipAddresses: ['20.1.1.1'] } });
    expect([noLocation.status, at(noLocation.body, 'error', 'code')]).toEqual([400, 'LocationRequired']);
    const bad = await put({ location: 'westeurope', properties: { ipAddresses: ['20.1.1.1/33'] } });
    expect([bad.status, at(bad.body, 'error', 'code')]).toEqual([400, 'InvalidAddressPrefixFormat']);
    const many = Array.from({ length: 5001 }, (_, i) => `22.${i >> 8}.${i & 255}.1`);
    const tooMany = await put({ location: 'westeurope', properties: { ipAddresses: many } });
    expect([tooMany.status, at(tooMany.body, 'error', 'code')]).toEqual([
      400,
      'IPGroupsIPAddressCountExceeded',
    ]);
    const limit = await put({ location: 'westeurope', properties: { ipAddresses: many.slice(0, 5000) } });
    expect(limit.status).toBe(201);
    expect(at(limit.headers, 'azure-asyncoperation')).toEqual(expect.stringContaining('/nfvOperations/'));
  });
});
