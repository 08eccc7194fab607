import fc from 'fast-check';
import { parseConfig } from '../../lib/config/load';
import { ManualClock } from '../../lib/engine/clock';
import { reconcile } from '../../lib/engine/reconcile';
import { type DriverTable } from '../../lib/targets/registry';
import type { RunReport } from '../../lib/engine/report';
import { parsePrefix } from '../../lib/net/addresses';
import type { Observation, SourceReader } from '../../lib/source/observation';
import { emptyState, type State, type StateStore } from '../../lib/state/store';
import { MemoryRecorder } from '../../lib/telemetry/memory';
import type { Restriction } from '../../lib/targets/appServiceAccessRestriction/plan';
import { OWNER_TAG } from '../../lib/plan/marks';
import {
  ACCOUNT,
  addressesArb,
  allowlistEntryArb,
  APIM,
  broadAddressesArb,
  dnsRecordsFrom,
  dnsSeedArb,
  GATEWAY,
  hostsArb,
  IP_GROUP,
  itemSeedArb,
  keyOf,
  LIST,
  listItemsFrom,
  memoryDrivers,
  MINUTE,
  NOW,
  originKey,
  originsFrom,
  originSeedArb,
  POOL,
  RECORD,
  remembered,
  RESOURCES,
  restrictionKey,
  restrictionSeedArb,
  restrictionsFrom,
  SITE,
  stateFrom,
  stateSeedArb,
  ZONE,
  type Contents,
  type Journal,
  type TargetName,
} from '../support/targetModels';

/**
 * Properties of whole runs: the real engine (`reconcile`) with the real planners over in-memory targets of
 * every type (tests/support/targetModels.ts), all fed by one source.
 *
 *   (c) no run adds an entry broader than safety.minPrefixLength, whatever prefixes the source gives;
 *   (d) a failed, stopped or empty observation changes nothing; an invalid address holds exactly the targets that
 *       select it; a target that cannot be read writes nothing and no allowlist of its source loses an entry
 *       (DNS and pool origins still follow the source), whatever the clock and `force`;
 *   (e) after a run, a second run at the same time writes nothing; writes follow make-before-break order;
 *   (f) a dry run or observe mode writes nothing to targets or state.
 */

const RUNS = 300;
const runAsync = <T>(
  arb: fc.Arbitrary<T>,
  check: (value: T) => Promise<void>,
  numRuns = RUNS,
  examples: T[] = [],
) => fc.assert(fc.asyncProperty(arb, check), { numRuns, examples: examples.map((e) => [e] as [T]) });

class MemoryStore implements StateStore {
  readonly location = 'memory';
  saves = 0;
  constructor(public state: State) {}
  async load() {
    return { value: structuredClone(this.state), version: String(this.saves) };
  }
  async save(state: State) {
    this.state = structuredClone(state);
    return String(++this.saves);
  }
}

