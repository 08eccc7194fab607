import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmEmulator } from './arm';
import { CloudflareEmulator } from './cloudflare';
import type { TlsIdentity } from './emulator';
import { allowApimRule, ARM_TOKEN, CLOUDFLARE_TOKEN, runningApim, SUBSCRIPTION, type World } from './story';

/**
 * A fleet on the emulators, for the benchmark (`bench/`) and the request-count floors (tests/e2e/floors.test.ts):
 * N APIM services, each with the three targets the field uses most — an A record in Cloudflare, an NSG rule and
 * an IP Group — seeded as a hand-made setup the reconciler adopts (`adopt: true`). DNS records share one zone
 * (`contoso.com`) or each have their own (`svc<i>.net`). Like story.ts it knows the emulators, not the reconciler.
 */

export type ZoneLayout = 'shared' | 'per-source';

export interface FleetOptions {
  /** How many APIM services (sources); each has three targets. */
  sources: number;
  zones: ZoneLayout;
  /** Added to every answer of both emulators. */
  latencyMs?: number;
  /** Retry-After of the ARM emulator's long-running operations (default 0). */
  retryAfterSeconds?: number;
  /** InProgress answers before an operation ends (ARM emulator default 1). */
  lroPolls?: number;
}

export interface FleetWorld extends World {
  options: FleetOptions;
  /** Every DNS zone the fleet uses (one when shared). */
  zoneIds: string[];
  /** Every APIM service moves to another IP, as after a suspension (call it again for yet another IP). */
  drift(): void;
  /** The IP service `i` has now. */
  ipOf(i: number): string;
}

const RG_APIM = 'rg-apim';
const RG_BACKEND = 'rg-backend';
const RG_FIREWALL = 'rg-firewall';

export const fleetApimId = (i: number) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG_APIM}/providers/Microsoft.ApiManagement/service/svc${i}`;
export const fleetNsgId = (i: number) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG_BACKEND}/providers/Microsoft.Network/networkSecurityGroups/nsg-svc${i}`;
export const fleetRuleId = (i: number) => `${fleetNsgId(i)}/securityRules/allow-apim`;
export const fleetIpGroupId = (i: number) =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG_FIREWALL}/providers/Microsoft.Network/ipGroups/ipg-svc${i}`;

/** A Cloudflare zone id (32 hex characters) derived from a name. */
const zoneIdOf = (name: string) => createHash('md5').update(name).digest('hex');

/** Public IPs (20.0.0.0/8 is Microsoft's), different for every service and every generation. */
function ipFor(generation: number, i: number): string {
  return `20.${10 + generation}.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

export async function startFleet(tls: TlsIdentity, options: FleetOptions): Promise<FleetWorld> {
  const arm = await ArmEmulator.start({
    tls,
    token: ARM_TOKEN,
    latencyMs: options.latencyMs,
    retryAfterSeconds: options.retryAfterSeconds,
    lroPolls: options.lroPolls,
  });
  const cloudflare = await CloudflareEmulator.start({ latencyMs: options.latencyMs });
  const n = options.sources;
  let generation = 0;

  const zones =
    options.zones === 'shared'
      ? [{ name: 'contoso.com', id: zoneIdOf('contoso.com') }]
      : Array.from({ length: n }, (_, i) => ({ name: `svc${i}.net`, id: zoneIdOf(`svc${i}.net`) }));
  const zoneOf = (i: number) => (options.zones === 'shared' ? zones[0]! : zones[i]!);
  const recordName = (i: number) =>
    options.zones === 'shared' ? `svc${i}.contoso.com` : `api.${zoneOf(i).name}`;
  // Pro: a shared zone holds up to 3,500 records and a batch 3,500 operations (Free: 200).
  for (const zone of zones) cloudflare.addZone({ id: zone.id, name: zone.name, plan: 'pro' });
  cloudflare.addToken(CLOUDFLARE_TOKEN, {
    zones: Object.fromEntries(zones.map((z) => [z.id, 'edit' as const])),
  });

  const sources: Record<string, unknown> = {};
  const targets: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    const ip = ipFor(generation, i);
    arm.setApim(fleetApimId(i), runningApim(ip, `svc${i}`));
    arm.setNsg(fleetNsgId(i), { location: 'westeurope', rules: { 'allow-apim': allowApimRule(ip) } });
    arm.setIpGroup(fleetIpGroupId(i), { location: 'westeurope', ipAddresses: [`${ip}/32`] });
    cloudflare.addRecord(zoneOf(i).id, {
      type: 'A',
      name: recordName(i),
      content: ip,
      proxied: true,
      ttl: 1,
    });

    const source = `svc${i}`;
    sources[source] = { resourceId: fleetApimId(i) };
    targets.push(
      {
        name: `dns-svc${i}`,
        type: 'cloudflare.dnsRecords',
        source,
        zoneId: zoneOf(i).id,
        recordName: recordName(i),
        adopt: true,
      },
      { name: `nsg-svc${i}`, type: 'azure.nsgRule', source, ruleId: fleetRuleId(i), adopt: true },
      { name: `ipg-svc${i}`, type: 'azure.ipGroup', source, resourceId: fleetIpGroupId(i), adopt: true },
    );
  }

  const dir = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-fleet-'));
  const configFile = join(dir, 'fleet.config.json');
  writeFileSync(
    configFile,
    `${JSON.stringify(
      {
        sources,
        targets,
        azure: { resourceManagerEndpoint: arm.url },
        cloudflare: { baseUrl: cloudflare.baseUrl },
      },
      null,
      2,
    )}\n`,
  );

  return {
    arm,
    cloudflare,
    dir,
    configFile,
    stateFile: join(dir, 'state.json'),
    env: { RECONCILER_AZURE_TOKEN: ARM_TOKEN, CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN },
    options,
    zoneIds: zones.map((z) => z.id),
    drift() {
      generation++;
      for (let i = 0; i < n; i++)
        arm.patchApim(fleetApimId(i), { publicIPAddresses: [ipFor(generation, i)] });
    },
    ipOf: (i) => ipFor(generation, i),
    async close() {
      await Promise.all([arm.close(), cloudflare.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
