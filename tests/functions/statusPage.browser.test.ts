import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import { BlobServiceClient } from '@azure/storage-blob';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { statusHandler } from '../../functions/reconcileHttp';
import { ManualClock } from '../../lib/engine/clock';
import { BlobRunLock } from '../../lib/state/blobStore';
import { buildFunctionsRuntime, type FunctionsRuntime } from '../../lib/wiring/runtime';
import {
  ARM_TOKEN,
  CLOUDFLARE_TOKEN,
  reactivate,
  storyConfig,
  suspend,
  ZONE_ID,
  type World,
} from '../../sandbox/story';
import { DEV_ACCOUNT_KEY, startAzurite, type Azurite } from '../support/azurite';
import { FAST, storyWorld } from '../support/world';

/**
 * The status page as a person reads it during an incident (docs/operations.md#the-status-page): the real status
 * handler, over a tiny HTTP server, against state the real runtime saved in Azurite after the outage story, loaded in
 * a real headless Chromium at a phone's size. It takes a screenshot into a temporary folder; with
 * UPDATE_SCREENSHOT=1 it writes the one in docs/images/ instead (so a test run never dirties the working tree).
 *
 * Chromium is Debian's (`apt-get install -y chromium`, which .ci/run does); playwright-core drives it and never
 * downloads a browser. Without Chromium this test fails: it is not skipped.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.UPDATE_SCREENSHOT
  ? join(__dirname, '..', '..', 'docs', 'images', 'status-page.png')
  : join(tmpdir(), `apim-ip-reconciler-status-page-${process.pid}.png`);
const FUNCTION_KEY = 'status-page-test-key';

let azurite: Azurite;
let world: World;
let runtime: FunctionsRuntime;
let server: Server;
let base: string;
let context: BrowserContext;
let page: Page;
let profile: string;
const container = `status-${Date.now()}`;
const consoleErrors: string[] = [];

const handler = statusHandler(() => runtime);

/** The real handler behind a plain HTTP server, as the Functions host would call it. */
function serve(): Promise<Server> {
  const http = createServer((req, res) => {
    const request = new HttpRequest({
      method: req.method ?? 'GET',
      url: `http://127.0.0.1${req.url ?? '/'}`,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]),
      ),
    });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/api/reconcile/status' || url.searchParams.get('code') !== FUNCTION_KEY) {
      res.writeHead(401).end();
      return;
    }
    // The host strips nothing from the query: the handler must accept the key there too.
    void handler(
      request,
      new InvocationContext({ invocationId: 'status', functionName: 'reconcileStatus' }),
    ).then((response: HttpResponseInit) => {
      const headers = Object.fromEntries(Object.entries(response.headers ?? {}));
      const body =
        response.jsonBody !== undefined ? JSON.stringify(response.jsonBody) : String(response.body ?? '');
      if (response.jsonBody !== undefined) headers['Content-Type'] = 'application/json';
      res.writeHead(response.status ?? 200, headers as Record<string, string>).end(body);
    });
  });
  return new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http)));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does) or set CHROMIUM_PATH`,
    );
  }
  [azurite, world] = await Promise.all([startAzurite(), storyWorld()]);
  // The story's targets, and a DNS name someone made by hand that the reconciler was not told to adopt.
  world.cloudflare.addRecord(ZONE_ID, {
    type: 'A',
    name: 'www.contoso.com',
    content: '20.1.1.1',
    proxied: true,
    ttl: 1,
  });
  const config = storyConfig(world.arm, world.cloudflare) as { targets: unknown[] };
  config.targets.push({
    name: 'www-dns',
    type: 'cloudflare.dnsRecords',
    source: 'prod',
    zoneId: ZONE_ID,
    recordName: 'www.contoso.com',
  });
  const clock = new ManualClock(new Date('2026-11-27T08:40:00Z'));
  runtime = buildFunctionsRuntime(
    {
      RECONCILER_CONFIG: JSON.stringify(config),
      AzureWebJobsStorage: azurite.connectionString,
      RECONCILER_STATE_CONTAINER: container,
      CLOUDFLARE_API_TOKEN: CLOUDFLARE_TOKEN,
      RECONCILER_AZURE_TOKEN: ARM_TOKEN,
    },
    { clock, tuning: FAST },
  );
  // The outage: running at 20.1.1.1, suspended (held), back at 20.2.2.2 (DNS moves, allowlists add, 20.1.1.1 retiring).
  const run = async () => {
    const response = await runtime.reconcile({ trigger: 'timer', dryRun: false, force: false });
    if (response.kind !== 'done') throw new Error(`the run did not happen: ${JSON.stringify(response)}`);
    clock.advance(5 * 60_000);
  };
  await run();
  suspend(world);
  await run();
  reactivate(world);
  await run();
  clock.advance(-4 * 60_000);

  server = await serve();
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/reconcile/status?code=${FUNCTION_KEY}`;
  profile = mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'light',
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  await Promise.all([azurite?.stop(), world?.close()]);
});

