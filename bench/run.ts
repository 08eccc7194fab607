import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { coldStartConfigFile, measureColdStart, type ColdSample, type EntryMode } from './coldStart';
import { LRO_POLLS, measureRequests, summarize, type RequestSample } from './requests';
import type { ZoneLayout } from '../sandbox/fleet';
import { fmt, load1, machine, median, table } from './support';
import { LATENCY_MS, measureWallTime, RETRY_AFTER_S, type WallSample } from './wallTime';

/**
 * `npm run bench`: requests per run against the floor, wall time of a fleet against one source, and the Functions
 * app's cold start, bundled and not. Prints the tables and writes bench/RESULTS.md.
 *
 *   npm run bench [-- --reps 5] [-- --only requests,wall,cold] [-- --no-write]
 *
 * Only a run of every section writes RESULTS.md.
 */

const ROOT = resolve(__dirname, '..', '..', '..');
const SIZES = [1, 20, 200];
const WALL_GOAL = 8;
const COLD_GOAL = { ms: 300, mb: 200 };

const SECTIONS = ['requests', 'wall', 'cold'];

interface Options {
  reps: number;
  only: Set<string>;
  write: boolean;
}

function options(argv: string[]): Options {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i === -1 ? undefined : argv[i + 1];
  };
  const reps = Number(value('--reps') ?? 5);
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps takes a whole number');
  const only = new Set((value('--only') ?? SECTIONS.join(',')).split(','));
  // RESULTS.md holds every section: a partial run only prints.
  return { reps, only, write: !argv.includes('--no-write') && SECTIONS.every((s) => only.has(s)) };
}

const log = (text = '') => process.stdout.write(`${text}\n`);
const n = (value: number) => value.toLocaleString('en-US');

// ----- requests ------------------------------------------------------------------------------------------------

