import { createHash } from 'node:crypto';
import { displayAddresses } from '../lib/net/display';
import type { RunSummary, SourceState, TargetSummary } from '../lib/state/store';
import type { StatusDocument } from '../lib/wiring/runtime';

/**
 * The status page (docs/operations.md#the-status-page): GET /api/reconcile/status in a browser. One pure function
 * of the status document, rendered on the server: no script, inline CSS, every value escaped, nothing secret (the
 * state holds addresses, resource IDs and run outcomes only). Built to be read at a glance on a phone during an
 * incident: the first screen says whether anything needs attention.
 */

export interface StatusPageOptions {
  /** A last run older than this is called out (3 schedule intervals, as the dead-man alert). */
  staleAfterMs?: number;
  /** The page reloads itself this often, in seconds. */
  refreshSeconds?: number;
}

const esc = (value: unknown): string =>
  String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/** `2026-11-27 09:03 UTC`. */
function utc(iso: string | undefined): string {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) return 'unknown';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** `5 min ago`, `in 42 min`. */
export function relative(iso: string | undefined, now: Date): string {
  const ms = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(ms)) return '';
  const diff = now.getTime() - ms;
  const abs = Math.abs(diff);
  const amount =
    abs < 45_000
      ? `${Math.max(1, Math.round(abs / 1000))} s`
      : abs < 90 * 60_000
        ? `${Math.round(abs / 60_000)} min`
        : abs < 36 * 3_600_000
          ? `${Math.round(abs / 3_600_000)} h`
          : `${Math.round(abs / 86_400_000)} d`;
  return diff >= 0 ? `${amount} ago` : `in ${amount}`;
}

const when = (iso: string | undefined, now: Date) =>
  `<time datetime="${esc(iso)}">${esc(utc(iso))}</time> <span class="ago">(${esc(relative(iso, now))})</span>`;

type Tone = 'ok' | 'warn' | 'bad' | 'info';

const badge = (tone: Tone, text: string) => `<span class="badge ${tone}">${esc(text)}</span>`;

function targetTone(t: TargetSummary): { tone: Tone; label: string } {
  if (t.status === 'failed' || (t.status === 'skipped' && t.error)) return { tone: 'bad', label: 'failed' };
  if (t.block) return { tone: 'warn', label: `held: ${t.block.reason}` };
  if (t.status === 'planned') return { tone: 'warn', label: 'drift, not written' };
  if (t.status === 'changed') return { tone: 'ok', label: 'changed' };
  if (t.status === 'in-sync') return { tone: 'ok', label: 'in sync' };
  return { tone: 'info', label: t.status };
}

const outcomeTone: Record<string, Tone> = {
  noop: 'ok',
  changed: 'ok',
  blocked: 'warn',
  partial: 'bad',
  failed: 'bad',
};

const pluralize = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The headline: does anything need a person, and what. */
function headline(status: StatusDocument, now: Date, staleAfterMs: number): { tone: Tone; text: string } {
  const targets = Object.values(status.targets);
  const failed = targets.filter((t) => targetTone(t).tone === 'bad').length;
  const held = targets.filter((t) => t.block).length;
  const drift = targets.filter((t) => t.status === 'planned').length;
  const last = status.runs[0] ?? status.lastRun ?? undefined;
  if (status.error) return { tone: 'bad', text: 'The reconciler cannot run' };
  if (!last) return { tone: 'warn', text: 'No run yet' };
  if (last.outcome === 'failed' && targets.length === 0) return { tone: 'bad', text: 'The last run failed' };
  if (failed > 0) return { tone: 'bad', text: `${pluralize(failed, 'target')} failed` };
  const age = now.getTime() - Date.parse(last.finishedAt);
  if (age > staleAfterMs)
    return { tone: 'bad', text: `No run for ${relative(last.finishedAt, now).replace(' ago', '')}` };
  if (held > 0) return { tone: 'warn', text: `${pluralize(held, 'target')} held by a guard` };
  if (drift > 0)
    return { tone: 'warn', text: `${pluralize(drift, 'target')} drifted (observe mode: not written)` };
  return { tone: 'ok', text: `All ${pluralize(targets.length, 'target')} in sync` };
}

function addressList(values: string[] | undefined): string {
  if (!values || values.length === 0) return '<span class="none">none</span>';
  return values.map((v) => `<code>${esc(displayAddresses(v))}</code>`).join(' ');
}

