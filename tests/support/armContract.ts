import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { ApiManagementClient } from '@azure/arm-apimanagement';
import { NetworkManagementClient } from '@azure/arm-network';
import {
  ArmEmulator,
  type ApimSeed,
  type ArmEmulatorOptions,
  type SecurityRuleSeed,
} from '../../sandbox/arm';
import { inheritedRunCertificate, type RunCertificate } from '../../sandbox/tls';

/**
 * The harness of the ARM emulator's contract tests (tests/contract/arm/): an emulator per test, reached through the
 * real Azure SDKs, raw HTTPS (exact headers, malformed bodies) or fetch (as a hand-written client calls the APIs no
 * SDK here covers: App Service config and Resource Graph). The tests run under `node scripts/with-sandbox-ca.js`
 * (npm test does), so the SDKs and fetch trust the emulator's certificate.
 */

export const SUB = '3f2a8b1c-0d4e-4f5a-9b6c-7d8e9f0a1b2c';
export const APIM_RG = 'rg-apim';
export const NET_RG = 'rg-net';
export const TOKEN = 'contract-test-token';
export const NETWORK_API = '2026-01-01';
export const APIM_API = '2024-05-01';
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const apimId = (name: string, rg = APIM_RG) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.ApiManagement/service/${name}`;
export const nsgId = (name = 'backend') =>
  `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
export const ruleId = (name: string, nsg = 'backend') => `${nsgId(nsg)}/securityRules/${name}`;
export const ipGroupId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${NET_RG}/providers/Microsoft.Network/ipGroups/${name}`;

/** A running multi-region Premium service. */
export const PREMIUM: ApimSeed = {
  location: 'West Europe',
  sku: { name: 'Premium', capacity: 1 },
  provisioningState: 'Succeeded',
  publicIPAddresses: ['20.1.1.1'],
  outboundPublicIPAddresses: ['20.1.1.1'],
  additionalLocations: [{ location: 'North Europe', publicIPAddresses: ['20.2.2.2'] }],
};

/** The rule the reconciler owns in the `backend` NSG. */
export const ALLOW_APIM: SecurityRuleSeed = {
  description: 'managed-by:apim-ip-reconciler',
  protocol: 'Tcp',
  access: 'Allow',
  priority: 200,
  direction: 'Inbound',
  sourceAddressPrefixes: ['20.1.1.1/32'],
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRanges: ['443'],
};

// ---------------------------------------------------------------------------------------------------------------
// The emulator of the running test

let certificate: RunCertificate | undefined;
let current: ArmEmulator | undefined;

function runCertificate(): RunCertificate {
  certificate ??= inheritedRunCertificate();
  if (!certificate)
    throw new Error('run under `node scripts/with-sandbox-ca.js` so the SDKs and fetch trust the emulator');
  return certificate;
}

/** Starts an emulator (empty: the test file seeds it) that the helpers below talk to. */
export async function startArm(options: Partial<ArmEmulatorOptions> = {}): Promise<ArmEmulator> {
  current = await ArmEmulator.start({ tls: runCertificate(), token: TOKEN, ...options });
  return current;
}

function emulator(): ArmEmulator {
  if (!current) throw new Error('call startArm() first');
  return current;
}

/** Statuses of the requests the emulator answered on `route`, in order. */
export const statuses = (route: string): number[] =>
  emulator()
    .requests.filter((r) => r.route === route)
    .map((r) => r.status);

// ---------------------------------------------------------------------------------------------------------------
// Clients

type Credential = ConstructorParameters<typeof NetworkManagementClient>[0];
const credential = (token = TOKEN): Credential => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }),
});

export const network = (token = TOKEN) =>
  new NetworkManagementClient(credential(token), SUB, { endpoint: emulator().url });

export const apim = (token = TOKEN) =>
  new ApiManagementClient(credential(token), SUB, { endpoint: emulator().url });

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** One HTTPS request with node:https; `target` is a path (api-version appended unless given) or an absolute URL. */
export function raw(
  method: string,
  target: string,
  options: {
    token?: string | null;
    headers?: Record<string, string>;
    /** Sent as JSON. */
    body?: unknown;
    /** Sent verbatim. */
    text?: string;
    apiVersion?: string | null;
  } = {},
): Promise<RawResponse> {
  const url = new URL(target.startsWith('https://') ? target : `${emulator().url}${target}`);
  const apiVersion = options.apiVersion === undefined ? NETWORK_API : options.apiVersion;
  if (apiVersion !== null && !url.searchParams.has('api-version'))
    url.searchParams.set('api-version', apiVersion);
  const headers: Record<string, string> = { ...(options.headers ?? {}) };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  const payload = options.text ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers['Content-Type'] ??= 'application/json';
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: runCertificate().cert }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text ? JSON.parse(text) : undefined,
        });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** PUT of a security rule of the `backend` NSG, raw. */
export const putRule = (name: string, properties: unknown, headers: Record<string, string> = {}) =>
  raw('PUT', ruleId(name), { body: { properties }, headers });

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One HTTPS request with global fetch; `target` is a path (api-version appended unless given) or a URL. */
export async function call(
  method: string,
  target: string,
  options: { body?: unknown; apiVersion?: string | null; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const url = new URL(target.startsWith('https://') ? target : `${emulator().url}${target}`);
  if (options.apiVersion !== null && !url.searchParams.has('api-version')) {
    url.searchParams.set('api-version', options.apiVersion ?? NETWORK_API);
  }
  const headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}`, ...(options.headers ?? {}) };
  if (options.body !== undefined) headers['Content-Type'] ??= 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
