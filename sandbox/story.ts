import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArmEmulator, type ApimSeed, type ArmEmulatorOptions, type SecurityRuleSeed } from './arm';
import { CloudflareEmulator } from './cloudflare';
import type { TlsIdentity } from './emulator';

/**
 * The outage the reconciler exists for, as a scripted story over the emulators: APIM `contoso` runs at 20.1.1.1,
 * its subscription is suspended, and it comes back at 20.2.2.2. Used by `npm run demo` and tests/e2e.
 * It knows the emulators, not the reconciler: the caller runs the CLI for each step.
 */

export const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000c0';
export const APIM_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-apim/providers/Microsoft.ApiManagement/service/contoso`;
export const NSG_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-backend/providers/Microsoft.Network/networkSecurityGroups/backend-nsg`;
export const RULE_ID = `${NSG_ID}/securityRules/allow-apim`;
export const OTHER_RULE_ID = `${NSG_ID}/securityRules/allow-office-ssh`;
export const IP_GROUP_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-firewall/providers/Microsoft.Network/ipGroups/apim-egress`;
export const ZONE_ID = '023e105f4ecef8ad9ca31a8372d0c353';
export const RECORD_NAME = 'api.contoso.com';
export const ARM_TOKEN = 'sandbox-arm-token';
export const CLOUDFLARE_TOKEN = 'sandbox-cloudflare-token-with-zone-dns-edit-0';
export const OLD_IP = '20.1.1.1';
export const NEW_IP = '20.2.2.2';
export const RETIRE_AFTER_MS = 3_600_000;

export interface World {
  arm: ArmEmulator;
  cloudflare: CloudflareEmulator;
  dir: string;
  configFile: string;
  stateFile: string;
  /** The environment the reconciler needs to reach the emulators (tokens, endpoints). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export function storyConfig(arm: ArmEmulator, cloudflare: CloudflareEmulator): Record<string, unknown> {
  return {
    sources: { prod: { resourceId: APIM_ID } },
    targets: [
      {
        name: 'api-dns',
        type: 'cloudflare.dnsRecords',
        source: 'prod',
        addresses: 'inbound',
        zoneId: ZONE_ID,
        recordName: RECORD_NAME,
        adopt: true,
      },
      {
        name: 'backend-nsg',
        type: 'azure.nsgRule',
        source: 'prod',
        addresses: 'outbound',
        ruleId: RULE_ID,
        adopt: true,
        create: { priority: 200, direction: 'Inbound', protocol: 'Tcp', destinationPortRanges: ['443'] },
      },
      {
        name: 'firewall-egress',
        type: 'azure.ipGroup',
        source: 'prod',
        resourceId: IP_GROUP_ID,
        adopt: true,
      },
    ],
    safety: { retireAfter: 'PT1H', maxRemovalsPerTarget: 4, minPrefixLength: { ipv4: 28, ipv6: 124 } },
    azure: { resourceManagerEndpoint: arm.url },
    cloudflare: { baseUrl: cloudflare.baseUrl },
  };
}

/** A Premium APIM service in West Europe, running at `ip`, its gateway at https://<name>.azure-api.net. */
export function runningApim(ip: string, name: string): ApimSeed {
  return {
    location: 'West Europe',
    sku: { name: 'Premium', capacity: 1 },
    provisioningState: 'Succeeded',
    publicIPAddresses: [ip],
    gatewayUrl: `https://${name}.azure-api.net`,
    platformVersion: 'stv2',
  };
}

/** An inbound rule letting `ip` reach the backend on 443, as an operator makes it by hand. */
export function allowApimRule(ip: string): SecurityRuleSeed {
  return {
    protocol: 'Tcp',
    access: 'Allow',
    priority: 200,
    direction: 'Inbound',
    sourcePortRange: '*',
    destinationPortRange: '443',
    sourceAddressPrefixes: [ip],
    destinationAddressPrefix: '*',
  };
}

