import { AggregateAuthenticationError, CredentialUnavailableError } from '@azure/identity';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { stderrProgress } from '../../cli/progress';
import { errorLines } from '../../cli/render';
import type { RunReport } from '../../lib/engine/report';
import { displayAddresses } from '../../lib/net/display';
import { FileRunLock } from '../../lib/state/fileLock';
import { lockBlobOf, parseStateLocation } from '../../lib/wiring/cliState';
import { AzureSignInError, explained, explainSignIn, SIGN_IN_FIX } from '../../lib/wiring/identity';
import { cloudflareProgressFetch, type ProgressReporter } from '../../lib/wiring/progress';

/** The pieces of the CLI's bad-day behaviour that need no emulator (docs/cli.md). */

const chain = () =>
  new AggregateAuthenticationError(
    [
      new CredentialUnavailableError(
        'EnvironmentCredential is unavailable. No underlying credential could be used. To troubleshoot, visit https://aka.ms/azsdk/js/identity/environmentcredential/troubleshoot.',
      ),
      new CredentialUnavailableError(
        'ManagedIdentityCredential: Network unreachable. Message: network_error: See https://aka.ms/msal.js.errors#network_error for details',
      ),
      new CredentialUnavailableError("ERROR: Please run 'az login' to setup account."),
    ],
    'ChainedTokenCredential authentication failed.',
  );

describe('a failed Azure sign-in', () => {
  test('is explained in one line: the credential that was set up and failed, not the whole chain', () => {
    expect(explainSignIn(chain())).toBe(
      "no Azure credential worked (DefaultAzureCredential): ERROR: Please run 'az login' to setup account.",
    );
  });

  test('is remembered for a moment, so each client does not try the chain again', async () => {
    let calls = 0;
    const credential = explained({
      getToken: async () => {
        calls++;
        throw chain();
      },
    });
    await expect(credential.getToken('scope')).rejects.toBeInstanceOf(AzureSignInError);
    await expect(credential.getToken('scope')).rejects.toThrow(/Please run 'az login'/);
    expect(calls).toBe(1);
  });

  test('is shown once with its fix, however many sources and targets it stopped', () => {
    const signIn = explainSignIn(chain());
    const report = {
      error: undefined,
      sources: [
        {
          name: 'prod',
          status: 'unavailable',
          error: signIn,
          block: { reason: 'SourceUnavailable', detail: `cannot read: ${signIn}` },
        },
      ],
      targets: [
        { name: 'nsg', status: 'failed', error: `cannot read network security group n: ${signIn}` },
        { name: 'group', status: 'failed', error: `cannot read IP group g: ${signIn}` },
        { name: 'dns', status: 'failed', error: 'HTTP 403: the token lacks a permission' },
      ],
    } as unknown as RunReport;
    expect(errorLines(report)).toEqual([
      `error: ${signIn} — ${SIGN_IN_FIX} (it stopped source prod, target nsg, target group)`,
      'error: target dns: HTTP 403: the token lacks a permission',
    ]);
  });
});

describe('progress on stderr', () => {
  test('says nothing for a short wait, then every so often with how long it has been', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = stderrProgress((l) => lines.push(l), { now: () => now });
    progress.waiting('op', 'waiting for Azure to finish writing x');
    now = 1_000;
    progress.waiting('op', 'waiting for Azure to finish writing x');
    expect(lines).toEqual([]);
    now = 2_500;
    progress.waiting('op', 'waiting for Azure to finish writing x');
    now = 5_000;
    progress.waiting('op', 'waiting for Azure to finish writing x');
    now = 12_600;
    progress.waiting('op', 'waiting for Azure to finish writing x');
    expect(lines).toEqual([
      '… waiting for Azure to finish writing x (3 s so far)',
      '… waiting for Azure to finish writing x (13 s so far)',
    ]);
    // A long Retry-After is said at once.
    progress.waiting('retry', 'Azure answered 429 to GET y: waiting 30 s (Retry-After) before trying again');
    expect(lines.at(-1)).toBe(
      '… Azure answered 429 to GET y: waiting 30 s (Retry-After) before trying again',
    );
  });

  test('follows a Cloudflare IP-list bulk operation from its start to its end', async () => {
    const events: string[] = [];
    const reporter: ProgressReporter = {
      waiting: (key, message) => events.push(`${key} ${message}`),
      done: (key) => events.push(`done ${key}`),
    };
    const answers = [
      { result: { operation_id: 'op1' } },
      { result: { id: 'op1', status: 'pending' } },
      { result: { id: 'op1', status: 'completed' } },
    ];
    const inner = (async () =>
      new Response(JSON.stringify(answers.shift()), {
        headers: { 'content-type': 'application/json' },
      })) as typeof fetch;
    const fetcher = cloudflareProgressFetch(inner, reporter);
    const base = 'https://api.cloudflare.com/client/v4/accounts/a1';
    await fetcher(`${base}/rules/lists/list9/items`, { method: 'POST' });
    await fetcher(`${base}/rules/lists/bulk_operations/op1`, { method: 'GET' });
    const last = await fetcher(`${base}/rules/lists/bulk_operations/op1`, { method: 'GET' });
    expect(await last.json()).toEqual({ result: { id: 'op1', status: 'completed' } });
    expect(events).toEqual([
      'bulk:op1 waiting for Cloudflare to finish a bulk operation on IP list list9',
      'bulk:op1 waiting for Cloudflare to finish a bulk operation on IP list list9',
      'done bulk:op1',
    ]);
  });
});