function sourceCard(name: string, s: SourceState, now: Date): string {
  const tone: Tone = s.provisioningState === 'Succeeded' ? 'ok' : 'warn';
  const regions =
    s.regions && s.regions.length > 0
      ? s.regions
      : [
          {
            location: 'all regions',
            inbound: s.addresses.inbound,
            outbound: s.addresses.outbound,
            private: s.addresses.private,
          },
        ];
  const rows = regions
    .map(
      (r) =>
        `<tr><th scope="row">${esc(r.location)}</th><td>${addressList(r.inbound)}</td><td>${addressList(r.outbound)}</td>${
          regions.some((x) => x.private.length > 0) ? `<td>${addressList(r.private)}</td>` : ''
        }</tr>`,
    )
    .join('');
  const privateHead = regions.some((x) => x.private.length > 0) ? '<th scope="col">private</th>' : '';
  return `<article class="card">
<h3>${esc(name)} ${badge(tone, s.provisioningState)}</h3>
<p class="meta">${esc(s.sku)} · observed ${when(s.observedAt, now)}</p>
<div class="scroll"><table><thead><tr><th scope="col">region</th><th scope="col">inbound</th><th scope="col">outbound</th>${privateHead}</tr></thead><tbody>${rows}</tbody></table></div>
</article>`;
}

/** `rg-backend/networkSecurityGroups/backend-nsg/securityRules/allow-apim` for an ARM ID; anything else as is. */
function shortResource(resource: string): string {
  const m = /^\/subscriptions\/[^/]+\/resourceGroups\/([^/]+)\/providers\/[^/]+\/(.+)$/i.exec(resource);
  return m ? `${m[1]}/${m[2]}` : resource;
}

function changeText(c: { action: string; subject?: string; before?: string; after?: string }): string {
  const subject = c.subject ? `${c.subject} ` : '';
  const before = c.before ? displayAddresses(c.before) : '';
  const after = c.after ? displayAddresses(c.after) : '';
  switch (c.action) {
    case 'add':
    case 'create':
      return `+ ${c.action} ${subject}${after}`;
    case 'remove':
    case 'delete':
      return `− ${c.action} ${subject}${before}`;
    case 'update':
      return `~ update ${subject}${before} → ${after}`;
    default:
      return `~ ${c.action} ${subject}${before || after}`;
  }
}

function targetCard(name: string, t: TargetSummary, now: Date): string {
  const { tone, label } = targetTone(t);
  const parts = [
    `<h3>${esc(name)} ${badge(tone, label)}</h3>`,
    `<p class="meta">${esc(t.type)} · source ${esc(t.source)} · checked ${esc(relative(t.checkedAt, now))}</p>`,
    `<p class="resource" title="${esc(t.resource)}">${esc(shortResource(t.resource))}</p>`,
  ];
  if (t.block) {
    parts.push(
      `<p class="why warn-text"><strong>${esc(t.block.bySource ? `Held with its source (${t.block.reason})` : `Held: ${t.block.reason}`)}</strong> — ${esc(t.block.detail)}</p>`,
    );
  }
  if (t.error) parts.push(`<p class="why bad-text"><strong>Error</strong> — ${esc(t.error)}</p>`);
  if (t.pending)
    parts.push(`<p class="why">${esc(pluralize(t.pending, 'change'))} found but not written</p>`);
  if (t.retiring.length > 0) {
    const items = t.retiring
      .map((r) =>
        r.heldBy
          ? `<li><code>${esc(displayAddresses(r.entry))}</code> removal due, held by ${esc(r.heldBy)}</li>`
          : `<li><code>${esc(displayAddresses(r.entry))}</code> leaves at ${when(r.retiresAt, now)}</li>`,
      )
      .join('');
    parts.push(`<div class="retiring"><h4>Retiring</h4><ul>${items}</ul></div>`);
  }
  if (t.lastChange) {
    const lines = t.lastChange.changes.map((c) => `<li><code>${esc(changeText(c))}</code></li>`).join('');
    parts.push(
      `<div class="change"><h4>Last change ${when(t.lastChange.at, now)}</h4><ul>${lines}</ul></div>`,
    );
  } else {
    parts.push('<p class="meta">No change made by the reconciler yet.</p>');
  }
  return `<article class="card tone-${tone}">${parts.join('\n')}</article>`;
}