/** Starts the emulators, seeded with the state before the outage, and writes the config to a temp folder. */
export async function startWorld(
  tls: TlsIdentity,
  armOptions: Partial<ArmEmulatorOptions> = {},
): Promise<World> {
  const arm = await ArmEmulator.start({ ...armOptions, tls, token: ARM_TOKEN });
  const cloudflare = await CloudflareEmulator.start();

  arm.setApim(APIM_ID, runningApim(OLD_IP, 'contoso'));
  arm.setNsg(NSG_ID, {
    location: 'westeurope',
    rules: {
      'allow-apim': { ...allowApimRule(OLD_IP), description: 'APIM gateway to the backend (made by hand)' },
      'allow-office-ssh': {
        protocol: 'Tcp',
        access: 'Allow',
        priority: 300,
        direction: 'Inbound',
        sourcePortRange: '*',
        destinationPortRange: '22',
        sourceAddressPrefix: '198.51.100.10',
        destinationAddressPrefix: '*',
      },
    },
  });
  arm.setIpGroup(IP_GROUP_ID, { location: 'westeurope', ipAddresses: [`${OLD_IP}/32`] });

  cloudflare.addZone({ id: ZONE_ID, name: 'contoso.com', plan: 'free' });
  cloudflare.addToken(CLOUDFLARE_TOKEN, { zones: { [ZONE_ID]: 'edit' } });
  cloudflare.addRecord(ZONE_ID, { type: 'A', name: RECORD_NAME, content: OLD_IP, proxied: true, ttl: 1 });
  cloudflare.addRecord(ZONE_ID, {
    type: 'TXT',
    name: RECORD_NAME,
    content: '"ownership-check=contoso"',
    ttl: 3600,
  });

  const dir = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-demo-'));
  const configFile = join(dir, 'demo.config.json');
  writeFileSync(configFile, `${JSON.stringify(storyConfig(arm, cloudflare), null, 2)}\n`);
  return {
    arm,
    cloudflare,
    dir,
    configFile,
    stateFile: join(dir, 'state.json'),
    env: { RECONCILER_AZURE_TOKEN: ARM_TOKEN, CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN },
    async close() {
      await Promise.all([arm.close(), cloudflare.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes seen by both emulators (anything but GET). */
export function writes(world: World): number {
  return world.arm.writes() + world.cloudflare.writes();
}

export function resetCounts(world: World): void {
  world.arm.resetCounts();
  world.cloudflare.resetCounts();
}

/** The subscription is suspended: the service stops and publishes no IPs. */
export function suspend(world: World): void {
  world.arm.patchApim(APIM_ID, { provisioningState: 'Stopped', publicIPAddresses: undefined });
}

/** The subscription is reinstated and the gateway comes back with another IP. */
export function reactivate(world: World, ip = NEW_IP): void {
  world.arm.patchApim(APIM_ID, { provisioningState: 'Succeeded', publicIPAddresses: [ip] });
}

export interface StoryStep {
  title: string;
  narrative: string;
  /** Changes the world before the reconciler runs. */
  before?: (world: World) => void;
  /** How far the reconciler's clock moves before this step. */
  advanceMs?: number;
  /** The CLI commands this step runs, in order, with the exit code each must give. */
  commands: Array<{ command: 'plan' | 'apply'; exitCode: number }>;
  /** The emulators must count no write during this step. */
  noWrites?: boolean;
}

export const STORY: readonly StoryStep[] = [
  {
    title: 'Before the outage: the IPs are already right',
    narrative:
      'APIM contoso runs at 20.1.1.1. Cloudflare has a hand-made proxied A record for api.contoso.com beside a TXT record; the backend NSG has a hand-made rule allow-apim beside an unrelated rule; a firewall IP group holds 20.1.1.1. The reconciler only adopts: it writes its marks, nothing else.',
    commands: [
      { command: 'plan', exitCode: 2 },
      { command: 'apply', exitCode: 0 },
    ],
  },
  {
    title: 'A second run',
    narrative: 'Nothing changed, so nothing is written.',
    commands: [{ command: 'apply', exitCode: 0 }],
    noWrites: true,
  },
  {
    title: 'The subscription is suspended',
    narrative:
      'The bill was not paid: APIM is Stopped and publishes no IPs. The reconciler holds everything as it is: a stopped service is never "no IPs".',
    before: suspend,
    commands: [{ command: 'apply', exitCode: 3 }],
    noWrites: true,
  },
  {
    title: 'Reactivated at a new IP',
    narrative:
      'The subscription is reinstated and the gateway comes back at 20.2.2.2. The allowlists gain 20.2.2.2 first, then the A record is updated in place (still proxied, the TXT untouched). 20.1.1.1 stays in the allowlists for retireAfter, for traffic still in flight.',
    before: (world) => reactivate(world),
    commands: [
      { command: 'plan', exitCode: 2 },
      { command: 'apply', exitCode: 0 },
    ],
  },
  {
    title: 'One hour later',
    narrative: '20.1.1.1 has been gone from APIM for retireAfter (PT1H): it leaves the allowlists.',
    advanceMs: RETIRE_AFTER_MS,
    commands: [{ command: 'apply', exitCode: 0 }],
  },
  {
    title: 'And again',
    narrative: 'Everything is in sync: the emulators count zero writes.',
    advanceMs: 5 * 60_000,
    commands: [{ command: 'apply', exitCode: 0 }],
    noWrites: true,
  },
];
