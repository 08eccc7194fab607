import { prefersHtml, renderStatusPage, staleAfterMs } from '../../functions/statusPage';
import type { StatusDocument } from '../../lib/wiring/runtime';

/** The status page's pure rendering (docs/operations.md#the-status-page); the browser test reads it in Chromium. */

const NOW = new Date('2026-11-27T09:00:00Z');
const run = (over: Partial<StatusDocument['runs'][number]> = {}): StatusDocument['runs'][number] => ({
  runId: 'r1',
  trigger: 'timer',
  mode: 'enforce',
  outcome: 'noop',
  startedAt: '2026-11-27T08:58:00Z',
  finishedAt: '2026-11-27T08:58:05Z',
  changesApplied: 0,
  changesPlanned: 0,
  heldTargets: 0,
  failedTargets: 0,
  ...over,
});
const doc = (over: Partial<StatusDocument> = {}): StatusDocument => ({
  lastRun: null,
  sources: {},
  targets: {},
  runs: [run()],
  running: null,
  mode: 'enforce',
  generatedAt: NOW.toISOString(),
  ...over,
});
const target = (
  over: Partial<StatusDocument['targets'][string]> = {},
): StatusDocument['targets'][string] => ({
  type: 'azure.nsgRule',
  source: 'prod',
  resource:
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/n/securityRules/r',
  status: 'in-sync',
  checkedAt: '2026-11-27T08:58:05Z',
  retiring: [],
  ...over,
});
const headline = (html: string) => /<p class="headline" id="headline">([^<]*)<\/p>/.exec(html)?.[1];

test('every value is escaped: a hostile name or detail is text, never markup', () => {
  const html = renderStatusPage(
    doc({
      targets: {
        '<script>alert(1)</script>': target({
          status: 'blocked',
          block: { reason: 'NotOwned', detail: '"><img src=x onerror=alert(1)>' },
          error: "it's <b>bold</b> & more",
        }),
      },
      sources: {
        'p"rod': {
          observedAt: NOW.toISOString(),
          provisioningState: '<i>Stopped</i>',
          sku: 'Premium',
          addresses: { inbound: ['<x>'], outbound: [], private: [] },
        },
      },
      runs: [run({ runId: '<u>id</u>', error: '<svg onload=alert(1)>' })],
    }),
    NOW,
  );
  expect(html).not.toMatch(/<script|<img|<svg|<b>|<i>|<u>|<x>/);
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  expect(html).toContain('&quot;&gt;&lt;img src=x onerror=alert(1)&gt;');
  expect(html).toContain('it&#39;s &lt;b&gt;bold&lt;/b&gt; &amp; more');
});

test.each([
  ['every target in sync', doc({ targets: { a: target(), b: target() } }), 'All 2 targets in sync'],
  [
    'a failed target comes first',
    doc({
      targets: {
        a: target({ status: 'failed', error: 'x' }),
        b: target({ status: 'blocked', block: { reason: 'EmptySource', detail: 'd' } }),
      },
    }),
    '1 target failed',
  ],
  [
    'held',
    doc({
      targets: {
        a: target({
          status: 'blocked',
          block: { reason: 'SourceNotRunning', detail: 'Stopped', bySource: true },
        }),
      },
    }),
    '1 target held by a guard',
  ],
  [
    'drift in observe mode',
    doc({ mode: 'observe', targets: { a: target({ status: 'planned', pending: 2 }) } }),
    '1 target drifted (observe mode: not written)',
  ],
  [
    'no run for a while',
    doc({ runs: [run({ finishedAt: '2026-11-27T08:30:00Z' })], targets: { a: target() } }),
    'No run for 30 min',
  ],
  ['no run yet', doc({ runs: [] }), 'No run yet'],
  ['a configuration error', doc({ error: 'invalid configuration' }), 'The reconciler cannot run'],
])('the headline says what needs attention: %s', (_, status, expected) => {
  expect(headline(renderStatusPage(status, NOW))).toBe(expected);
});

test('browsers get HTML; curl, scripts and JSON clients get JSON', () => {
  expect(prefersHtml('text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')).toBe(true);
  expect(prefersHtml('*/*')).toBe(false);
  expect(prefersHtml(undefined)).toBe(false);
  expect(prefersHtml('application/json')).toBe(false);
  expect(prefersHtml('application/json, text/html;q=0.5')).toBe(false);
  expect(prefersHtml('text/html;q=0')).toBe(false);
});

test('stale after three schedule intervals, as the dead-man alert', () => {
  expect(staleAfterMs('0 */5 * * * *')).toBe(15 * 60_000);
  expect(staleAfterMs('0 */10 * * * *')).toBe(30 * 60_000);
  expect(staleAfterMs(undefined)).toBe(15 * 60_000);
});
