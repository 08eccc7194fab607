import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';
import { DEV_ACCOUNT_KEY } from './azurite';
import { findLeaks, type Captured } from './secretScan';

/**
 * Registered for every test file (jest.config.js, setupFilesAfterEnv): no secret may appear in any log line or
 * event, across the whole suite. It captures, for the test file it runs in:
 *
 *   - console output, every level;
 *   - Functions log lines (InvocationContext.log/trace/debug/info/warn/error);
 *   - every event and exception recorded by a MemoryRecorder (the engine's events in unit and e2e tests);
 *   - every envelope the Application Insights SDK sent to an IngestionEmulator (events, exceptions, traces…);
 *   - the output of the CLI run in-process (tests/support/world.ts runCli);
 *
 * and after the file's tests, fails the file if any of it holds a test secret — the sandbox tokens of
 * sandbox/story.ts, every token an emulator was started with or given, Azurite's account key, every Application
 * Insights connection string an IngestionEmulator made — or anything shaped like a credential (an account key,
 * a SAS signature, a connection string, a JWT, a bearer token). The hooks are installed lazily (jest.mock
 * factories), so a test file that never loads the emulators or the Functions library pays nothing for them.
 *
 * Not covered: output of child processes (the compiled CLI in tests/e2e/cli.test.ts, Azurite), and HTTP bodies.
 */

const captured: Captured[] = [];
/** Secret value → what it is. */
const secrets = new Map<string, string>([
  [DEV_ACCOUNT_KEY, 'Azurite account key (tests/support/azurite.ts)'],
]);
const capture = (channel: string, text: string) => captured.push({ channel, text });
const addSecret = (name: string, value: unknown) => {
  if (typeof value === 'string' && value && !secrets.has(value)) secrets.set(value, name);
};

// The sandbox's fixed tokens, read from its source so that a new or renamed one is covered without a change here.
const story = readFileSync(join(__dirname, '..', '..', 'sandbox', 'story.ts'), 'utf8');
for (const [, name, value] of story.matchAll(/export const (\w*(?:TOKEN|KEY|SECRET)\w*) = '([^']+)'/g)) {
  addSecret(`${name} (sandbox/story.ts)`, value);
}

const PATCHED = Symbol.for('apim-ip-reconciler.noSecrets');
/** Wraps `target[method]` once, to see its arguments before it runs. */
function spy<T extends object>(
  target: T,
  method: string,
  see: (self: unknown, args: unknown[]) => void,
): void {
  const original = (target as Record<string, unknown>)[method] as ((...args: unknown[]) => unknown) & {
    [PATCHED]?: true;
  };
  if (typeof original !== 'function' || original[PATCHED]) return;
  const wrapped = function (this: unknown, ...args: unknown[]) {
    see(this, args);
    return original.apply(this, args);
  } as typeof original;
  wrapped[PATCHED] = true;
  Object.defineProperty(target, method, { value: wrapped, writable: true, configurable: true });
}

for (const level of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
  spy(console, level, (_self, args) => capture(`console.${level}`, format(...args)));
}

jest.mock('@azure/functions', () => {
  const actual = jest.requireActual('@azure/functions');
  for (const level of ['log', 'trace', 'debug', 'info', 'warn', 'error']) {
    spy(actual.InvocationContext.prototype, level, (_self, args) =>
      capture(`context.${level}`, format(...args)),
    );
  }
  return actual;
});

jest.mock('../../lib/telemetry/memory', () => {
  const actual = jest.requireActual('../../lib/telemetry/memory');
  spy(actual.MemoryRecorder.prototype, 'event', (_self, [event]) =>
    capture(`event ${(event as { name: string }).name}`, JSON.stringify(event)),
  );
  spy(actual.MemoryRecorder.prototype, 'exception', (_self, [error, properties]) =>
    capture('exception', `${(error as Error).stack ?? String(error)} ${JSON.stringify(properties)}`),
  );
  return actual;
});

/** Emulators of this file whose envelopes are scanned at the end (and before each clear()). */
const ingestions = new Set<{ envelopes: Array<Record<string, unknown>> }>();
const scanEnvelopes = (emulator: { envelopes: Array<Record<string, unknown>> }) => {
  // iKey routes every envelope to its resource (it is in every one by design, and is not a credential alone).
  for (const { iKey: _iKey, ...envelope } of emulator.envelopes) {
    capture(`ingestion envelope ${String(envelope.name)}`, JSON.stringify(envelope));
  }
};

jest.mock('../../sandbox/ingestion', () => {
  const actual = jest.requireActual('../../sandbox/ingestion');
  const { IngestionEmulator } = actual;
  spy(IngestionEmulator, 'start', (_self, [options]) =>
    addSecret('ingestion token', (options as { token?: string } | undefined)?.token),
  );
  spy(IngestionEmulator.prototype, 'listen', (self) => ingestions.add(self as never));
  spy(IngestionEmulator.prototype, 'clear', (self) => scanEnvelopes(self as never));
  const connectionString = IngestionEmulator.prototype.connectionString;
  IngestionEmulator.prototype.connectionString = function (this: unknown, ...args: unknown[]) {
    const value = connectionString.apply(this, args);
    addSecret('Application Insights connection string', value);
    return value;
  };
  return actual;
});

jest.mock('../../sandbox/arm', () => {
  const actual = jest.requireActual('../../sandbox/arm');
  spy(actual.ArmEmulator, 'start', (_self, [options]) =>
    addSecret('ARM emulator token', (options as { token?: string } | undefined)?.token),
  );
  return actual;
});

jest.mock('../../sandbox/cloudflare', () => {
  const actual = jest.requireActual('../../sandbox/cloudflare');
  spy(actual.CloudflareEmulator.prototype, 'addToken', (_self, [token]) =>
    addSecret('Cloudflare token', token),
  );
  return actual;
});

jest.mock('./world', () => {
  const actual = jest.requireActual('./world');
  const runCli = actual.runCli;
  actual.runCli = async (...args: unknown[]) => {
    const result = await runCli(...args);
    capture('CLI output', result.output);
    return result;
  };
  return actual;
});

afterAll(() => {
  for (const emulator of ingestions) scanEnvelopes(emulator);
  ingestions.clear();
  const leaks = findLeaks(
    captured.splice(0),
    [...secrets].map(([value, name]) => [name, value] as const),
  );
  if (leaks.length > 0) {
    throw new Error(
      `a secret appeared in a log line or an event of this test file:\n${leaks.map((l) => `  - ${l}`).join('\n')}`,
    );
  }
});
