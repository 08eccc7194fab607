import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import { SUBSCRIPTION, ZONE_ID, resetCounts, writes, type World } from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/**
 * A fleet source: every APIM service tagged ip-reconciler=prod, found through Azure Resource Graph
 * (paged with $skipToken), each a source `fleet/<service>` with the targets templated by {service}.
 */

const apimId = (name: string) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/${name}`;

let world: World;
const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));

function seed(name: string, ip: string, tag?: string) {
  world.arm.setApim(apimId(name), {
    location: 'West Europe',
    sku: { name: 'Premium', capacity: 1 },
    provisioningState: 'Succeeded',
    publicIPAddresses: [ip],
    gatewayUrl: `https://${name}.azure-api.net`,
    ...(tag ? { tags: { 'ip-reconciler': tag } } : {}),
  });
}

function fleetConfig(): string {
  const file = join(world.dir, 'fleet.json');
  writeFileSync(
    file,
    JSON.stringify({
      sources: { fleet: { query: { tag: 'ip-reconciler=prod', subscriptions: [SUBSCRIPTION] } } },
      targets: [
        {
          name: 'dns-{service}',
          type: 'cloudflare.dnsRecords',
          source: 'fleet',
          zoneId: ZONE_ID,
          recordName: '{service}.contoso.com',
        },
      ],
      azure: { resourceManagerEndpoint: world.arm.url },
      cloudflare: { baseUrl: world.cloudflare.baseUrl },
    }),
  );
  return file;
}

const content = (name: string) =>
  world.cloudflare.records(ZONE_ID, { name: `${name}.contoso.com`, type: 'A' }).map((r) => r.content);

beforeEach(async () => {
  world = await storyWorld({ graphPageSize: 1 });
  seed('fabrikam-eu', '20.10.0.1', 'prod');
  seed('fabrikam-us', '20.20.0.1', 'prod');
  seed('fabrikam-dev', '20.30.0.1', 'dev');
});
afterEach(() => world.close());

test('every tagged service becomes a source with its own templated target, found across pages', async () => {
  const run = await runCli('apply', world, clock, { config: fleetConfig() });
  expect(run.exitCode).toBe(0);
  expect(run.report!.targets.map((t) => [t.name, t.source, t.resource])).toEqual([
    ['dns-fabrikam-eu', 'fleet/fabrikam-eu', 'fabrikam-eu.contoso.com'],
    ['dns-fabrikam-us', 'fleet/fabrikam-us', 'fabrikam-us.contoso.com'],
  ]);
  expect(content('fabrikam-eu')).toEqual(['20.10.0.1']);
  expect(content('fabrikam-us')).toEqual(['20.20.0.1']);
  expect(content('fabrikam-dev')).toEqual([]);
  // 1 + 3 story services tagged or not: one page per row; one APIM read per member.
  expect(world.arm.count({ route: 'resourceGraph.query' })).toBeGreaterThanOrEqual(2);
  expect(world.arm.count({ route: 'apim.get' })).toBe(2);
});

test('a service that stops matching the query is left alone', async () => {
  const config = fleetConfig();
  await runCli('apply', world, clock, { config });
  seed('fabrikam-us', '20.20.0.99');
  seed('fabrikam-eu', '20.10.0.2', 'prod');
  resetCounts(world);
  const run = await runCli('apply', world, clock, { config });
  expect(run.report!.targets.map((t) => t.name)).toEqual(['dns-fabrikam-eu']);
  expect(content('fabrikam-eu')).toEqual(['20.10.0.2']);
  expect(content('fabrikam-us')).toEqual(['20.20.0.1']);
});

test('a failed fleet query holds every target of the fleet (never "no services")', async () => {
  const config = fleetConfig();
  await runCli('apply', world, clock, { config });
  seed('fabrikam-eu', '20.10.0.3', 'prod');
  world.arm.inject({
    route: 'resourceGraph.query',
    status: 403,
    body: { error: { code: 'AuthorizationFailed', message: 'no access' } },
  });
  resetCounts(world);
  const run = await runCli('apply', world, clock, { config });
  expect(run.exitCode).toBe(1);
  expect(run.report!.sources).toEqual([
    expect.objectContaining({
      name: 'fleet',
      status: 'unavailable',
      block: expect.objectContaining({ reason: 'SourceUnavailable' }),
    }),
  ]);
  expect(run.report!.targets).toEqual([
    expect.objectContaining({ name: 'dns-{service}', status: 'blocked', heldBySource: true }),
  ]);
  expect(writes(world)).toBe(0);
  expect(content('fabrikam-eu')).toEqual(['20.10.0.1']);
});