class FakeSource implements SourceReader {
  reads = 0;
  constructor(public answer: Observation | Error) {}
  async observe(): Promise<Observation> {
    this.reads++;
    if (this.answer instanceof Error) throw this.answer;
    return structuredClone(this.answer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A random world: the contents of one target of each type, what the state remembers of each, and the config.

const NAMES: TargetName[] = ['egress', 'api-dns', 'waf', 'pool', 'app'];

const worldArb = fc.record({
  ipGroup: fc.record({ marked: fc.boolean(), entries: fc.array(allowlistEntryArb, { maxLength: 5 }) }),
  dns: fc.array(dnsSeedArb, { maxLength: 4 }),
  ipList: fc.array(itemSeedArb, { maxLength: 5 }),
  pool: fc.record({ minimumOrigins: fc.nat(2), origins: fc.array(originSeedArb, { maxLength: 4 }) }),
  app: fc.record({
    main: fc.array(restrictionSeedArb, { maxLength: 4 }),
    scm: fc.array(restrictionSeedArb, { maxLength: 2 }),
    scmUseMain: fc.boolean(),
  }),
  states: fc.tuple(stateSeedArb, stateSeedArb, stateSeedArb, stateSeedArb, stateSeedArb),
  adopt: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()),
  scm: fc.boolean(),
  safety: fc.record({
    retireAfter: fc.constantFrom('PT0S', 'PT30M', 'PT1H'),
    maxRemovalsPerTarget: fc.nat(4),
    minPrefixLength: fc.record({
      ipv4: fc.constantFrom(8, 16, 24, 27, 28, 30, 32),
      ipv6: fc.constantFrom(32, 64, 120, 124, 126, 128),
    }),
  }),
  force: fc.boolean(),
});

type WorldSeed = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function contentsOf(w: WorldSeed): Contents {
  return {
    ipGroup: {
      tags: w.ipGroup.marked ? { [OWNER_TAG.name]: OWNER_TAG.value } : { env: 'prod' },
      ipAddresses: w.ipGroup.entries.map((e) => e.text),
    },
    dns: dnsRecordsFrom(w.dns),
    ipList: listItemsFrom(w.ipList),
    pool: { minimumOrigins: w.pool.minimumOrigins, origins: originsFrom(w.pool.origins) },
    app: {
      main: restrictionsFrom(w.app.main),
      scm: restrictionsFrom(w.app.scm),
      scmUseMain: w.app.scmUseMain,
    },
  };
}

function stateOf(w: WorldSeed): State {
  const state = emptyState();
  const entries = {
    egress: remembered(w.ipGroup.entries, (e) => e.text),
    'api-dns': [],
    waf: remembered(w.ipList, (i) => i.ip),
    pool: [],
    app: remembered([...w.app.main, ...w.app.scm], (r) => r.ip),
  };
  NAMES.forEach((name, i) => {
    const target = stateFrom(w.states[i], RESOURCES[name], entries[name]);
    if (target) state.targets[name] = target;
  });
  return state;
}

function configOf(w: WorldSeed) {
  const [egress, dns, waf, pool, app] = w.adopt;
  return parseConfig({
    sources: { prod: { resourceId: APIM } },
    targets: [
      { name: 'egress', type: 'azure.ipGroup', source: 'prod', resourceId: IP_GROUP, adopt: egress },
      {
        name: 'api-dns',
        type: 'cloudflare.dnsRecords',
        source: 'prod',
        zoneId: ZONE,
        recordName: RECORD,
        adopt: dns,
      },
      {
        name: 'waf',
        type: 'cloudflare.ipList',
        source: 'prod',
        accountId: ACCOUNT,
        listId: LIST,
        adopt: waf,
      },
      {
        name: 'pool',
        type: 'cloudflare.poolOrigins',
        source: 'prod',
        accountId: ACCOUNT,
        poolId: POOL,
        adopt: pool,
      },
      {
        name: 'app',
        type: 'azure.appServiceAccessRestriction',
        source: 'prod',
        siteId: SITE,
        adopt: app,
        scm: w.scm,
        priorityRange: [300, 320],
      },
    ],
    safety: w.safety,
  });
}

function observation(inbound: string[], outbound: string[], extra: Partial<Observation> = {}): Observation {
  return {
    source: 'prod',
    resourceId: APIM,
    serviceName: 'contoso',
    provisioningState: 'Succeeded',
    sku: 'Premium',
    gatewayHost: GATEWAY,
    regions: [
      { location: 'West Europe', primary: true, gatewayDisabled: false, inbound, outbound, private: [] },
    ],
    ...extra,
  };
}

interface Harness {
  contents: Contents;
  journal: Journal;
  store: MemoryStore;
  clock: ManualClock;
  sources: FakeSource;
  run(options?: { dryRun?: boolean; mode?: 'enforce' | 'observe' }): Promise<RunReport>;
}

function harness(w: WorldSeed, answer: Observation | Error, failingReads: string[] = []): Harness {
  const contents = contentsOf(w);
  const journal: Journal = { writes: [], failingReads: new Set(failingReads) };
  const store = new MemoryStore(stateOf(w));
  const clock = new ManualClock(NOW);
  const config = configOf(w);
  const drivers = memoryDrivers(contents, journal) as unknown as DriverTable;
  const sources = new FakeSource(answer);
  return {
    contents,
    journal,
    store,
    clock,
    sources,
    run: (options = {}) =>
      reconcile(
        {
          config,
          sources,
          drivers,
          store,
          recorder: new MemoryRecorder(),
          clock,
          mode: options.mode ?? 'enforce',
        },
        { trigger: 'timer', force: w.force, dryRun: options.dryRun },
      ),
  };
}

/** Every address-like key each target holds, by target. */
function keysByTarget(c: Contents): Record<TargetName, string[]> {
  return {
    egress: c.ipGroup.ipAddresses.map(keyOf),
    'api-dns': c.dns.filter((r) => r.type === 'A' || r.type === 'AAAA').map((r) => keyOf(r.content)),
    waf: c.ipList.map((i) => keyOf(i.ip)),
    pool: c.pool.origins.map(originKey),
    app: [...c.app.main, ...c.app.scm].map((r: Restriction) => restrictionKey(r)),
  };
}

// ---------------------------------------------------------------------------------------------------------------

describe('(c) BroadPrefix through the engine', () => {
  test('no run adds an entry broader than safety.minPrefixLength, whatever the source gives', async () => {
    const cases = fc.record({
      world: worldArb,
      inbound: fc.tuple(
        hostsArb,
        fc.option(fc.constantFrom(...['20.1.1.0/24', '2603:1000::/64']), { freq: 4 }),
      ),
      outbound: broadAddressesArb,
    });
    await runAsync(cases, async ({ world, inbound: [hosts, prefix], outbound }) => {
      const h = harness(world, observation(prefix ? [...hosts, prefix] : hosts, outbound));
      const before = keysByTarget(h.contents);
      const report = await h.run();
      const after = keysByTarget(h.contents);
      const min = world.safety.minPrefixLength;
      for (const name of NAMES) {
        const old = new Set(before[name]);
        for (const key of after[name].filter((k) => !old.has(k))) {
          const p = parsePrefix(key);
          expect(p).toBeDefined();
          expect(p!.length).toBeGreaterThanOrEqual(min[p!.family]);
        }
      }
      // A target held for it says so, and wrote nothing.
      for (const t of report.targets.filter((x) => x.block?.reason === 'BroadPrefix')) {
        expect(t.status).toBe('blocked');
        expect(h.journal.writes.filter((w) => w.endsWith(`:${t.name}`))).toEqual([]);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

const failures = fc.constantFrom(
  Object.assign(new Error('Service Unavailable'), { statusCode: 503 }),
  Object.assign(new Error('The client does not have authorization'), {
    statusCode: 403,
    code: 'AuthorizationFailed',
  }),
  Object.assign(new Error('The Resource was not found.'), { statusCode: 404, code: 'ResourceNotFound' }),
  Object.assign(new Error('Too many requests'), { statusCode: 429 }),
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }),
);

const badObservation = fc.oneof(
  fc.record({ kind: fc.constant('unavailable' as const), error: failures }),
  fc.record({
    kind: fc.constant('not running' as const),
    provisioningState: fc.constantFrom('Stopped', 'Activating', 'Updating', 'Failed', 'Deleting', ''),
    addresses: addressesArb,
  }),
  fc.record({
    kind: fc.constant('empty' as const),
    sku: fc.constantFrom('Premium', 'StandardV2', 'BasicV2', 'Consumption'),
    noRegions: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('invalid' as const),
    addresses: addressesArb,
    bad: fc.constantFrom(
      '10.0.0.4',
      '127.0.0.1',
      '169.254.1.1',
      '100.64.0.1',
      '224.0.0.1',
      '0.0.0.0/0',
      '::/0',
      'fd00::1',
      '::1',
      'not-an-ip',
      '',
    ),
    where: fc.constantFrom('inbound', 'outbound'),
  }),
  fc.record({
    kind: fc.constant('target unreadable' as const),
    addresses: fc.tuple(hostsArb, addressesArb).map(([a, b]) => ['20.9.9.9', ...a, ...b]),
    failing: fc.subarray(NAMES, { minLength: 1 }),
  }),
);
type Bad = typeof badObservation extends fc.Arbitrary<infer T> ? T : never;

function answerOf(bad: Bad): Observation | Error {
  switch (bad.kind) {
    case 'unavailable':
      return bad.error;
    case 'not running':
      return observation(bad.addresses, [], { provisioningState: bad.provisioningState });
    case 'empty':
      return bad.noRegions
        ? observation([], [], { sku: bad.sku, regions: [] })
        : observation([], [], { sku: bad.sku });
    case 'invalid':
      return bad.where === 'inbound'
        ? observation([...bad.addresses, bad.bad], [])
        : observation(bad.addresses, ['60.0.0.0/31', bad.bad]);
    case 'target unreadable':
      return observation(bad.addresses, []);
  }
}

const ALLOWLISTS: TargetName[] = ['egress', 'waf', 'app'];

/** Every allowlist entry of the contents, by target: what a run that may not remove must leave in place. */
function allowlistKeys(c: Contents): Record<string, string[]> {
  return {
    egress: c.ipGroup.ipAddresses.map(keyOf),
    waf: c.ipList.map((i) => keyOf(i.ip)),
    app: [...c.app.main, ...c.app.scm].map(restrictionKey),
  };
}

const writesOf = (h: Harness, name: string) => h.journal.writes.filter((w) => w.endsWith(`:${name}`));

describe('(d) a failed, stopped, empty or invalid observation — or an unreadable target — holds what it must', () => {
  test('a source that failed, is not running or gives nothing: no write, every target held, state untouched', async () => {
    const cases = fc.record({
      world: worldArb,
      bad: badObservation.filter((b) => b.kind !== 'invalid' && b.kind !== 'target unreadable'),
      minutes: fc.integer({ min: 0, max: 600 }),
    });
    await runAsync(
      cases,
      async ({ world, bad, minutes }) => {
        const h = harness(world, answerOf(bad));
        h.clock.advance(minutes * MINUTE);
        const contents = structuredClone(h.contents);
        const targets = structuredClone(h.store.state.targets);

        const report = await h.run();

        expect(h.journal.writes).toEqual([]);
        expect(h.contents).toEqual(contents);
        expect(report.counts.changesApplied).toBe(0);
        for (const t of report.targets) expect(t.status).toBe('blocked');
        expect(h.store.state.targets).toEqual(targets);
      },
      400,
    );
  });

  test('an invalid address holds every target that selects it, and only those', async () => {
    const cases = fc.record({
      world: worldArb,
      bad: badObservation.filter((b) => b.kind === 'invalid'),
      minutes: fc.integer({ min: 0, max: 600 }),
    });
    await runAsync(
      cases,
      async ({ world, bad, minutes }) => {
        if (bad.kind !== 'invalid') return;
        const h = harness(world, answerOf(bad));
        h.clock.advance(minutes * MINUTE);
        const contents = structuredClone(h.contents);

        const report = await h.run();

        // Outbound targets (the allowlists) select the bad value either way: held, nothing of theirs written.
        for (const name of ALLOWLISTS) {
          expect(writesOf(h, name)).toEqual([]);
          expect(report.targets.find((t) => t.name === name)?.block?.reason).toBe('InvalidAddress');
        }
        expect(allowlistKeys(h.contents)).toEqual(allowlistKeys(contents));
        // Inbound targets select it only when it is among the inbound addresses.
        for (const name of ['api-dns', 'pool']) {
          const t = report.targets.find((x) => x.name === name)!;
          if (bad.where === 'inbound') {
            expect(t.block?.reason).toBe('InvalidAddress');
            expect(writesOf(h, name)).toEqual([]);
          } else {
            expect(t.block?.reason).not.toBe('InvalidAddress');
          }
        }
        expect(report.sources[0]!.block).toBeUndefined();
      },
      400,
    );
  });

  test('an unreadable target: it writes nothing, no allowlist entry of the source is removed, DNS may follow', async () => {
    const cases = fc.record({
      world: worldArb,
      bad: badObservation.filter((b) => b.kind === 'target unreadable'),
      minutes: fc.integer({ min: 0, max: 600 }),
    });
    await runAsync(
      cases,
      async ({ world, bad, minutes }) => {
        if (bad.kind !== 'target unreadable') return;
        const h = harness(world, answerOf(bad), bad.failing);
        h.clock.advance(minutes * MINUTE);
        const before = allowlistKeys(h.contents);

        const report = await h.run();

        for (const name of bad.failing) {
          expect(writesOf(h, name)).toEqual([]);
          expect(report.targets.find((t) => t.name === name)?.status).toBe('failed');
        }
        // Allowlists only gain: every entry they held is still there.
        const after = allowlistKeys(h.contents);
        for (const name of ALLOWLISTS) {
          for (const key of before[name]!) expect(after[name]).toContain(key);
        }
        expect(report.outcome).not.toBe('changed');
      },
      500,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

const PHASES = ['allowlist-add', 'dns', 'allowlist-remove'];

describe('(e) whole runs', () => {
  test('a second run at the same time writes nothing; writes go allowlist-add → dns → allowlist-remove', async () => {
    const cases = fc.record({
      world: worldArb,
      inbound: fc.tuple(hostsArb, fc.constantFrom('20.9.9.9', '2603:1000::9')).map(([a, b]) => [b, ...a]),
      outbound: addressesArb,
      later: fc.constantFrom(0, 30, 60, 61, 600),
    });
    await runAsync(cases, async ({ world, inbound, outbound, later }) => {
      const h = harness(world, observation(inbound, outbound));
      // Within a run the phases never go back: allowlists gain before DNS moves, and lose only after.
      const inOrder = () => {
        const phases = h.journal.writes.map((w) => PHASES.indexOf(w.split(':')[0]!));
        expect(phases).toEqual([...phases].sort((a, b) => a - b));
        h.journal.writes.length = 0;
      };
      await h.run();
      inOrder();
      h.clock.advance(later * MINUTE);
      await h.run();
      inOrder();

      const contents = structuredClone(h.contents);
      const third = await h.run();
      expect(h.journal.writes).toEqual([]);
      expect(h.contents).toEqual(contents);
      expect(third.counts.changesApplied).toBe(0);
      expect(third.targets.filter((t) => t.status === 'planned' || t.status === 'changed')).toEqual([]);
    });
  });
});

describe('(f) dry runs and observe mode', () => {
  test('write nothing to targets, and a dry run saves no state', async () => {
    const cases = fc.record({
      world: worldArb,
      inbound: fc.tuple(hostsArb, fc.constant('20.9.9.9')).map(([a, b]) => [b, ...a]),
      outbound: addressesArb,
      dryRun: fc.boolean(),
    });
    await runAsync(cases, async ({ world, inbound, outbound, dryRun }) => {
      const h = harness(world, observation(inbound, outbound));
      const contents = structuredClone(h.contents);
      const state = structuredClone(h.store.state);
      await h.run(dryRun ? { dryRun: true } : { mode: 'observe' });
      expect(h.journal.writes).toEqual([]);
      expect(h.contents).toEqual(contents);
      if (dryRun) {
        expect(h.store.state).toEqual(state);
        return;
      }
      // Observe mode keeps ownership as it was; it only learns that addresses the source gives have not departed.
      for (const [name, before] of Object.entries(state.targets)) {
        const now = h.store.state.targets[name]!;
        expect({ resource: now.resource, owned: now.owned }).toEqual({
          resource: before.resource,
          owned: before.owned,
        });
        for (const [key, since] of Object.entries(now.departed)) expect(before.departed[key]).toBe(since);
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('(g) retireAfter over a history of runs', () => {
  const pool = ['20.1.1.1', '20.2.2.2', '20.3.3.3', '2603:1000::1', '60.0.0.0/31'];
  const step = fc.record({
    inbound: fc.subarray(pool, { minLength: 1, maxLength: 3 }),
    minutes: fc.constantFrom(5, 30, 59, 60, 61, 120),
    unreadable: fc.option(fc.constantFrom(...NAMES), { freq: 3, nil: null }),
    run: fc.constantFrom<'enforce' | 'observe' | 'source down'>(
      'enforce',
      'enforce',
      'enforce',
      'enforce',
      'observe',
      'source down',
    ),
  });
  const cases = fc.record({
    world: worldArb,
    retireAfter: fc.constantFrom('PT30M', 'PT1H'),
    steps: fc.array(step, { minLength: 2, maxLength: 8 }),
  });
  type Case = typeof cases extends fc.Arbitrary<infer T> ? T : never;

  /**
   * The source moves between addresses over several runs — some in observe mode, some while the source or a
   * target of it cannot be read. An address leaves an allowlist only once it has been out of the source, as the
   * runs saw it, for retireAfter: counted from the first run that did not see it after the last run that did.
   */
  async function check({ world, retireAfter, steps }: Case) {
    const retireAfterMs = retireAfter === 'PT1H' ? 60 * MINUTE : 30 * MINUTE;
    // A fresh start: the reconciler remembers nothing, so every history below is one it saw itself.
    const h = harness(
      {
        ...world,
        states: [undefined, undefined, undefined, undefined, undefined],
        safety: { ...world.safety, retireAfter },
      },
      observation([], []),
    );
    const firstMissing = new Map<string, number>();
    const allowlists = (c: Contents) => ({
      egress: new Set(c.ipGroup.ipAddresses.map(keyOf)),
      waf: new Set(c.ipList.map((i) => keyOf(i.ip))),
      app: new Set([...c.app.main, ...c.app.scm].map((r) => restrictionKey(r))),
    });
    for (const [i, s] of steps.entries()) {
      if (i > 0) h.clock.advance(s.minutes * MINUTE);
      const now = h.clock.now().getTime();
      h.sources.answer =
        s.run === 'source down'
          ? Object.assign(new Error('Service Unavailable'), { statusCode: 503 })
          : observation(s.inbound, []);
      h.journal.failingReads = new Set(s.unreadable ? [s.unreadable] : []);
      const desired = new Set(s.inbound.map(keyOf));
      const before = allowlists(h.contents);
      // What the runs see of the source (nothing while it cannot be read).
      for (const key of new Set([...pool.map(keyOf), ...Object.values(before).flatMap((k) => [...k])])) {
        if (s.run === 'source down') continue;
        if (desired.has(key)) firstMissing.delete(key);
        else if (!firstMissing.has(key)) firstMissing.set(key, now);
      }
      await h.run({ mode: s.run === 'observe' ? 'observe' : 'enforce' });
      const after = allowlists(h.contents);
      for (const name of ['egress', 'waf', 'app'] as const) {
        for (const key of before[name]) {
          if (after[name].has(key)) continue;
          const gone = now - (firstMissing.get(key) ?? now);
          if (desired.has(key) || gone < retireAfterMs) {
            throw new Error(
              `step ${i}: ${name} dropped ${key} ${gone / MINUTE} min after the runs stopped seeing it in the source (retireAfter ${retireAfter})`,
            );
          }
        }
      }
    }
  }

  test('an owned address leaves an allowlist only retireAfter after the runs stopped seeing it in the source', async () => {
    // The first counterexample fast-check found (fixed in lib/engine/reconcile.ts, saveState): 2603:1000::1 came
    // back while the run could not write the IP list (another target of the source was unreadable), so its old
    // departure time survived, and when it left again it was removed at once instead of after retireAfter.
    const found: Case = {
      world: {
        ipGroup: { marked: false, entries: [] },
        dns: [],
        ipList: [],
        pool: { minimumOrigins: 0, origins: [] },
        app: { main: [], scm: [], scmUseMain: false },
        states: [undefined, undefined, undefined, undefined, undefined],
        adopt: [false, false, false, false, false],
        scm: false,
        safety: { retireAfter: 'PT0S', maxRemovalsPerTarget: 1, minPrefixLength: { ipv4: 8, ipv6: 32 } },
        force: false,
      },
      retireAfter: 'PT30M',
      steps: [
        { inbound: ['2603:1000::1'], minutes: 5, unreadable: null, run: 'enforce' },
        { inbound: ['60.0.0.0/31'], minutes: 5, unreadable: null, run: 'enforce' },
        { inbound: ['20.2.2.2', '2603:1000::1'], minutes: 5, unreadable: 'egress', run: 'enforce' },
        { inbound: ['20.3.3.3'], minutes: 120, unreadable: null, run: 'enforce' },
      ],
    };
    await runAsync(cases, check, RUNS, [found]);
  });
});
