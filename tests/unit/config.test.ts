import {
  ConfigError,
  jsonPath,
  loadConfigFile,
  loadConfigFromEnvironment,
  parseConfig,
} from '../../lib/config/load';
import { parseDuration, formatDuration } from '../../lib/config/duration';
import { configJsonSchema, TARGET_EXAMPLES } from '../../lib/config/schema';
import { mkdtempSync as makeTempDir, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary folders of this file, removed when it ends. */
const tempDirs: string[] = [];
const mkdtempSync = (prefix: string): string => {
  const dir = makeTempDir(prefix);
  tempDirs.push(dir);
  return dir;
};
afterAll(() => tempDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

const APIM = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso';
const RULE =
  '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/backend/securityRules/allow-apim';

const valid = () => ({
  sources: { prod: { resourceId: APIM } },
  targets: [
    {
      name: 'api-dns',
      type: 'cloudflare.dnsRecords',
      source: 'prod',
      zoneId: 'zone1',
      recordName: 'API.Contoso.com.',
      adopt: true,
    },
    {
      name: 'backend-nsg',
      type: 'azure.nsgRule',
      source: 'prod',
      ruleId: RULE,
      create: { priority: 200, direction: 'Inbound' },
    },
  ],
});

function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected the document to be rejected');
}

describe('parseConfig', () => {
  it('fills defaults and normalizes the record name', () => {
    const config = parseConfig(valid());
    expect(config.safety).toEqual({
      retireAfter: 'PT1H',
      maxRemovalsPerTarget: 4,
      runBudget: 'PT8M',
      dnsWaitForAllowlists: 'PT30S',
      minPrefixLength: { ipv4: 28, ipv6: 124 },
    });
    expect(config.azure.resourceManagerEndpoint).toBe('https://management.azure.com');
    expect(config.cloudflare.baseUrl).toBe('https://api.cloudflare.com/client/v4');
    const [dns, nsg] = config.targets;
    expect(dns).toMatchObject({ recordName: 'api.contoso.com', adopt: true });
    expect(nsg).toMatchObject({
      field: 'source',
      adopt: false,
      create: { priority: 200, direction: 'Inbound', protocol: 'Tcp', destinationPortRanges: ['443'] },
    });
  });

  it('names the JSON path of a missing key', () => {
    const doc = valid();
    delete (doc.targets[0] as Record<string, unknown>).zoneId;
    expect(problems(doc)).toEqual(['targets[0].zoneId: required']);
  });

  it('refuses unknown keys everywhere, so a typo is never ignored', () => {
    const doc = { ...valid(), safety: { retireAfer: 'PT2H' } };
    (doc.targets[1] as Record<string, unknown>).adpot = true;
    expect(problems(doc)).toEqual(
      expect.arrayContaining([
        'targets[1].adpot: unknown key; did you mean "adopt"?',
        'safety.retireAfer: unknown key; did you mean "retireAfter"?',
      ]),
    );
  });

  it('names an unknown target type and lists the known ones', () => {
    const doc = valid();
    (doc.targets[0] as Record<string, unknown>).type = 'cloudflare.dnsRecord';
    const [problem] = problems(doc);
    expect(problem).toMatch(
      /^targets\[0\]\.type: unknown target type "cloudflare.dnsRecord"; one of cloudflare\.dnsRecords, cloudflare\.dnsCname, cloudflare\.ipList, cloudflare\.poolOrigins, azure\.nsgRule, azure\.ipGroup/,
    );
  });

  it('lists every problem at once, including cross references', () => {
    const doc = valid();
    doc.targets[1]!.source = 'prd';
    (doc.targets[0] as Record<string, unknown>).ttl = 5;
    doc.targets.push({ ...doc.targets[0]!, recordName: 'b.contoso.com' } as (typeof doc.targets)[number]);
    const list = problems(doc);
    expect(list).toEqual(
      expect.arrayContaining([
        'targets[1].source: unknown source "prd"; defined: prod',
        'targets[2].name: duplicate target name "api-dns"',
        expect.stringMatching(/^targets\[0\]\.ttl: /),
      ]),
    );
  });

  it('checks resource IDs, durations and the managed side of a created NSG rule', () => {
    const doc = valid() as Record<string, unknown> & ReturnType<typeof valid>;
    doc.sources.prod.resourceId = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app';
    (doc as Record<string, unknown>).safety = { retireAfter: '1 hour' };
    (doc.targets[1] as Record<string, unknown>).create = {
      priority: 200,
      direction: 'Inbound',
      sourceAddressPrefix: '*',
    };
    const list = problems(doc);
    expect(list).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^sources\.prod\.resourceId: must be a resource ID like/),
        expect.stringMatching(/^safety\.retireAfter: must be an ISO 8601 duration/),
        'targets[1].create.sourceAddressPrefix: the reconciler manages these addresses; remove this key',
      ]),
    );
  });

  it('refuses a document that is not JSON with a clear origin', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'reconciler.config.json'), '{ nope');
    expect(() => loadConfigFromEnvironment({}, dir)).toThrow(/reconciler\.config\.json[\s\S]*not valid JSON/);
  });

  it('prefers the inline app setting to the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const config = loadConfigFromEnvironment(
      { RECONCILER_CONFIG: JSON.stringify(valid()), RECONCILER_CONFIG_FILE: 'missing.json' },
      dir,
    );
    expect(config.targets).toHaveLength(2);
    expect(() => loadConfigFromEnvironment({ RECONCILER_CONFIG_FILE: 'missing.json' }, dir)).toThrow(
      /missing\.json: file not found/,
    );
  });
});