async function requestsSection(): Promise<string> {
  const samples: RequestSample[] = [];
  for (const sources of SIZES) {
    for (const zones of ['shared', 'per-source'] as const) {
      if (sources === 1 && zones === 'per-source') continue; // one record set: the same thing
      log(`  requests: ${sources} sources, ${zones} zone(s)`);
      samples.push(...(await measureRequests(sources, zones)));
    }
  }
  const zonesLabel = (s: RequestSample) =>
    s.zones === 'shared' ? '1 shared' : `${s.sources} (one per source)`;
  const cell = (actual: number, floor: number) =>
    actual === floor ? `${actual}` : `**${actual}** (floor ${floor})`;

  const steady = samples.filter((s) => s.phase === 'steady');
  const steadyRows = steady.map((s) => {
    const c = summarize(s);
    const f = s.floor;
    const floorTotal = f.apimReads + f.azureTargetReads + f.cloudflareLists;
    return [
      `${s.sources} × 3`,
      zonesLabel(s),
      cell(c.apimReads, f.apimReads),
      cell(c.azureTargetReads, f.azureTargetReads),
      cell(c.cloudflareLists, f.cloudflareLists),
      cell(c.writes, 0),
      n(c.total),
      n(floorTotal),
      c.total === floorTotal ? 'yes' : 'no',
    ];
  });
  const drift = samples.filter((s) => s.phase === 'drift');
  const driftRows = drift.map((s) => {
    const c = summarize(s);
    const f = s.floor;
    const floorWrites = f.azureWrites + f.cloudflareBatches;
    const atFloor =
      c.azureWrites === f.azureWrites &&
      c.cloudflareBatches === f.cloudflareBatches &&
      c.writes === floorWrites &&
      c.lroPolls === f.lroPolls &&
      c.apimReads === f.apimReads &&
      c.azureTargetReads === f.azureTargetReads &&
      c.cloudflareLists === f.cloudflareLists;
    return [
      `${s.sources} × 3`,
      zonesLabel(s),
      cell(c.azureWrites, f.azureWrites),
      cell(c.cloudflareBatches, f.cloudflareBatches),
      cell(c.lroPolls, f.lroPolls),
      `${c.apimReads + c.azureTargetReads + c.cloudflareLists}`,
      `${c.lroResultReads}`,
      n(c.total),
      atFloor ? 'yes' : 'no',
    ];
  });
  const steadyTable = table(
    [
      'sources × targets',
      'DNS zones',
      'APIM reads',
      'Azure target reads',
      'Cloudflare lists',
      'writes',
      'requests',
      'floor',
      'at floor',
    ],
    steadyRows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const driftTable = table(
    [
      'sources × targets',
      'DNS zones',
      'ARM PUTs',
      'Cloudflare batches',
      'LRO polls',
      'reads',
      'LRO result reads',
      'requests',
      'at floor',
    ],
    driftRows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  log(steadyTable);
  log();
  log(driftTable);
  return [
    '## Requests per run',
    '',
    'Exact counts from the emulators (every request by method and route; no timing involved). N sources × 3 targets:',
    'each APIM service has a `cloudflare.dnsRecords` A record, an `azure.nsgRule` (its own NSG) and an `azure.ipGroup`,',
    'all adopted by a first run that is not counted. The floor: 1 ARM read per APIM service however many targets use',
    'it, 1 read per Azure target resource, the fewest Cloudflare list requests (one per record set or one per zone,',
    'whichever is fewer), and no write in the steady state; in a drift (every IP changed) 1 PUT per Azure resource,',
    `1 batch per zone, and the long-running operations polled as the service asks (the emulator answers InProgress`,
    `${LRO_POLLS === 1 ? 'once' : `${LRO_POLLS} times`}, then Succeeded: ${LRO_POLLS + 1} polls per PUT). A count above its floor is in bold.`,
    '',
    '### Steady state (nothing changed)',
    '',
    steadyTable,
    '',
    '### Drift (every IP changed)',
    '',
    driftTable,
    '',
    '"reads" are the APIM, Azure target and Cloudflare list reads (the same as in the steady state); "LRO result reads"',
    'are the GET of each written resource that the Azure SDK makes when its operation ends (core-lro takes the final',
    'state of a PUT from the resource itself), one per PUT, reads rather than writes.',
    '',
    ...rateLimits(samples),
    '',
  ].join('\n');
}

/** What the largest fleet's runs cost against the providers' rate limits. */
function rateLimits(samples: RequestSample[]): string[] {
  const find = (phase: 'steady' | 'drift', zones: ZoneLayout) =>
    samples.find((s) => s.sources === 200 && s.phase === phase && s.zones === zones);
  const steady = find('steady', 'shared');
  const drift = find('drift', 'shared');
  const driftZones = find('drift', 'per-source');
  if (!steady || !drift || !driftZones) return [];
  const sum = (counts: Record<string, number>, reads: boolean) =>
    Object.entries(counts)
      .filter(([k]) => k.startsWith('GET ') === reads)
      .reduce((n, [, v]) => n + v, 0);
  const cf = (s: RequestSample) => Object.values(s.cloudflare).reduce((n, v) => n + v, 0);
  const steadyReads = sum(steady.arm, true);
  const driftReads = sum(drift.arm, true);
  const driftWrites = sum(drift.arm, false);
  const paced = (count: number, bucket: number, refill: number) =>
    Math.max(0, Math.ceil((count - bucket) / refill));
  return [
    `Against the rate limits, at 200 sources in one subscription: a steady run sends ${n(steadyReads)} ARM reads, a drift`,
    `${n(driftReads)} reads (polls included) and ${n(driftWrites)} writes. ARM refills reads at 25/s and writes at 10/s per`,
    'subscription (buckets of 250 and 200), so at real speed such a run is paced by ARM rather than by the in-flight',
    `limit: at least ${paced(steadyReads, 250, 25)} s for the steady run's reads and ${paced(driftReads, 250, 25)} s for the drift's, the Azure SDK`,
    'waiting out each 429 as its `Retry-After` asks, within the run budget. Cloudflare allows 1,200 requests per 5',
    `minutes per token: a drift sends ${n(cf(drift))} with one shared zone, ${n(cf(driftZones))} with a zone per source.`,
  ];
}

// ----- wall time -----------------------------------------------------------------------------------------------

/** The fleets timed: each size at the default limit, and the largest again with a higher one. */
const WALL_CASES: Array<{ sources: number; zones: ZoneLayout; limit: number }> = [
  { sources: 1, zones: 'shared', limit: 8 },
  { sources: 20, zones: 'shared', limit: 8 },
  { sources: 20, zones: 'per-source', limit: 8 },
  { sources: 200, zones: 'shared', limit: 8 },
  { sources: 200, zones: 'shared', limit: 16 },
];

async function wallSection(reps: number): Promise<{ text: string; met: boolean }> {
  const samples = new Map<(typeof WALL_CASES)[number], WallSample[]>(WALL_CASES.map((c) => [c, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const c of WALL_CASES) {
      const sample = await measureWallTime(c.sources, c.zones, c.limit);
      samples.get(c)!.push(sample);
      log(
        `  wall time: ${c.sources} sources, ${c.zones} zone(s), limit ${c.limit}, run ${rep + 1}/${reps}: steady ${fmt.ms(sample.steadyMs)}, drift ${fmt.ms(sample.driftMs)} (load ${sample.load.toFixed(2)})`,
      );
    }
  }
  const single = samples.get(WALL_CASES[0]!)!;
  const one = median(single.map((s) => s.driftMs));
  const oneSteady = median(single.map((s) => s.steadyMs));
  let met = true;
  const rows = WALL_CASES.map((c) => {
    const list = samples.get(c)!;
    const drift = median(list.map((s) => s.driftMs));
    const steady = median(list.map((s) => s.steadyMs));
    const speedup = (c.sources * one) / drift;
    const judged = c.sources === 20 && c.zones === 'shared';
    const goal = judged ? (speedup >= WALL_GOAL ? `met (≥ ${WALL_GOAL}×)` : `missed (< ${WALL_GOAL}×)`) : '';
    if (judged && speedup < WALL_GOAL) met = false;
    return [
      `${c.sources} × 3`,
      c.zones === 'shared' ? '1 shared' : `${c.sources} (one per source)`,
      `${c.limit}`,
      fmt.ms(steady),
      fmt.x(steady / oneSteady),
      fmt.ms(drift),
      fmt.x(drift / one),
      fmt.x(speedup),
      goal,
      n(list[0]!.driftRequests),
      fmt.ms((list[0]!.driftArmRequests * LATENCY_MS) / c.limit),
      `${Math.max(...list.map((s) => s.maxInFlight.arm))} / ${Math.max(...list.map((s) => s.maxInFlight.cloudflare))}`,
      fmt.load(list.map((s) => s.load)),
    ];
  });
  const wallTable = table(
    [
      'sources × targets',
      'DNS zones',
      'in flight per host (limit)',
      'steady',
      'vs 1 source',
      'drift',
      'vs 1 source',
      'speed-up (N × T₁ / T_N)',
      'goal at N = 20',
      'drift requests',
      'ARM requests × latency / limit',
      'max in flight ARM / Cloudflare',
      'load avg (1 min)',
    ],
    rows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'l'],
  );
  log(wallTable);
  return {
    met,
    text: [
      '## Wall time',
      '',
      `One \`apply\` in-process (config load to report), every request answered after ${LATENCY_MS} ms, every ARM`,
      `long-running operation answering \`Retry-After: ${RETRY_AFTER_S}\` (one InProgress poll, then Succeeded). Medians of`,
      `${reps} runs, each on a fresh fleet adopted beforehand: the steady state, then a drift`,
      '(every IP changed: each allowlist gains the new address, each A record moves). `RECONCILER_MAX_CONCURRENCY` is',
      'at its default of 8 requests in flight per host, and at 16 in the last row. The goal: a fleet of 20 drifting',
      'takes at most 20 / 8 = 2.5 times one source alone (a speed-up of at least 8). "ARM requests × latency / limit"',
      'is the least time the drift can take with that many requests to one host at that limit (the LRO waits come on',
      'top, overlapped with other requests).',
      '',
      wallTable,
      '',
    ].join('\n'),
  };
}

// ----- cold start ----------------------------------------------------------------------------------------------

interface ColdCase {
  mode: EntryMode;
  targets: number;
  appInsights: boolean;
  label: string;
  goal: boolean;
}

const COLD_CASES: ColdCase[] = [
  { mode: 'bundled', targets: 1000, appInsights: false, label: 'bundled', goal: true },
  { mode: 'unbundled', targets: 1000, appInsights: false, label: 'not bundled', goal: true },
  { mode: 'bundled', targets: 3, appInsights: false, label: 'bundled', goal: false },
  { mode: 'unbundled', targets: 3, appInsights: false, label: 'not bundled', goal: false },
  {
    mode: 'bundled',
    targets: 1000,
    appInsights: true,
    label: 'bundled, Application Insights configured',
    goal: false,
  },
  {
    mode: 'unbundled',
    targets: 1000,
    appInsights: true,
    label: 'not bundled, Application Insights configured',
    goal: false,
  },
  { mode: 'baseline', targets: 0, appInsights: false, label: 'node alone (nothing loaded)', goal: false },
];

async function coldSection(reps: number): Promise<{ text: string; met: boolean }> {
  for (const c of COLD_CASES) if (c.mode !== 'baseline') coldStartConfigFile(c.targets);
  const samples = new Map<ColdCase, ColdSample[]>(COLD_CASES.map((c) => [c, []]));
  // Round robin, so a busy moment on the machine does not land on one case only.
  for (let rep = 0; rep < reps; rep++) {
    for (const c of COLD_CASES) {
      samples.get(c)!.push(await measureColdStart(ROOT, c.mode, c.targets, c.appInsights));
    }
    log(`  cold start: round ${rep + 1}/${reps} (load ${load1().toFixed(2)})`);
  }
  const bundled = samples.get(COLD_CASES[0]!)!;
  const unbundled = samples.get(COLD_CASES[1]!)!;
  const bundledTotal = median(bundled.map((s) => s.totalMs));
  const bundledRss = median(bundled.map((s) => s.maxRssMB));
  const met = bundledTotal <= COLD_GOAL.ms && bundledRss <= COLD_GOAL.mb;
  const rows = COLD_CASES.map((c) => {
    const list = samples.get(c)!;
    const total = median(list.map((s) => s.totalMs));
    const rss = median(list.map((s) => s.maxRssMB));
    const goal = c.goal
      ? total <= COLD_GOAL.ms && rss <= COLD_GOAL.mb
        ? 'met'
        : `missed (${[total > COLD_GOAL.ms && 'time', rss > COLD_GOAL.mb && 'RSS'].filter(Boolean).join(', ')})`
      : '';
    return [
      c.label,
      c.mode === 'baseline' ? '—' : c.targets.toLocaleString('en-US'),
      fmt.ms(median(list.map((s) => s.loadMs))),
      fmt.ms(median(list.map((s) => s.buildMs))),
      fmt.ms(total),
      fmt.ms(median(list.map((s) => s.cpuMs))),
      fmt.mb(rss),
      goal,
      fmt.load(list.map((s) => s.load)),
    ];
  });
  const ratio = median(unbundled.map((s) => s.totalMs)) / bundledTotal;
  const coldTable = table(
    [
      'entry',
      'targets',
      'load entry',
      'build runtime',
      'total',
      'CPU time',
      'peak RSS',
      'goal (≤ 300 ms, ≤ 200 MB)',
      'load avg (1 min)',
    ],
    rows,
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l', 'l'],
  );
  log(coldTable);
  return {
    met,
    text: [
      '## Cold start',
      '',
      `Medians of ${reps} fresh \`node\` processes each (\`bench/coldStartProbe.ts\`), the cases interleaved: \`process.hrtime\``,
      'around loading the Functions entry (`@azure/functions` registering the functions in test mode, outside the host)',
      'and building the runtime as the first invocation does (the configuration read from `RECONCILER_CONFIG_FILE`,',
      'parsed and validated; settings; the Blob Storage, managed-identity and Cloudflare clients; the drivers). CPU time',
      'is `process.cpuUsage()` over the same span (all threads), less sensitive than wall time to other work on the',
      'machine. Peak RSS is `process.resourceUsage().maxRSS` at the end, Node.js itself included (last row). "bundled" is',
      '`dist/bundle/functions.js` (`npm run bundle`, package.json `main`: everything but `@azure/functions-core`, the',
      'host\'s, and `applicationinsights`, below); "not bundled" is what `dist/functions/*.js`',
      'loads. The configuration: 1,000 targets (a third each of `cloudflare.dnsRecords`, `azure.nsgRule`, `azure.ipGroup`)',
      'over 334 APIM services, about 200 KB (a file: Linux refuses an environment variable over 128 KiB, so a',
      `configuration this large cannot be the inline \`RECONCILER_CONFIG\`). Not bundled takes ${fmt.x(ratio)} as long as bundled.`,
      '',
      coldTable,
      '',
      'With `APPLICATIONINSIGHTS_CONNECTION_STRING` set (as in Azure), building the runtime also loads the',
      '`applicationinsights` SDK (OpenTelemetry and the Azure Monitor exporter, about 2,800 modules from',
      '`node_modules`, kept out of the bundle): that row is not part of the goal as set, but it is what the first',
      'invocation in Azure pays.',
      '',
    ].join('\n'),
  };
}

// ----- report --------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const m = machine();
  const startedAt = new Date();
  const loadAtStart = load1();
  log(`apim-ip-reconciler benchmark — ${m.cpus} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Node.js ${m.node}`);
  const sections: string[] = [];
  const goals: string[] = [];
  if (opts.only.has('requests')) {
    log('\nRequests per run');
    sections.push(await requestsSection());
  }
  if (opts.only.has('wall')) {
    log('\nWall time');
    const wall = await wallSection(opts.reps);
    sections.push(wall.text);
    goals.push(`- wall time, 20 sources against 1: ${wall.met ? 'met' : 'missed'}`);
  }
  if (opts.only.has('cold')) {
    log('\nCold start');
    const cold = await coldSection(opts.reps);
    sections.push(cold.text);
    goals.push(`- cold start, bundled, 1,000 targets: ${cold.met ? 'met' : 'missed'}`);
  }
  const header = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (`bench/`); do not edit by hand. Run it again to refresh.',
    '',
    `- Machine: ${m.cpus} CPUs (\`nproc\`), ${m.cpuModel}, ${m.memoryGiB} GiB memory, ${m.os}, Node.js ${m.node}.`,
    `- Command: \`npm run bench\`${process.argv.length > 2 ? ` with \`${process.argv.slice(2).join(' ')}\`` : ''}`,
    '  (`npm run build`, `tsc -p tsconfig.bench.json`, then `node scripts/with-sandbox-ca.js node dist/bench/bench/run.js`).',
    `- Run at ${startedAt.toISOString()}; load average (1 min) ${loadAtStart.toFixed(2)} at the start. The machine may be`,
    '  busy with other work while the benchmark runs: each timed sample records the load average, shown as a range per',
    '  row; times are medians.',
    '',
  ];
  const doc = reflow([...header, ...sections].join('\n'));
  if (opts.write) {
    const file = join(ROOT, 'bench', 'RESULTS.md');
    writeFileSync(file, await formatted(doc, file));
    log(`\nwrote ${file}`);
  }
  if (goals.length) log(`\nGoals:\n${goals.join('\n')}`);
}

/** One line per paragraph and list item (the text above is wrapped for the source, not for the page). */
function reflow(markdown: string): string {
  const out: string[] = [];
  let joinable = false;
  for (const line of markdown.split('\n')) {
    const plain = line.trim() !== '' && !/^(\||#|- )/.test(line);
    if (plain && joinable) out[out.length - 1] += ` ${line.trim()}`;
    else out.push(line);
    joinable = line.trim() !== '' && !/^(\||#)/.test(line);
  }
  return out.join('\n');
}

/** Through Prettier with the repository's settings, so `npm run lint` accepts the file as written. */
async function formatted(markdown: string, file: string): Promise<string> {
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(markdown, { ...config, filepath: file });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