describe('--state', () => {
  test('a path is a file; the app blob URL (or Azurite’s) is a blob beside its run.lock', () => {
    expect(parseStateLocation('s/state.json', '/work')).toEqual({ kind: 'file', path: '/work/s/state.json' });
    expect(
      parseStateLocation('https://stcontoso.blob.core.windows.net/apim-ip-reconciler/state.json', '/w'),
    ).toMatchObject({
      kind: 'blob',
      account: 'stcontoso',
      container: 'apim-ip-reconciler',
      blob: 'state.json',
      serviceUrl: 'https://stcontoso.blob.core.windows.net',
    });
    expect(parseStateLocation('http://127.0.0.1:10000/devstoreaccount1/c1x/a/b.json', '/w')).toMatchObject({
      account: 'devstoreaccount1',
      container: 'c1x',
      blob: 'a/b.json',
      serviceUrl: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    expect(lockBlobOf('state.json')).toBe('run.lock');
    expect(lockBlobOf('prod/state.json')).toBe('prod/run.lock');
    expect(() => parseStateLocation('http://stcontoso.blob.core.windows.net/c1x/s.json', '/w')).toThrow(
      /http:\/\/ is not accepted/,
    );
    expect(() => parseStateLocation('https://stcontoso.blob.core.windows.net/c1x', '/w')).toThrow(
      /names no blob/,
    );
  });

  test('a state file has a lock file: held while its process lives, taken over once it is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-lock-'));
    try {
      // In a folder that does not exist yet, as .apim-ip-reconciler/ on a first run.
      const state = join(dir, '.apim-ip-reconciler', 'state.json');
      const first = new FileRunLock(state);
      const holder = { runId: 'a', trigger: 'cli' as const, startedAt: '2026-11-27T09:00:00Z' };
      const taken = await first.acquire(holder);
      expect(taken.acquired).toBe(true);
      expect(await new FileRunLock(state).acquire({ ...holder, runId: 'b' })).toEqual({
        acquired: false,
        heldBy: holder,
      });
      if (taken.acquired) await taken.release();
      const again = await new FileRunLock(state).acquire({ ...holder, runId: 'c' });
      expect(again.acquired).toBe(true);
      if (again.acquired) await again.release();
      // A lock left by a process that no longer exists on this machine.
      writeFileSync(
        `${state}.lock`,
        JSON.stringify({
          ...holder,
          runId: 'dead',
          pid: 2 ** 22 + 12345,
          host: hostname(),
        }),
      );
      expect((await new FileRunLock(state).acquire({ ...holder, runId: 'd' })).acquired).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('addresses are shown one way: no /32 or /128 on a single address, IPv6 compressed', () => {
  expect(displayAddresses('20.1.1.1/32, 20.2.2.0/28 → 2001:DB8:0:0::1/128')).toBe(
    '20.1.1.1, 20.2.2.0/28 → 2001:db8::1',
  );
  expect(displayAddresses('api.contoso.com A 20.1.1.1 at 2026-11-27T09:00:00Z v1.2.3')).toBe(
    'api.contoso.com A 20.1.1.1 at 2026-11-27T09:00:00Z v1.2.3',
  );
});