function runRow(r: RunSummary, now: Date): string {
  const tone = outcomeTone[r.outcome] ?? 'info';
  const details = [
    r.changesApplied ? `${r.changesApplied} applied` : '',
    r.changesPlanned && r.changesPlanned !== r.changesApplied ? `${r.changesPlanned} planned` : '',
    r.heldTargets ? `${r.heldTargets} held` : '',
    r.failedTargets ? `${r.failedTargets} failed` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `<li><span class="run-when">${esc(relative(r.finishedAt, now))}</span> ${badge(tone, r.outcome)} <span class="meta">${esc(r.trigger)}${r.mode === 'observe' ? ' · observe' : ''}${details ? ` · ${esc(details)}` : ''}</span>${
    r.error ? `<br><span class="bad-text">${esc(r.error)}</span>` : ''
  }<br><span class="run-id">${esc(r.runId)} · ${esc(utc(r.finishedAt))}</span></li>`;
}

const STYLE = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#57606a;--line:#d0d7de;
--ok:#1a7f37;--ok-bg:#dafbe1;--warn:#9a6700;--warn-bg:#fff8c5;--bad:#cf222e;--bad-bg:#ffebe9;--info:#0969da;--info-bg:#ddf4ff}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--text:#e6edf3;--muted:#8d96a0;--line:#30363d;
--ok:#3fb950;--ok-bg:#12261e;--warn:#d29922;--warn-bg:#272115;--bad:#f85149;--bad-bg:#2d1517;--info:#58a6ff;--info-bg:#121d2f}}
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--text)}
main{max-width:60rem;margin:0 auto;padding:.75rem}
.banner{border-radius:.75rem;padding:1rem;margin-bottom:1rem;border:2px solid}
.banner h1{font-size:.85rem;font-weight:600;text-transform:uppercase;letter-spacing:.04em;margin:0 0 .25rem;color:var(--muted)}
.banner .headline{font-size:1.5rem;font-weight:700;margin:0 0 .35rem}
.banner p{margin:.2rem 0}
.ok{color:var(--ok);background:var(--ok-bg);border-color:var(--ok)}.warn{color:var(--warn);background:var(--warn-bg);border-color:var(--warn)}
.bad{color:var(--bad);background:var(--bad-bg);border-color:var(--bad)}.info{color:var(--info);background:var(--info-bg);border-color:var(--info)}
.banner.ok .headline,.banner.warn .headline,.banner.bad .headline,.banner.info .headline{color:inherit}
.banner p:not(.headline){color:var(--text)}
.running{border:2px dashed var(--info);background:var(--info-bg);border-radius:.75rem;padding:.75rem 1rem;margin-bottom:1rem}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:.75rem;padding:.85rem 1rem;margin-bottom:.75rem}
.card.tone-bad{border-left:6px solid var(--bad)}.card.tone-warn{border-left:6px solid var(--warn)}.card.tone-ok{border-left:6px solid var(--ok)}
.card h3{font-size:1.05rem;margin:0 0 .25rem;display:flex;flex-wrap:wrap;gap:.5rem;align-items:center}
.card h4{font-size:.9rem;margin:.6rem 0 .2rem}
.badge{display:inline-block;font-size:.8rem;font-weight:600;padding:.1rem .55rem;border-radius:1rem;border:1px solid}
.meta,.ago,.run-id{color:var(--muted);font-size:.875rem}.run-id{font-size:.75rem;word-break:break-all}
.resource{font-size:.8rem;color:var(--muted);word-break:break-all;margin:.1rem 0}
.why{margin:.5rem 0}.warn-text{color:var(--warn)}.bad-text{color:var(--bad)}
.warn-text,.bad-text{overflow-wrap:anywhere}
ul{margin:.2rem 0;padding-left:1.1rem}li{margin:.15rem 0}
code{font:.9rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.none{color:var(--muted);font-style:italic}
.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.3rem .5rem .3rem 0;border-bottom:1px solid var(--line);vertical-align:top}
.runs{list-style:none;padding:0}.runs li{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.5rem .75rem;margin-bottom:.4rem}
.run-when{font-weight:600}
footer{color:var(--muted);font-size:.8rem;margin:1.5rem 0 1rem}
`;

/** The Content-Security-Policy of the page: nothing but its own inline style (by hash), no script, no framing. */
export const STATUS_PAGE_CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

export function renderStatusPage(status: StatusDocument, now: Date, options: StatusPageOptions = {}): string {
  const staleAfterMs = options.staleAfterMs ?? 15 * 60_000;
  const refresh = options.refreshSeconds ?? 60;
  const head = headline(status, now, staleAfterMs);
  const last = status.runs[0];
  const lastLine = last
    ? `Last run ${esc(relative(last.finishedAt, now))} (${esc(last.trigger)}): ${esc(last.outcome)} · ${esc(utc(last.finishedAt))}`
    : status.lastRun
      ? `Last run ${esc(relative(status.lastRun.finishedAt, now))} (${esc(status.lastRun.trigger)}): ${esc(status.lastRun.outcome)}`
      : 'No run has been recorded yet.';
  const running = status.running
    ? `<section class="running" aria-live="polite"><strong>A run is in progress</strong> — ${esc(status.running.trigger)} run <code>${esc(status.running.runId)}</code>${
        status.running.startedAt ? `, started ${when(status.running.startedAt, now)}` : ''
      }. This page shows the last finished run until it ends.</section>`
    : '';
  const targets = Object.entries(status.targets);
  // Trouble first: failed, then held, then the rest, each in the configuration's order.
  const rank = (t: TargetSummary) => ({ bad: 0, warn: 1, info: 2, ok: 3 })[targetTone(t).tone];
  const orderedTargets = targets
    .map((entry, index) => ({ entry, index }))
    .sort((a, b) => rank(a.entry[1]) - rank(b.entry[1]) || a.index - b.index)
    .map(({ entry }) => entry);
  const sources = Object.entries(status.sources);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${refresh}">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex">
<title>${esc(head.text)} — apim-ip-reconciler</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header class="banner ${head.tone}">
<h1>apim-ip-reconciler status</h1>
<p class="headline" id="headline">${esc(head.text)}</p>
${status.error ? `<p class="bad-text"><strong>${esc(status.error)}</strong></p>` : ''}
<p>${lastLine}</p>
<p>${status.mode === 'observe' ? '<strong>Observe mode</strong>: runs plan and record, and write nothing.' : 'Enforce mode: runs apply what they plan.'}</p>
</header>
${running}
<section aria-labelledby="targets-h"><h2 id="targets-h">Targets</h2>
${orderedTargets.length > 0 ? orderedTargets.map(([name, t]) => targetCard(name, t, now)).join('\n') : '<p class="meta">No target has been checked yet.</p>'}
</section>
<section aria-labelledby="sources-h"><h2 id="sources-h">Sources (APIM services)</h2>
${sources.length > 0 ? sources.map(([name, s]) => sourceCard(name, s, now)).join('\n') : '<p class="meta">No source has been observed yet.</p>'}
</section>
<section aria-labelledby="runs-h"><h2 id="runs-h">Last runs</h2>
${status.runs.length > 0 ? `<ul class="runs">${status.runs.map((r) => runRow(r, now)).join('\n')}</ul>` : '<p class="meta">No run recorded yet.</p>'}
</section>
<footer>Made ${esc(utc(status.generatedAt))} from the state the runs save; it reloads every ${refresh} s. The same data as JSON: this URL with <code>Accept: application/json</code>. Telemetry and alerts: the Application Insights workbook.</footer>
</main>
</body>
</html>
`;
}

/**
 * True when the client prefers HTML to JSON (a browser), by the Accept header's q-values; curl's `*\/*`, a missing
 * header and `application/json` get JSON, as before.
 */
export function prefersHtml(accept: string | null | undefined): boolean {
  if (!accept) return false;
  let html = 0;
  let json = 0;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    const q = Number(
      params
        .map((p) => p.trim())
        .find((p) => p.startsWith('q='))
        ?.slice(2) ?? '1',
    );
    const quality = Number.isNaN(q) ? 0 : q;
    if (type === 'text/html' || type === 'application/xhtml+xml') html = Math.max(html, quality);
    if (type === 'application/json') json = Math.max(json, quality);
  }
  return html > 0 && html > json;
}

/** Three intervals of an NCRONTAB schedule like `0 *\/5 * * * *` (the dead-man alert's threshold); else 15 min. */
export function staleAfterMs(schedule: string | undefined): number {
  const minutes = /^\s*\d+\s+\*\/(\d+)\s+\*\s+\*\s+\*\s+\*\s*$/.exec(schedule ?? '')?.[1];
  return minutes ? 3 * Number(minutes) * 60_000 : 15 * 60_000;
}
