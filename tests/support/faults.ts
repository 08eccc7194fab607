import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reconcileCommand } from '../../cli/commands';
import type { TargetType } from '../../lib/config/schema';
import { ManualClock } from '../../lib/engine/clock';
import type { RunReport } from '../../lib/engine/report';
import type { State } from '../../lib/state/store';
import type { GuardCode, TelemetryEvent } from '../../lib/telemetry/events';
import { MemoryRecorder } from '../../lib/telemetry/memory';
import type { Tuning } from '../../lib/wiring';
import type { Emulator } from '../../sandbox/emulator';
import {
  APIM_ID,
  CLOUDFLARE_TOKEN,
  NEW_IP,
  RULE_ID,
  ZONE_ID,
  reactivate,
  resetCounts,
  writes,
  type World,
} from '../../sandbox/story';
import type { Cell, FaultId, FirstRun, Subject } from '../e2e/faults.matrix';
import {
  ACCOUNT,
  json,
  KITS,
  origins,
  POOL,
  RCG_ID,
  restrictions,
  SITE_ID,
  zoneForeign,
  type Kit,
} from './faultKits';
import { FAST, storyWorld } from './world';

/**
 * Plays the cells of tests/e2e/faults.matrix.ts: a world per cell (the story's emulators plus what each
 * target type needs), the fault injected on the route the cell names, then apply runs until the target
 * converges — checking after every run that no entry the reconciler does not own changed and that no
 * allowlist or DNS name is empty — and one more run that must write nothing.
 */

const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

