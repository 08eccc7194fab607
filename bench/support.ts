import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { reconcileCommand } from '../cli/commands';
import { ManualClock } from '../lib/engine/clock';
import type { RunReport } from '../lib/engine/report';
import type { Tuning } from '../lib/wiring';
import { startFleet, type FleetOptions, type FleetWorld } from '../sandbox/fleet';
import { inheritedRunCertificate } from '../sandbox/tls';

/** What every benchmark shares: fleets on the emulators, the CLI run in-process, medians, the machine. */

export const START = new Date('2026-11-27T09:00:00Z');

export function certificate() {
  const cert = inheritedRunCertificate();
  if (!cert)
    throw new Error('run the benchmark with `npm run bench` (it trusts the sandbox TLS certificate)');
  return cert;
}

export interface Run {
  exitCode: number;
  report?: RunReport;
  ms: number;
  output: string;
}

/** One `apim-ip-reconciler apply` in-process, as the CLI runs it, timed from config load to report. */
export async function apply(
  world: FleetWorld,
  clock: ManualClock,
  options: { tuning?: Tuning; env?: Record<string, string> } = {},
): Promise<Run> {
  const lines: string[] = [];
  const started = performance.now();
  const result = await reconcileCommand(
    'apply',
    { config: world.configFile, state: world.stateFile },
    {
      out: (t) => lines.push(t),
      err: (t) => lines.push(t),
      env: { ...world.env, ...options.env },
      cwd: world.dir,
      clock,
      tuning: options.tuning,
    },
  );
  return { ...result, ms: performance.now() - started, output: lines.join('\n') };
}

/** A fleet whose first run (adopting every target) is done: the next run with nothing new is the steady state. */
export async function adoptedFleet(options: FleetOptions, tuning?: Tuning): Promise<FleetWorld> {
  const world = await startFleet(certificate(), options);
  const latency = options.latencyMs ?? 0;
  world.arm.latencyMs = 0;
  world.cloudflare.latencyMs = 0;
  const adopted = await apply(world, new ManualClock(START), { tuning });
  expectExit(adopted, 0, 'the adopting run');
  world.arm.latencyMs = latency;
  world.cloudflare.latencyMs = latency;
  world.arm.resetCounts();
  world.cloudflare.resetCounts();
  return world;
}

export function expectExit(run: Run, code: number, what: string): void {
  if (run.exitCode !== code) {
    throw new Error(`${what} exited ${run.exitCode}, expected ${code}:\n${run.output}`);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The 1-minute load average, when the sample was taken (the machine may be busy with other work). */
export function load1(): number {
  return loadavg()[0]!;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
}

export function machine(): Machine {
  let nproc = cpus().length;
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc;
  } catch {
    // nproc is not everywhere; os.cpus() is close enough
  }
  return {
    cpus: nproc,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${process.arch}`,
  };
}

export const fmt = {
  ms: (n: number) => `${Math.round(n).toLocaleString('en-US')} ms`,
  mb: (n: number) => `${Math.round(n)} MB`,
  x: (n: number) => `${n.toFixed(2)}×`,
  load: (values: number[]) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`,
};

/** A Markdown table, columns padded (Prettier's own layout, so `prettier --check` passes on RESULTS.md). */
export function table(header: string[], rows: string[][], align: Array<'l' | 'r'> = []): string {
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const pad = (s: string, i: number) =>
    align[i] === 'r'
      ? s.padStart(widths[i]! + s.length - width(s))
      : s.padEnd(widths[i]! + s.length - width(s));
  const line = (cells: string[]) => `| ${cells.map((c, i) => pad(c, i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}
