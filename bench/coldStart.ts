import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfig } from '../lib/config/load';
import { readSettings } from '../lib/config/settings';
import { checkSettings } from '../lib/wiring';
import { coldStartConfig, coldStartEnv } from './coldStartConfig';
import { load1 } from './support';

/**
 * Cold start: each sample is a fresh `node` process (coldStartProbe.js) that loads the Functions entry and builds
 * the runtime for a configuration of `targets` targets; `process.hrtime` around both, `maxRSS` at the end.
 */

export type EntryMode = 'bundled' | 'unbundled' | 'baseline';

export interface ColdSample {
  mode: EntryMode;
  targets: number;
  appInsights: boolean;
  loadMs: number;
  buildMs: number;
  totalMs: number;
  cpuMs: number;
  maxRssMB: number;
  load: number;
}

const run = promisify(execFile);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const configFiles = new Map<number, string>();

/** The configuration file of `targets` targets, written once and checked: valid, with settings that suffice. */
export function coldStartConfigFile(targets: number): string {
  let file = configFiles.get(targets);
  if (file) return file;
  file = join(mkdtempSync(join(tmpdir(), 'apim-ip-reconciler-cold-')), `reconciler.config.json`);
  const document = coldStartConfig(targets);
  writeFileSync(file, JSON.stringify(document));
  // Else the runtime would only keep the error and build no client.
  const config = parseConfig(document, file);
  if (config.targets.length !== targets) throw new Error(`expected ${targets} targets`);
  checkSettings(config, readSettings(coldStartEnv(file, 1, false)));
  configFiles.set(targets, file);
  return file;
}

export async function measureColdStart(
  root: string,
  mode: EntryMode,
  targets: number,
  appInsights = false,
): Promise<ColdSample> {
  const port = await freePort();
  const probe = join(__dirname, 'coldStartProbe.js');
  // Through a shell that forks node rather than exec'ing it (the `exit` after it): a child forked from this process
  // would count this process's resident memory in its maxRSS (kept across exec); one forked from sh, sh's few KB.
  const viaShell = ['-c', '"$0" "$@"; exit $?', process.execPath, probe, mode, root, String(port)];
  const { stdout } = await run('/bin/sh', viaShell, {
    cwd: root,
    // Only what the app would have: no NODE_OPTIONS, no extra CA certificates.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...(mode === 'baseline' ? {} : coldStartEnv(coldStartConfigFile(targets), port, appInsights)),
    },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop()!) as Omit<
    ColdSample,
    'mode' | 'targets' | 'load'
  > & {
    error?: string;
  };
  if (result.error) throw new Error(`the ${mode} runtime did not start: ${result.error}`);
  return {
    mode,
    targets,
    appInsights,
    loadMs: result.loadMs,
    buildMs: result.buildMs,
    totalMs: result.totalMs,
    cpuMs: result.cpuMs,
    maxRssMB: result.maxRssMB,
    load: load1(),
  };
}