describe('one resource, one owner', () => {
  it('refuses two targets on one resource, naming both and the resource', () => {
    const doc = valid();
    doc.targets.push({
      ...doc.targets[1]!,
      name: 'backend-nsg-2',
      ruleId: RULE.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'),
    } as never);
    expect(problems(doc)).toEqual([
      `targets[2]: backend-nsg-2 writes ${RULE.toLowerCase()}, as targets[1] (backend-nsg) does; two targets on one resource undo each other's writes: keep one, or point this one at a resource of its own`,
    ]);
  });

  it('refuses an A-record target and a CNAME target on one DNS name', () => {
    const doc = valid() as { targets: Array<Record<string, unknown>> } & ReturnType<typeof valid>;
    doc.targets.push({
      name: 'api-cname',
      type: 'cloudflare.dnsCname',
      source: 'prod',
      zoneId: 'zone1',
      recordName: 'api.contoso.com',
    });
    expect(problems(doc)).toEqual([
      expect.stringMatching(
        /^targets\[2\]: api-cname writes zone zone1: DNS name api\.contoso\.com, as targets\[0\] \(api-dns\) does/,
      ),
    ]);
  });

  it('accepts two rules of one firewall rule collection group: they are written together', () => {
    const group =
      '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/fw/ruleCollectionGroups/apim';
    const rule = (name: string, rule: string) => ({
      name,
      type: 'azure.firewallPolicyRule',
      source: 'prod',
      ruleCollectionGroupId: group,
      ruleCollection: 'egress',
      rule,
    });
    expect(() =>
      parseConfig({
        sources: { prod: { resourceId: APIM } },
        targets: [rule('a', 'allow-a'), rule('b', 'allow-b')],
      }),
    ).not.toThrow();
    expect(
      problems({
        sources: { prod: { resourceId: APIM } },
        targets: [rule('a', 'allow-a'), rule('b', 'allow-a')],
      }),
    ).toHaveLength(1);
  });
});

describe('jsonPath', () => {
  it('writes indexes and odd keys like JSON paths', () => {
    expect(jsonPath(['targets', 2, 'zoneId'])).toBe('targets[2].zoneId');
    expect(jsonPath(['sources', 'my source', 'resourceId'])).toBe('sources["my source"].resourceId');
    expect(jsonPath([])).toBe('(document)');
  });
});

