import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../lib/engine/clock';
import {
  APIM_ID,
  IP_GROUP_ID,
  RULE_ID,
  ZONE_ID,
  reactivate,
  resetCounts,
  writes,
  type World,
} from '../../sandbox/story';
import { runCli, storyWorld } from '../support/world';

/**
 * Bad input: each problem gives one clear line naming what is wrong and what to do, and a non-zero exit. A problem
 * with the configuration, the settings or the source writes nothing; a target that cannot be read writes nothing
 * itself, and its source's allowlists only gain the new address (a half-seen world, docs/design/product.md §5).
 */

let world: World;
const clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));

beforeEach(async () => {
  world = await storyWorld();
  // The source has moved, so every target would be written if nothing stopped it.
  reactivate(world, '20.2.2.2');
  resetCounts(world);
});
afterEach(() => world.close());

/** The story's config as plain JSON, for tests to break on purpose. */
interface StoryConfig {
  sources: { prod: { resourceId: string } };
  targets: Array<Record<string, string>>;
  azure: { resourceManagerEndpoint: string };
  cloudflare: { baseUrl: string };
}

function withConfig(change: (config: StoryConfig) => void): string {
  const config = JSON.parse(readFileSync(world.configFile, 'utf8')) as StoryConfig;
  change(config);
  const file = join(world.dir, `variant-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

async function expectError(file: string, line: RegExp, env: Record<string, string | undefined> = {}) {
  for (const command of ['plan', 'apply'] as const) {
    const result = await runCli(command, world, clock, { config: file, env });
    expect(result.exitCode).toBe(1);
    expect(result.output.split('\n')).toEqual(expect.arrayContaining([expect.stringMatching(line)]));
  }
}

async function expectRefused(file: string, line: RegExp, env: Record<string, string | undefined> = {}) {
  await expectError(file, line, env);
  expect(writes(world)).toBe(0);
}

/** An unreadable target wrote nothing; the allowlists of its source gained the new address and lost nothing. */
function expectOnlyAllowlistAdditions(unreadable: 'dns' | 'nsg') {
  // DNS follows the source unless it is the unreadable target itself (the old inbound IP is dead).
  expect(world.cloudflare.records(ZONE_ID, { type: 'A' }).map((r) => r.content)).toEqual([
    unreadable === 'dns' ? '20.1.1.1' : '20.2.2.2',
  ]);
  expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
    properties: { ipAddresses: ['20.1.1.1/32', '20.2.2.2/32'] },
  });
  if (unreadable === 'dns') {
    expect(world.arm.securityRule(RULE_ID)).toMatchObject({
      properties: { sourceAddressPrefixes: ['20.1.1.1', '20.2.2.2/32'] },
    });
  }
}

test('an invalid config names the JSON path, runs nothing', async () => {
  const file = withConfig((c) => delete c.targets[0]!.zoneId);
  await expectRefused(file, /^\s+targets\[0\]\.zoneId: required$/);
  expect(world.arm.requests).toEqual([]);
});

test('an unknown target type names itself and the known ones', async () => {
  const file = withConfig((c) => (c.targets[1]!.type = 'azure.nsgRules'));
  await expectRefused(
    file,
    /targets\[1\]\.type: unknown target type "azure\.nsgRules"; one of .*azure\.nsgRule/,
  );
});

test('an unreachable Resource Manager endpoint holds the source (never "no IPs")', async () => {
  const file = withConfig((c) => (c.azure.resourceManagerEndpoint = 'https://127.0.0.1:1'));
  await expectRefused(
    file,
    /^error: source prod: cannot read .*unreachable \(ECONNREFUSED\).* — check azure\.resourceManagerEndpoint/,
  );
});

test('an unreachable Cloudflare endpoint fails the DNS target; the allowlists only gain the new address', async () => {
  const file = withConfig((c) => (c.cloudflare.baseUrl = 'http://127.0.0.1:1/client/v4'));
  await expectError(
    file,
    /^error: target api-dns: cannot list DNS records .*unreachable.* — check cloudflare\.baseUrl/,
  );
  expectOnlyAllowlistAdditions('dns');
});

test('a Cloudflare token without access to the zone: 403, nothing written to DNS, allowlists only gain', async () => {
  const token = 'token-for-some-other-zone-only-000000000000';
  world.cloudflare.addToken(token, { zones: {} });
  await expectError(
    world.configFile,
    /^error: target api-dns: .*HTTP 403 10000: Authentication error — the token lacks a permission .*DNS → Edit/,
    {
      CLOUDFLARE_API_TOKEN: token,
    },
  );
  expectOnlyAllowlistAdditions('dns');
});

test('a read-only Cloudflare token is found at the write: allowlists only gained the new address', async () => {
  const token = 'token-with-dns-read-only-00000000000000000';
  world.cloudflare.addToken(token, { zones: { [ZONE_ID]: 'read' } });
  const result = await runCli('apply', world, clock, { env: { CLOUDFLARE_API_TOKEN: token } });
  expect(result.exitCode).toBe(1);
  expect(result.output).toMatch(/error: target api-dns: batch for zone .*HTTP 403 10000.*DNS → Edit/);
  expect(world.cloudflare.records(ZONE_ID, { type: 'A' }).map((r) => r.content)).toEqual(['20.1.1.1']);
  // make before break: the allowlists only gained the new address, nothing was removed
  expect(world.arm.ipGroup(IP_GROUP_ID)).toMatchObject({
    properties: { ipAddresses: ['20.1.1.1/32', '20.2.2.2/32'] },
  });
  expect(world.arm.securityRule(RULE_ID)).toMatchObject({
    properties: { sourceAddressPrefixes: ['20.1.1.1', '20.2.2.2/32'] },
  });
});

test('a 404 for the APIM service is SourceUnavailable with the ARM error', async () => {
  const file = withConfig((c) => (c.sources.prod.resourceId = APIM_ID.replace('contoso', 'fabrikam')));
  await expectRefused(
    file,
    /^error: source prod: cannot read .*fabrikam: HTTP 404 ResourceNotFound: .* — check the ID in the configuration/,
  );
});

test('a 404 for the zone names the zone', async () => {
  const unknownZone = 'ffffffffffffffffffffffffffffffff';
  world.cloudflare.addToken('token-that-covers-the-unknown-zone-00000000', {
    zones: { [unknownZone]: 'edit' },
  });
  const file = withConfig((c) => (c.targets[0]!.zoneId = unknownZone));
  await expectError(
    file,
    new RegExp(
      `^error: target api-dns: cannot list DNS records api\\.contoso\\.com in zone ${unknownZone}: HTTP 400 7003: .* — check the zone or account ID`,
    ),
    {
      CLOUDFLARE_API_TOKEN: 'token-that-covers-the-unknown-zone-00000000',
    },
  );
  expectOnlyAllowlistAdditions('dns');
});

test('a 404 for the NSG names the NSG and the key to fix', async () => {
  const file = withConfig(
    (c) => (c.targets[1]!.ruleId = c.targets[1]!.ruleId!.replace('backend-nsg', 'backend-nsg-typo')),
  );
  await expectError(
    file,
    /^error: target backend-nsg: network security group backend-nsg-typo not found in resource group rg-backend — check ruleId of target backend-nsg$/,
  );
  expectOnlyAllowlistAdditions('nsg');
});

test('settings: a static Azure token is refused for a non-loopback endpoint; a missing Cloudflare token is named', async () => {
  const remote = withConfig((c) => (c.azure.resourceManagerEndpoint = 'https://management.azure.com'));
  await expectRefused(
    remote,
    /^error: RECONCILER_AZURE_TOKEN is only accepted for a loopback Resource Manager endpoint/,
  );
  await expectRefused(
    world.configFile,
    /^error: CLOUDFLARE_API_TOKEN is not set; targets api-dns need a Cloudflare API token/,
    {
      CLOUDFLARE_API_TOKEN: undefined,
    },
  );
});
