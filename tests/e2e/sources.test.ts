import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import { APIM_ID, IP_GROUP_ID, RECORD_NAME, ZONE_ID, type World } from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/** What the sources give: regions, disabled gateways, NAT prefixes, v2/Consumption tiers and the CNAME for them. */

let world: World;
const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));

beforeEach(async () => {
  world = await storyWorld();
});
afterEach(() => world.close());

function config(targets: Array<Record<string, unknown>>): string {
  const file = join(world.dir, `sources-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      sources: { prod: { resourceId: APIM_ID } },
      targets,
      azure: { resourceManagerEndpoint: world.arm.url },
      cloudflare: { baseUrl: world.cloudflare.baseUrl },
    }),
  );
  return file;
}

const dns = {
  name: 'api-dns',
  type: 'cloudflare.dnsRecords',
  source: 'prod',
  zoneId: ZONE_ID,
  recordName: RECORD_NAME,
  adopt: true,
};
const group = { name: 'egress', type: 'azure.ipGroup', source: 'prod', resourceId: IP_GROUP_ID, adopt: true };
const aRecords = () =>
  world.cloudflare
    .records(ZONE_ID, { name: RECORD_NAME, type: 'A' })
    .map((r) => r.content)
    .sort();

test('multi-region: inbound spans every region except those with disableGateway; regions narrows', async () => {
  world.arm.patchApim(APIM_ID, {
    publicIPAddresses: ['20.1.1.1'],
    additionalLocations: [
      { location: 'North Europe', sku: { name: 'Premium', capacity: 1 }, publicIPAddresses: ['20.3.3.3'] },
      {
        location: 'East US',
        sku: { name: 'Premium', capacity: 1 },
        publicIPAddresses: ['20.4.4.4'],
        disableGateway: true,
      },
    ],
  });
  const all = await runCli('apply', world, clock, { config: config([dns, group]) });
  expect(all.exitCode).toBe(0);
  expect(aRecords()).toEqual(['20.1.1.1', '20.3.3.3']);
  // Outbound keeps the disabled region's address: its IP still belongs to the service.
  expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
    properties: { ipAddresses: ['20.1.1.1/32', '20.3.3.3/32', '20.4.4.4/32'] },
  });

  const narrowed = await runCli('apply', world, clock, {
    config: config([{ ...dns, regions: ['northeurope'] }]),
  });
  expect(narrowed.exitCode).toBe(0);
  expect(aRecords()).toEqual(['20.3.3.3']);
});

test('NAT gateway: outbound is the NAT prefix, which an allowlist takes as it is', async () => {
  world.arm.patchApim(APIM_ID, { natGatewayState: 'Enabled', outboundPublicIPAddresses: ['60.0.0.0/31'] });
  const run = await runCli('apply', world, clock, { config: config([group]) });
  expect(run.exitCode).toBe(0);
  expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
    properties: { ipAddresses: ['20.1.1.1/32', '60.0.0.0/31'] },
  });
});

test.each([
  ['StandardV2', 'undetermined'],
  ['Consumption', 'mtv1'],
])(
  '%s publishes no IP: EmptySource names the tier, and a CNAME to the gateway host still works',
  async (sku, platformVersion) => {
    world.arm.patchApim(APIM_ID, {
      sku: { name: sku, capacity: sku === 'Consumption' ? 0 : 1 },
      publicIPAddresses: undefined,
      platformVersion,
    });
    const held = await runCli('apply', world, clock, { config: config([dns]) });
    expect(held.report!.targets[0]!.block).toMatchObject({
      reason: 'EmptySource',
      detail: expect.stringContaining(`the ${sku} tier publishes no dedicated IP addresses`),
    });

    const cname = {
      name: 'api-cname',
      type: 'cloudflare.dnsCname',
      source: 'prod',
      zoneId: ZONE_ID,
      recordName: RECORD_NAME,
      adopt: true,
    };
    const migrated = await runCli('apply', world, clock, { config: config([cname]) });
    expect(migrated.exitCode).toBe(0);
    // The A record and the CNAME cannot coexist: the batch deleted the one before it posted the other.
    expect(world.cloudflare.count({ route: 'dnsRecords.batch' })).toBe(1);
    expect(world.cloudflare.records(ZONE_ID, { name: RECORD_NAME })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          type: 'CNAME',
          content: 'contoso.azure-api.net',
          proxied: true,
          comment: 'managed-by:apim-ip-reconciler',
        }),
        expect.objectContaining({ type: 'TXT' }),
      ]),
    );
    expect(aRecords()).toEqual([]);
  },
);

describe('an internal-VNet service', () => {
  beforeEach(() =>
    world.arm.patchApim(APIM_ID, {
      virtualNetworkType: 'Internal',
      publicIPAddresses: ['20.5.5.5'],
      privateIPAddresses: ['10.1.0.5'],
    }),
  );

  it('puts its private gateway address into DNS, never its management IP, and says why in the plan', async () => {
    const plan = await runCli('plan', world, clock, { config: config([dns]) });
    expect(plan.output).toMatch(
      /addresses: inbound from privateIPAddresses \(internal VNet: clients reach the gateway on its private addresses; its public IP serves only management \(port 3443\) and egress\)/,
    );
    const applied = await runCli('apply', world, clock, { config: config([dns]) });
    expect(applied.exitCode).toBe(0);
    expect(aRecords()).toEqual(['10.1.0.5']);
    expect(applied.report!.targets[0]!.addresses).toEqual({
      selector: 'inbound',
      fields: ['privateIPAddresses'],
      note: expect.stringContaining('internal VNet'),
    });
  });

  it('still allowlists its public IP for what it sends out (outbound)', async () => {
    const applied = await runCli('apply', world, clock, { config: config([group]) });
    expect(applied.exitCode).toBe(0);
    // 20.1.1.1 was there before, not the source's: adopting leaves it as it is.
    expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
      properties: { ipAddresses: ['20.1.1.1/32', '20.5.5.5/32'] },
    });
  });
});

test('a service still changing (targetProvisioningState set) is held as not running, and nothing moves', async () => {
  await runCli('apply', world, clock, { config: config([dns]) });
  world.arm.patchApim(APIM_ID, { publicIPAddresses: ['20.6.6.6'], targetProvisioningState: 'Updating' });
  const held = await runCli('apply', world, clock, { config: config([dns]) });
  expect(held.exitCode).toBe(3);
  expect(held.report!.sources[0]!.block).toMatchObject({
    reason: 'SourceNotRunning',
    detail: expect.stringContaining('still changing (targetProvisioningState Updating)'),
  });
  expect(aRecords()).toEqual(['20.1.1.1']);
});