test('a browser gets the status page: what needs attention first, readable on a phone', async () => {
  const response = await page.goto(base);
  expect(response?.status()).toBe(200);
  expect(response?.headers()['content-type']).toBe('text/html; charset=utf-8');
  expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");

  // The first screen: one target held, said in words, above the fold.
  const headline = page.locator('#headline');
  await expect(headline.textContent()).resolves.toBe('1 target held by a guard');
  expect((await headline.boundingBox())!.y).toBeLessThan(200);
  const text = await page.locator('body').innerText();
  expect(text).toContain('Last run 1 min ago (timer): blocked');

  // Each target's state; the held one first, with the reason and what to do.
  const cards = page.locator('section[aria-labelledby="targets-h"] article');
  await expect(cards.count()).resolves.toBe(4);
  const held = cards.first();
  await expect(held.locator('h3').innerText()).resolves.toMatch(/^www-dns\s+held: NotOwned$/);
  await expect(held.innerText()).resolves.toContain('adopt');

  // The last change of a target, and what is retiring with its deadline.
  const nsg = cards.filter({ hasText: 'backend-nsg' });
  await expect(nsg.locator('h3').innerText()).resolves.toMatch(/changed$/);
  const nsgText = await nsg.innerText();
  expect(nsgText).toContain('+ add 20.2.2.2');
  expect(nsgText).toMatch(/20\.1\.1\.1\s+leaves at 2026-11-27 09:50 UTC \(in 59 min\)/);
  const dns = cards.filter({ hasText: 'api-dns' });
  await expect(dns.innerText()).resolves.toContain('~ update api.contoso.com A 20.1.1.1 → 20.2.2.2');

  // Each source's state and addresses by region.
  const source = page.locator('section[aria-labelledby="sources-h"] article');
  await expect(source.locator('h3').innerText()).resolves.toMatch(/^prod\s+Succeeded$/);
  await expect(source.locator('tbody tr').first().innerText()).resolves.toMatch(/West Europe\s+20\.2\.2\.2/);

  // The last runs, newest first.
  const runs = await page.locator('.runs li .badge').allInnerTexts();
  expect(runs).toEqual(['blocked', 'blocked', 'blocked']);

  // Readable on a phone: nothing wider than the screen, text at least 16 px, no script, no CSP violation.
  // Evaluated in the page (a string: this project compiles without the DOM's types).
  const layout = await page.evaluate(`({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    fontSize: parseFloat(getComputedStyle(document.body).fontSize),
    scripts: document.scripts.length,
  })`);
  expect(layout).toEqual({ overflow: 0, fontSize: 16, scripts: 0 });
  expect(consoleErrors).toEqual([]);

  // No secret in the page, and no function key in it either.
  const html = await page.content();
  for (const secret of [ARM_TOKEN, CLOUDFLARE_TOKEN, DEV_ACCOUNT_KEY, FUNCTION_KEY])
    expect(html).not.toContain(secret);

  mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  expect(readFileSync(SCREENSHOT).subarray(1, 4).toString()).toBe('PNG');
  if (!process.env.UPDATE_SCREENSHOT) rmSync(SCREENSHOT, { force: true });
}, 60_000);

test('a run in progress shows as running, naming it', async () => {
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  const lock = await new BlobRunLock(service, { container }).acquire({
    runId: 'run-in-progress-1',
    trigger: 'http',
    startedAt: '2026-11-27T08:54:30.000Z',
  });
  if (!lock.acquired) throw new Error('the lock was not free');
  try {
    await page.goto(base);
    const running = await page.locator('.running').innerText();
    expect(running).toContain('A run is in progress');
    expect(running).toContain('http run run-in-progress-1');
  } finally {
    await lock.release();
  }
  await page.reload();
  await expect(page.locator('.running').count()).resolves.toBe(0);
}, 30_000);

test('other clients still get JSON, with the targets and runs the page shows', async () => {
  const response = await fetch(base, { headers: { accept: '*/*' } });
  expect(response.headers.get('content-type')).toBe('application/json');
  const status = (await response.json()) as {
    targets: Record<string, { status: string; retiring: unknown[] }>;
    runs: unknown[];
  };
  expect(Object.keys(status.targets)).toEqual(['backend-nsg', 'firewall-egress', 'api-dns', 'www-dns']);
  expect(status.targets['www-dns']).toMatchObject({ status: 'blocked' });
  expect(status.targets['backend-nsg']!.retiring).toHaveLength(1);
  expect(status.runs).toHaveLength(3);
});
