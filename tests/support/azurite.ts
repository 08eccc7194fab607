import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import type { RunCertificate } from '../../sandbox/tls';

/** Azurite's well-known development account (the same one `UseDevelopmentStorage=true` means). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteOptions {
  /**
   * Serve HTTPS with this certificate and accept OAuth bearer tokens (`--oauth basic`), which Azurite
   * accepts only over HTTPS. The test process must trust the certificate (NODE_EXTRA_CA_CERTS).
   */
  tls?: RunCertificate;
}

export interface Azurite {
  /** A shared-key connection string for the development account. */
  connectionString: string;
  /** The account's blob endpoint, e.g. http://127.0.0.1:41234/devstoreaccount1. */
  blobEndpoint: string;
  stop(): Promise<void>;
}

const READY = /successfully listens on (https?:\/\/127\.0\.0\.1:(\d+))/;
const START_TIMEOUT_MS = 20_000;

/**
 * Starts the real Azurite blob server on a free loopback port, with its data in a temporary folder.
 * `--skipApiVersionCheck`: @azure/storage-blob 12.32 sends x-ms-version 2026-04-06, newer than the
 * 2025-11-05 Azurite 3.35 knows, and Azurite refuses unknown versions otherwise. `--loose` is not needed.
 */
export async function startAzurite(options: AzuriteOptions = {}): Promise<Azurite> {
  const location = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-azurite-'));
  const child = spawn(process.execPath, [azuriteBlobMain(), ...azuriteArgs(location, options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A test runner that dies without afterAll must not leave Azurite running.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const cleanUp = async () => {
    process.removeListener('exit', killOnExit);
    await terminate(child);
    rmSync(location, { recursive: true, force: true });
  };
  let origin: string;
  try {
    origin = await waitForListening(child);
  } catch (error) {
    await cleanUp();
    throw error;
  }
  const blobEndpoint = `${origin}/${DEV_ACCOUNT}`;
  const protocol = options.tls ? 'https' : 'http';
  return {
    connectionString: `DefaultEndpointsProtocol=${protocol};AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    blobEndpoint,
    stop: cleanUp,
  };
}

function azuriteBlobMain(): string {
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
}

function azuriteArgs(location: string, options: AzuriteOptions): string[] {
  const args = [
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    '0',
    '--location',
    location,
    '--disableTelemetry',
    '--silent',
    '--skipApiVersionCheck',
  ];
  if (options.tls)
    args.push('--cert', options.tls.certFile, '--key', options.tls.keyFile, '--oauth', 'basic');
  return args;
}

function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const fail = (message: string) => {
      clearTimeout(timer);
      reject(new Error(`${message}\n${output.trim()}`));
    };
    const timer = setTimeout(
      () => fail(`Azurite did not start within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = READY.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve(match[1]);
      }
    };
    const onExit = (code: number | null) => fail(`Azurite exited (code ${code}) before listening`);
    // Keep draining both pipes for Azurite's whole life so it never blocks on a full pipe.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', onExit);
    child.once('error', (error) => fail(`Azurite could not be started: ${error.message}`));
  });
}

/** SIGTERM lets Azurite close its server; SIGKILL if it has not exited soon after. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface TestTokenOptions {
  /** Default https://storage.azure.com, the audience of tokens for the `https://storage.azure.com/.default` scope. */
  audience?: string;
  /** Azurite accepts only the Entra ID (v1) issuers: https://sts.windows.net/<tenant>/ and its sovereign-cloud twins. */
  issuer?: string;
  lifetimeSeconds?: number;
}

/**
 * A JWT shaped like an Entra ID access token for Storage. Azurite's `--oauth basic` decodes the token and
 * checks nbf/iat/exp, the issuer prefix and the audience; it does not verify the signature (it has no keys
 * to verify with), so the token is signed with a throwaway HMAC key only to be well-formed.
 */
export function storageBearerToken(options: TestTokenOptions = {}): AccessToken {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = options.lifetimeSeconds ?? 3600;
  const tenant = randomUUID();
  const claims = {
    aud: options.audience ?? 'https://storage.azure.com',
    iss: options.issuer ?? `https://sts.windows.net/${tenant}/`,
    iat: now - 60,
    nbf: now - 60,
    exp: now + lifetime,
    oid: randomUUID(),
    tid: tenant,
    sub: 'apim-ip-reconciler-tests',
    ver: '1.0',
  };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  const signature = createHmac('sha256', randomBytes(32)).update(unsigned).digest('base64url');
  return { token: `${unsigned}.${signature}`, expiresOnTimestamp: (now + lifetime) * 1000 };
}

/** A TokenCredential that hands out one token and remembers which scopes it was asked for. */
export class StaticTokenCredential implements TokenCredential {
  readonly scopes: string[] = [];

  constructor(private readonly accessToken: AccessToken) {}

  async getToken(scopes: string | string[]): Promise<AccessToken> {
    this.scopes.push(...(Array.isArray(scopes) ? scopes : [scopes]));
    return this.accessToken;
  }
}
