import { parseConfig } from '../../lib/config/load';
import { expandFleets } from '../../lib/engine/fleet';
import { fleetQueryText } from '../../lib/source/resourceGraph';
import type { FleetMember, FleetResolver } from '../../lib/source/observation';

const SUB = '00000000-0000-0000-0000-0000000000c0';
const apim = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/${name}`;

const config = () =>
  parseConfig({
    sources: {
      single: { resourceId: apim('contoso') },
      fleet: { query: { tag: 'ip-reconciler=prod', subscriptions: [SUB] } },
    },
    targets: [
      {
        name: 'one',
        type: 'cloudflare.dnsRecords',
        source: 'single',
        zoneId: 'z',
        recordName: 'api.contoso.com',
      },
      {
        name: 'dns-{service}',
        type: 'cloudflare.dnsRecords',
        source: 'fleet',
        zoneId: 'z',
        recordName: '{service}.contoso.com',
      },
      {
        name: 'grp',
        type: 'azure.ipGroup',
        source: 'fleet',
        resourceId: `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Network/ipGroups/{service}-egress`,
      },
    ],
  });

const resolver = (members: FleetMember[]): FleetResolver => ({ discover: async () => members });

test('expands every fleet target per member, templating names and values, and validating each', async () => {
  const expansion = await expandFleets(
    config(),
    resolver([
      { name: 'Fabrikam-EU', resourceId: apim('Fabrikam-EU') },
      { name: 'bad name', resourceId: apim('bad name') },
    ]),
  );
  expect(expansion.sources).toEqual({
    single: apim('contoso'),
    'fleet/Fabrikam-EU': apim('Fabrikam-EU'),
    'fleet/bad name': apim('bad name'),
  });
  expect(expansion.targets.map((t) => [t.name, t.source])).toEqual([
    ['one', 'single'],
    ['dns-Fabrikam-EU', 'fleet/Fabrikam-EU'],
    ['grp/Fabrikam-EU', 'fleet/Fabrikam-EU'],
  ]);
  expect(expansion.targets[1]).toMatchObject({ recordName: 'fabrikam-eu.contoso.com' });
  expect(expansion.targets[2]).toMatchObject({
    resourceId: expect.stringMatching(/ipGroups\/Fabrikam-EU-egress$/),
  });
  expect(expansion.invalid.map((i) => [i.name, i.error])).toEqual([
    ['dns-bad name', expect.stringContaining('for service bad name: name:')],
    ['grp/bad name', expect.stringContaining('for service bad name: name:')],
  ]);
});

test('a failed query holds the fleet targets and names the failure', async () => {
  const failing: FleetResolver = {
    discover: async () =>
      Promise.reject(Object.assign(new Error('nope'), { statusCode: 403, code: 'AuthorizationFailed' })),
  };
  const expansion = await expandFleets(config(), failing);
  expect(expansion.targets.map((t) => t.name)).toEqual(['one']);
  expect(expansion.heldTemplates.map((t) => t.name)).toEqual(['dns-{service}', 'grp']);
  expect(expansion.failedFleets).toEqual([
    {
      fleet: 'fleet',
      query: { tag: 'ip-reconciler=prod', subscriptions: [SUB] },
      error: expect.stringContaining('HTTP 403 AuthorizationFailed'),
    },
  ]);
});

test('the Resource Graph query filters by type and tag, with the tag quoted as a KQL literal', () => {
  expect(fleetQueryText({ tag: 'ip-reconciler=prod' })).toBe(
    "resources | where type =~ 'microsoft.apimanagement/service' | where tags['ip-reconciler'] =~ 'prod' | project id, name, subscriptionId, resourceGroup | order by id asc",
  );
});