/** The client timeouts of a `slow-response` cell, and how late the emulator answers there. */
export const SLOW = { timeoutMs: 500, latencyMs: 1500 };
/** The run budget of a `throttled-past-budget` cell, and the Retry-After that exceeds it. */
export const PAST_BUDGET = { runBudget: 'PT2S', budgetMs: 2000, retryAfterSeconds: 30 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ----- a world per cell -----------------------------------------------------------------------------------------

export interface RunResult {
  exitCode: number;
  report: RunReport;
  events: TelemetryEvent[];
  output: string;
  ms: number;
}

export interface SceneOptions {
  safety?: Record<string, unknown>;
  tuning?: Tuning;
}

export const GRANTS = {
  zones: { [ZONE_ID]: 'edit' as const },
  accounts: { [ACCOUNT]: { lists: 'edit' as const, loadBalancers: 'edit' as const } },
};

/** The emulators seeded for some target types, their config, state file and clock. */
export class Scene {
  readonly configFile: string;
  readonly stateFile: string;
  readonly clock = new ManualClock(new Date('2026-11-27T09:00:00Z'));
  private runs = 0;

  private constructor(
    readonly world: World,
    readonly kits: Kit[],
    private readonly options: SceneOptions,
  ) {
    this.stateFile = join(world.dir, 'faults.state.json');
    this.configFile = this.config(kits, 'faults.config.json');
  }

  /** Writes a config with the targets of `kits` (the scene's config, or one for a subset of them). */
  config(kits: Kit[], file = `faults.${kits.map((k) => k.name).join('+')}.json`): string {
    const path = join(this.world.dir, file);
    writeFileSync(
      path,
      json({
        sources: { prod: { resourceId: APIM_ID } },
        targets: kits.map((k) => k.target),
        safety: { retireAfter: 'PT1H', ...this.options.safety },
        azure: { resourceManagerEndpoint: this.world.arm.url },
        cloudflare: { baseUrl: this.world.cloudflare.baseUrl },
      }),
    );
    return path;
  }

  static async start(kits: Kit[], options: SceneOptions = {}): Promise<Scene> {
    const world = await storyWorld();
    world.cloudflare.addToken(CLOUDFLARE_TOKEN, GRANTS);
    for (const kit of kits) kit.seed(world);
    return new Scene(world, kits, options);
  }

  emulator(kit: Kit): Emulator {
    return kit.emulator === 'arm' ? this.world.arm : this.world.cloudflare;
  }

  /** One `apply` as the CLI runs it, with its events; the clock moves 5 minutes between runs. */
  async run(config = this.configFile): Promise<RunResult> {
    if (this.runs++ > 0) this.clock.advance(5 * 60_000);
    const recorder = new MemoryRecorder();
    const lines: string[] = [];
    const started = Date.now();
    const result = await reconcileCommand(
      'apply',
      { config, state: this.stateFile },
      {
        out: (t) => lines.push(t),
        err: (t) => lines.push(t),
        env: this.world.env,
        cwd: this.world.dir,
        clock: this.clock,
        recorder,
        tuning: {
          ...FAST,
          cloudflareTimeoutMs: 10_000,
          azureTimeoutMs: 10_000,
          busyWaitMs: 300,
          bulkOperationTimeoutMs: 3_000,
          ...this.options.tuning,
        },
      },
    );
    if (!result.report) throw new Error(`the run did not report:\n${lines.join('\n')}`);
    return {
      exitCode: result.exitCode,
      report: result.report,
      events: recorder.events,
      output: lines.join('\n'),
      ms: Date.now() - started,
    };
  }

  state(): State {
    return existsSync(this.stateFile)
      ? (JSON.parse(readFileSync(this.stateFile, 'utf8')) as State)
      : { version: 1, targets: {}, sources: {} };
  }

  private dnsNames(): string[] {
    return this.kits
      .filter((k) => k.type.startsWith('cloudflare.dns'))
      .map((k) => String(k.target.recordName));
  }

  foreign(): string[] {
    const zone = this.dnsNames().length > 0 ? zoneForeign(this.world, this.dnsNames()) : [];
    return [...zone, ...this.kits.flatMap((k) => k.foreign(this.world))];
  }

  empty(): string[] {
    return this.kits.flatMap((k) => k.empty(this.world));
  }

  converged(): string[] {
    const state = this.state();
    return this.kits.flatMap((k) => k.converged(this.world, state));
  }

  /** What happens between two scheduled runs: faults clear, Azure ends what it was doing. */
  settle(): void {
    this.world.arm.clearFaults();
    this.world.cloudflare.clearFaults();
    this.world.arm.permit(APIM_ID);
    for (const kit of this.kits) if (kit.emulator === 'arm') this.world.arm.permit(scopeOf(kit));
    this.world.cloudflare.addToken(CLOUDFLARE_TOKEN, GRANTS);
    this.world.arm.settleOperations();
  }

  close(): Promise<void> {
    return this.world.close();
  }
}

/** The Azure resource a 403 on the write is given for. */
function scopeOf(kit: Kit): string {
  const target = kit.target;
  return String(target.ruleId ?? target.resourceId ?? target.ruleCollectionGroupId ?? target.siteId);
}

// ----- faults ---------------------------------------------------------------------------------------------------

const armError = (code: string, message: string) => ({ error: { code, message } });
const cfError = (code: number, message: string) => ({
  success: false,
  errors: [{ code, message }],
  messages: [],
  result: null,
});
const edgeError = (status: number) => ({
  status,
  headers: { 'Content-Type': 'text/html' },
  body: `<html><head><title>${status}</title></head><body><center><h1>${status}</h1></center><hr><center>cloudflare</center></body></html>`,
});

/** How the scene of a cell must be built for its fault: the run budget, the client timeouts. */
export function sceneOptions(fault: FaultId): SceneOptions {
  if (fault === 'throttled-past-budget') {
    // The IP-list driver's own bound at its production default: only the run budget may end the wait.
    return { safety: { runBudget: PAST_BUDGET.runBudget }, tuning: { bulkOperationTimeoutMs: 60_000 } };
  }
  if (fault === 'slow-response') {
    return { tuning: { cloudflareTimeoutMs: SLOW.timeoutMs, azureTimeoutMs: SLOW.timeoutMs } };
  }
  return {};
}

interface Target {
  emulator: 'arm' | 'cloudflare';
  read: string;
  write: string;
}

const SOURCE: Target = { emulator: 'arm', read: 'apim.get', write: 'apim.get' };

/** Injects `fault` for `subject` into the scene's world; the world has already moved to NEW_IP. */
export function inject(scene: Scene, subject: Subject, fault: FaultId): void {
  const { world } = scene;
  const kit = subject === 'source' ? undefined : KITS[subject];
  const at: Target = kit ?? SOURCE;
  const arm = at.emulator === 'arm';
  const emulator: Emulator = arm ? world.arm : world.cloudflare;
  const route = at.write;
  switch (fault) {
    case 'throttled':
    case 'throttled-past-budget': {
      const seconds = fault === 'throttled' ? 1 : PAST_BUDGET.retryAfterSeconds;
      if (arm) world.arm.throttle(route, seconds, 1);
      else world.cloudflare.throttle(route, seconds, 1);
      return;
    }
    case '5xx-burst':
    case '5xx-outage': {
      const times = fault === '5xx-burst' ? 1 : 1000;
      for (const status of fault === '5xx-burst' ? [500, 503] : [500]) {
        emulator.inject(
          arm
            ? {
                route,
                times,
                status,
                body: armError(
                  status === 500 ? 'InternalServerError' : 'ServiceUnavailable',
                  'Encountered internal server error. Diagnostic information: timestamp …, correlationId ….',
                ),
              }
            : { route, times, ...edgeError(status) },
        );
      }
      return;
    }
    case 'connection-reset':
      emulator.inject({ route, reset: true });
      return;
    case 'slow-response':
      emulator.inject({ route, latencyMs: SLOW.latencyMs });
      return;
    case 'concurrent-writer':
    case 'concurrent-writer-twice':
      concurrentWriter(scene, subject as TargetType, fault === 'concurrent-writer' ? 1 : 2);
      return;
    case 'lro-failed':
      world.arm.failNextOperation(route, 'Failed');
      return;
    case 'lro-canceled':
      world.arm.failNextOperation(route, 'Canceled');
      return;
    case 'missing-resource':
      // Played before the priming run (see playCell): the rule never existed, so priming created it.
      return;
    case 'batch-race':
      emulator.inject({ route, status: 400, body: cfError(81057, 'Record already exists.') });
      return;
    case 'batch-invalid':
      emulator.inject({
        route,
        status: 400,
        body:
          subject === 'cloudflare.dnsCname'
            ? cfError(9007, 'Content for CNAME record is invalid.')
            : cfError(9005, 'Content for A record must be a valid IPv4 address.'),
      });
      return;
    case 'forbidden':
      forbid(scene, subject);
      return;
    case 'not-found':
      emulator.inject({ route: at.read, ...notFound(subject) });
      return;
    case 'malformed-json':
      emulator.inject({ route: at.read, rawBody: '{not json' });
      return;
    case 'invalid-addresses':
      world.arm.patchApim(APIM_ID, { publicIPAddresses: [NEW_IP, 'not-an-ip', '10.0.0.5'] });
      return;
    case 'killed':
      throw new Error('a killed cell is played by playKilled()');
  }
}

function notFound(subject: Subject): { status: number; body: unknown } {
  switch (subject) {
    case 'source':
      return {
        status: 404,
        body: armError(
          'ResourceNotFound',
          "The Resource 'Microsoft.ApiManagement/service/contoso' under resource group 'rg-apim' was not found.",
        ),
      };
    case 'cloudflare.dnsRecords':
    case 'cloudflare.dnsCname':
      return {
        status: 404,
        body: cfError(7003, 'Could not route to /zones, perhaps your object identifier is invalid?'),
      };
    case 'cloudflare.poolOrigins':
      return { status: 404, body: cfError(1000, 'Pool not found') };
    case 'cloudflare.ipList':
      return { status: 404, body: cfError(10000, 'List not found') };
    case 'azure.nsgRule':
      return { status: 404, body: armError('NotFound', `Resource ${RULE_ID} not found.`) };
    case 'azure.ipGroup':
      return {
        status: 404,
        body: armError(
          'ResourceNotFound',
          `The Resource 'Microsoft.Network/ipGroups/apim-egress' under resource group 'rg-firewall' was not found.`,
        ),
      };
    case 'azure.firewallPolicyRule':
      return { status: 404, body: armError('NotFound', `Resource ${RCG_ID} not found.`) };
    case 'azure.appServiceAccessRestriction':
      return { status: 404, body: { Code: 'NotFound', Message: 'Cannot find Site with name backend-app.' } };
  }
}

function forbid(scene: Scene, subject: Subject): void {
  const { world } = scene;
  if (subject === 'source') return world.arm.forbid(APIM_ID, 'read');
  const kit = KITS[subject];
  if (kit.emulator === 'arm') return world.arm.forbid(scopeOf(kit), 'write');
  // A token that can read what the target needs but not write it.
  if (subject.startsWith('cloudflare.dns')) {
    world.cloudflare.addToken(CLOUDFLARE_TOKEN, { ...GRANTS, zones: { [ZONE_ID]: 'read' } });
  } else {
    const product = subject === 'cloudflare.ipList' ? 'lists' : 'loadBalancers';
    world.cloudflare.addToken(CLOUDFLARE_TOKEN, {
      ...GRANTS,
      accounts: { [ACCOUNT]: { ...GRANTS.accounts[ACCOUNT], [product]: 'read' } },
    });
  }
}

/**
 * Another writer changes the target between the reconciler's read and its write. Where the emulator can play
 * that writer on the write request (412 on an etag, a batch race, a pending bulk operation) it does; pools and
 * App Service config have no etag, so the target is changed and the read answered from before the change.
 */
function concurrentWriter(scene: Scene, subject: TargetType, times: number): void {
  const { world } = scene;
  const kit = KITS[subject];
  switch (subject) {
    case 'cloudflare.poolOrigins': {
      const before = world.cloudflare.pool(ACCOUNT, POOL)!;
      world.cloudflare.addPool(ACCOUNT, {
        ...before,
        origins: [
          ...origins(world),
          { name: 'dc-2', address: 'dc2.contoso.net', enabled: true, weight: 0.5 },
        ],
      });
      world.cloudflare.inject({ route: kit.read, status: 200, body: cfOk(before) });
      return;
    }
    case 'azure.appServiceAccessRestriction': {
      const before = world.arm.siteConfig(SITE_ID)!;
      const explicit = restrictions(world).filter((r) => r.ipAddress !== 'Any');
      world.arm.setSite(SITE_ID, {
        location: 'westeurope',
        ipSecurityRestrictions: [
          ...explicit,
          { ipAddress: '192.0.2.0/24', action: 'Allow', priority: 310, name: 'vpn' },
        ],
      });
      world.arm.inject({ route: kit.read, status: 200, body: before });
      return;
    }
    default:
      scene.emulator(kit).inject({ route: kit.write, concurrentModification: true, times });
  }
}

const cfOk = (result: unknown) => ({ success: true, errors: [], messages: [], result });

// ----- playing a cell -------------------------------------------------------------------------------------------

export interface Observed {
  runs: number;
  first: FirstRun | 'killed';
}

/** What a run reported, in the matrix's terms. */
export function firstRunOf(run: RunResult, subject: Subject, kits: Kit[]): FirstRun {
  const changes = run.events
    .filter((e) => e.name === 'Reconcile.Change')
    .filter((e) => subject === 'source' || kits.some((k) => k.name === e.properties.target));
  const results = new Set(changes.map((e) => e.properties.result));
  return {
    outcome: run.report.outcome,
    exitCode: run.exitCode as FirstRun['exitCode'],
    blocked: run.events
      .filter((e) => e.name === 'Reconcile.Blocked')
      .map((e) => e.properties.reason as GuardCode),
    changes:
      changes.length === 0
        ? 'none'
        : results.size === 1 && results.has('applied')
          ? 'applied'
          : results.size === 1 && results.has('failed')
            ? 'failed'
            : (`mixed: ${[...results].join(', ')}` as FirstRun['changes']),
  };
}

export function kitsFor(subject: Subject): Kit[] {
  return subject === 'source' ? Object.values(KITS) : [KITS[subject]];
}

/** The checks after every run: nothing foreign changed, nothing empty. */
function checkInvariants(scene: Scene, before: string[], when: string): void {
  const after = new Set(scene.foreign());
  const changed = before.filter((f) => !after.has(f));
  if (changed.length > 0) {
    throw new Error(
      `${when}: entries the reconciler does not own changed or vanished:\n${changed.join('\n')}`,
    );
  }
  const empty = scene.empty();
  if (empty.length > 0) throw new Error(`${when}: ${empty.join('; ')}`);
}

/**
 * Plays one cell: the world in sync at OLD_IP, APIM moves to NEW_IP, the fault, then runs until converged.
 * Returns what happened, in the matrix's terms, for the test to compare with the cell.
 */
export async function playCell(cell: Cell): Promise<Observed & { details: string[] }> {
  const kits = kitsFor(cell.subject);
  const scene = await Scene.start(kits, sceneOptions(cell.fault));
  const details: string[] = [];
  try {
    // The rule is missing from the start: the priming run must create it (and the runs after, keep it).
    if (cell.fault === 'missing-resource') scene.world.arm.deleteSecurityRule(RULE_ID);
    // A dnsCname target's first write is the migration from A records: no run before the fault.
    if (cell.subject !== 'cloudflare.dnsCname') {
      const primed = await scene.run();
      if (primed.exitCode !== 0) throw new Error(`priming failed:\n${primed.output}`);
    }
    reactivate(scene.world, NEW_IP);
    inject(scene, cell.subject, cell.fault);
    const before = scene.foreign();
    checkInvariants(scene, before, 'before the faulted run');
    resetCounts(scene.world);

    let first: FirstRun | undefined;
    let runs = 0;
    let problems: string[] = [];
    do {
      const run = await scene.run();
      runs++;
      details.push(`run ${runs}: ${run.report.outcome}, exit ${run.exitCode}, ${run.ms} ms\n${run.output}`);
      if (runs === 1) {
        first = firstRunOf(run, cell.subject, kits);
        checkFirstRun(cell, run, scene.world);
      } else if (!['changed', 'noop'].includes(run.report.outcome)) {
        throw new Error(`run ${runs} after the fault cleared was ${run.report.outcome}:\n${run.output}`);
      }
      scene.settle();
      if (cell.fault === 'invalid-addresses') reactivate(scene.world, NEW_IP);
      checkInvariants(scene, before, `after run ${runs}`);
      problems = scene.converged();
    } while (problems.length > 0 && runs < 3);
    if (problems.length > 0) throw new Error(`not converged after ${runs} runs: ${problems.join('; ')}`);

    await expectQuietRun(scene, before);
    return { runs, first: first!, details };
  } finally {
    await scene.close();
  }
}

/** A further run once converged: nothing to do, nothing written. */
async function expectQuietRun(scene: Scene, before: string[]): Promise<void> {
  resetCounts(scene.world);
  const quiet = await scene.run();
  if (quiet.report.outcome !== 'noop' || writes(scene.world) !== 0) {
    throw new Error(
      `a further run was ${quiet.report.outcome} with ${writes(scene.world)} writes: ${json(scene.world.arm.counts())} ${json(scene.world.cloudflare.counts())}\n${quiet.output}`,
    );
  }
  checkInvariants(scene, before, 'after the quiet run');
}

/** The answer a fault must have given during the faulted run, where it can be told from the emulator's log. */
function hitOf(cell: Cell): { at: 'arm' | 'cloudflare'; route: string; status: number } | undefined {
  const at: Target = cell.subject === 'source' ? SOURCE : KITS[cell.subject];
  const etag = ['azure.nsgRule', 'azure.ipGroup', 'azure.firewallPolicyRule'].includes(cell.subject);
  const status: Partial<Record<FaultId, number>> = {
    throttled: 429,
    'throttled-past-budget': 429,
    '5xx-burst': 503,
    '5xx-outage': 500,
    'connection-reset': 0,
    forbidden: 403,
    'batch-race': 400,
    'batch-invalid': 400,
    ...(etag ? { 'concurrent-writer': 412, 'concurrent-writer-twice': 412 } : {}),
    ...(cell.subject.startsWith('cloudflare.dns')
      ? { 'concurrent-writer': 400, 'concurrent-writer-twice': 400 }
      : {}),
    ...(cell.subject === 'cloudflare.ipList' ? { 'concurrent-writer': 429 } : {}),
  };
  if (cell.fault === 'not-found') return { at: at.emulator, route: at.read, status: 404 };
  const wanted = status[cell.fault];
  return wanted === undefined ? undefined : { at: at.emulator, route: at.write, status: wanted };
}

/** Fault-specific facts of the faulted run: the fault was hit, the wait was honoured, the budget bounded it. */
function checkFirstRun(cell: Cell, run: RunResult, world: World): void {
  const hit = hitOf(cell);
  if (hit && !world[hit.at].requests.some((r) => r.route === hit.route && r.status === hit.status)) {
    throw new Error(
      `the fault was not hit: no ${hit.status} on ${hit.route} in ${json(world[hit.at].requests.map((r) => `${r.route} ${r.status}`))}`,
    );
  }
  const held = run.report.sources.some((s) => s.block);
  if (held && writes(world) !== 0) {
    throw new Error(`the source was held, yet ${writes(world)} writes went out: ${json(world.arm.counts())}`);
  }
  if (cell.fault === 'throttled' && run.ms < 950) {
    throw new Error(`a Retry-After of 1 s was not waited for: the run took ${run.ms} ms`);
  }
  if (cell.fault === 'throttled-past-budget') {
    if (run.ms > PAST_BUDGET.budgetMs + 1500) {
      throw new Error(`the run outlived its ${PAST_BUDGET.runBudget} budget: ${run.ms} ms`);
    }
    const errors = run.output.split('\n').filter((l) => l.startsWith('error: '));
    if (errors.length === 0 || !errors.every((l) => /429|throttl|budget/i.test(l))) {
      throw new Error(`the errors do not say the run was throttled or out of budget:\n${errors.join('\n')}`);
    }
  }
}

// ----- killed between two writes --------------------------------------------------------------------------------

/** The target written alongside the cell's, whose write the child finishes before it is killed. */
function companionOf(subject: TargetType): Kit {
  return KITS[
    subject === 'azure.appServiceAccessRestriction' ? 'azure.ipGroup' : 'azure.appServiceAccessRestriction'
  ];
}

/**
 * The compiled CLI applies in a child process; the cell's target answers its write late, the child is killed
 * once the companion's write is in and the cell's write has reached the emulator, and a fresh run follows.
 */
export async function playKilled(cell: Cell): Promise<Observed & { details: string[] }> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does it first)`);
  const subject = cell.subject as TargetType;
  const kit = KITS[subject];
  const companion = companionOf(subject);
  const scene = await Scene.start([companion, kit]);
  const details: string[] = [];
  try {
    // A dnsCname target's write is its migration from A records: only the companion runs before.
    const primed = await scene.run(subject === 'cloudflare.dnsCname' ? scene.config([companion]) : undefined);
    if (primed.exitCode !== 0) throw new Error(`priming failed:\n${primed.output}`);
    reactivate(scene.world, NEW_IP);
    const before = scene.foreign();
    const late = scene.emulator(kit);
    late.inject({ route: kit.write, latencyMs: 2_000 });
    resetCounts(scene.world);

    const child = spawn(
      process.execPath,
      [CLI, 'apply', '--config', scene.configFile, '--state', scene.stateFile],
      {
        cwd: scene.world.dir,
        env: { ...process.env, ...scene.world.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );

    const companionWrote = () => scene.emulator(companion).count({ route: companion.write }) > 0;
    // Generous: eight children start at once on a small machine; this bounds a hang, it does not time anything.
    const deadline = Date.now() + 60_000;
    let inFlightSince: number | undefined;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the child never reached the late write:\n${output}`);
      if (child.exitCode !== null) throw new Error(`the child ended before it was killed:\n${output}`);
      if (companionWrote() && late.inFlight > 0) {
        inFlightSince ??= Date.now();
        if (Date.now() - inFlightSince > 250) break;
      } else inFlightSince = undefined;
      await sleep(10);
    }
    child.kill('SIGKILL');
    const { signal } = await exited;
    if (signal !== 'SIGKILL') throw new Error(`the child was not killed (${signal}):\n${output}`);
    details.push(`killed after ${json(scene.world.arm.counts())} ${json(scene.world.cloudflare.counts())}`);
    // The emulator still answers the late write, to nobody: it was received before the kill.
    while (late.count({ route: kit.write }) === 0) await sleep(20);
    // The write-ahead record (`pending`) may name the new address; a saved end of run (`owned`) must not.
    if (existsSync(scene.stateFile)) {
      const saved = JSON.parse(readFileSync(scene.stateFile, 'utf8')) as {
        targets: Record<string, { owned: string[] }>;
      };
      if (Object.values(saved.targets).some((t) => t.owned.some((key) => key.startsWith(NEW_IP)))) {
        throw new Error('the killed run saved its state: it was not killed between two writes');
      }
    }

    scene.settle();
    checkInvariants(scene, before, 'after the kill');
    const fresh = await scene.run();
    details.push(`fresh run: ${fresh.report.outcome}, exit ${fresh.exitCode}\n${fresh.output}`);
    if (!['changed', 'noop'].includes(fresh.report.outcome)) {
      throw new Error(`the run after the kill was ${fresh.report.outcome}:\n${fresh.output}`);
    }
    scene.settle();
    checkInvariants(scene, before, 'after the fresh run');
    const problems = scene.converged();
    if (problems.length > 0) throw new Error(`not converged after the fresh run: ${problems.join('; ')}`);
    await expectQuietRun(scene, before);
    return { runs: 2, first: 'killed', details };
  } finally {
    await scene.close();
  }
}

/** Compares what a cell's play observed with the cell; on a difference, says what each run did. */
export function expectCell(cell: Cell, observed: Observed & { details: string[] }): void {
  const actual = { runs: observed.runs, first: observed.first };
  const wanted = { runs: cell.runs, first: cell.first };
  if (process.env.FAULTS_DEBUG) process.stdout.write(`${cell.id}\n${observed.details.join('\n\n')}\n\n`);
  if (process.env.FAULTS_OBSERVE)
    appendFileSync(process.env.FAULTS_OBSERVE, `${json({ id: cell.id, ...actual })}\n`);
  if (json(actual) !== json(wanted)) {
    throw new Error(
      `cell ${cell.id}\nexpected ${json(wanted)}\nobserved ${json(actual)}\n\n${observed.details.join('\n\n')}`,
    );
  }
}