describe('durations', () => {
  it.each([
    ['PT1H', 3_600_000],
    ['PT90M', 5_400_000],
    ['P1DT12H', 129_600_000],
    ['PT0S', 0],
    ['PT1.5H', 5_400_000],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['P', 'PT', '1h', 'P1M', 'P1Y', 'PT-1H'])('refuses %s', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  );

  it('formats for people', () => {
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(3_660_000)).toBe('1h 1m');
    expect(formatDuration(45_000)).toBe('45s');
  });
});

describe('JSON Schema', () => {
  it('describes every target type and forbids unknown keys', () => {
    const schema = JSON.stringify(configJsonSchema());
    for (const type of ['cloudflare.dnsRecords', 'azure.nsgRule', 'azure.ipGroup'])
      expect(schema).toContain(type);
    expect(schema).toContain('"additionalProperties":false');
  });
});

describe('the example configuration', () => {
  it('is valid', () => {
    expect(
      loadConfigFile(join(__dirname, '..', '..', 'reconciler.config.example.json')).targets,
    ).toHaveLength(3);
  });
});

describe('fleet sources', () => {
  const fleet = () => ({
    sources: {
      fleet: {
        query: { tag: 'ip-reconciler=prod', subscriptions: ['00000000-0000-0000-0000-0000000000c0'] },
      },
    },
    targets: [
      {
        name: 'dns-{service}',
        type: 'cloudflare.dnsRecords',
        source: 'fleet',
        zoneId: 'zone1',
        recordName: '{service}.api.contoso.com',
      },
    ],
  });

  it('accepts {service} in the targets of a fleet', () => {
    const config = parseConfig(fleet());
    expect(config.sources.fleet).toEqual({
      query: { tag: 'ip-reconciler=prod', subscriptions: ['00000000-0000-0000-0000-0000000000c0'] },
    });
    expect(config.targets[0]).toMatchObject({
      name: 'dns-{service}',
      recordName: '{service}.api.contoso.com',
    });
  });

  it('names what is wrong in a fleet query, and a source that is neither kind', () => {
    const doc = fleet() as { sources: Record<string, unknown> };
    doc.sources.fleet = { query: { tag: 'no-equals-sign', subscriptions: ['nope'] } };
    doc.sources.other = { resourceid: 'x' };
    expect(problems(doc)).toEqual(
      expect.arrayContaining([
        'sources.fleet.query.tag: must be "name=value" (no quotes or backslashes)',
        'sources.fleet.query.subscriptions[0]: must be a subscription ID (a GUID)',
        'sources.other: needs "resourceId" (one APIM service) or "query" (a fleet found by tag); did you mean "resourceId" instead of "resourceid"?',
      ]),
    );
  });

  it('refuses a fleet target that would write one resource for every service', () => {
    const doc = fleet();
    doc.targets[0]!.recordName = 'api.contoso.com';
    expect(problems(doc)).toEqual([
      'targets[0]: every service of fleet fleet would write the same zone zone1: DNS name api.contoso.com; put {service} in the key that names it (e.g. "recordName": "{service}.api.contoso.com")',
    ]);
  });

  it('refuses {service} in a target of a single service', () => {
    const doc = valid();
    (doc.targets[0] as Record<string, unknown>).recordName = '{service}.contoso.com';
    expect(problems(doc)).toEqual([
      'targets[0]: {service} is replaced only in targets of a fleet source; prod is one service',
    ]);
  });
});

describe('target examples', () => {
  it.each(Object.entries(TARGET_EXAMPLES))(
    'the %s example is valid and shown in the JSON Schema',
    (type, example) => {
      const config = parseConfig({ sources: { prod: { resourceId: APIM } }, targets: [example] });
      expect(config.targets[0]!.type).toBe(type);
      expect(JSON.stringify(configJsonSchema())).toContain(JSON.stringify(example));
    },
  );
});
