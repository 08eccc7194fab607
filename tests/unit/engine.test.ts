import { parseConfig } from '../../lib/config/load';
import type { IpGroupTarget } from '../../lib/targets/ipGroup/schema';
import type { DnsRecordsTarget } from '../../lib/targets/dnsRecords/schema';
import type { TargetConfig } from '../../lib/config/schema';
import { ManualClock } from '../../lib/engine/clock';
import { planAllowlist, type AllowlistActual, type AllowlistWrite } from '../../lib/plan/allowlist';
import { reconcile, type EngineDependencies } from '../../lib/engine/reconcile';
import { type DriverTable } from '../../lib/targets/registry';
import type { Observation, SourceReader } from '../../lib/source/observation';
import { emptyState, type State, type StateStore } from '../../lib/state/store';
import { MemoryRecorder } from '../../lib/telemetry/memory';
import type { ApplyItem, ApplyOutcome, TargetDriver } from '../../lib/targets/target';
import type { PlanContext, TargetPlan } from '../../lib/plan/types';

/**
 * The engine over in-memory targets that implement the Target interface: ordering, guards, lost races,
 * state and events. The real SDK paths are covered by tests/e2e against the sandbox.
 */

const APIM = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso';
const group = (name: string) =>
  `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/ipGroups/${name}`;

class MemoryStore implements StateStore {
  readonly location = 'memory';
  state: State = emptyState();
  saves = 0;
  async load() {
    return { value: structuredClone(this.state), version: String(this.saves) };
  }
  async save(state: State) {
    this.state = structuredClone(state);
    return String(++this.saves);
  }
}

class FakeSource implements SourceReader {
  failure: Error | undefined;
  constructor(public observation: Omit<Observation, 'source' | 'resourceId'>) {}
  async observe(source: string, resourceId: string): Promise<Observation> {
    if (this.failure) throw this.failure;
    return { ...structuredClone(this.observation), source, resourceId };
  }
}

const journal: string[] = [];

class MemoryGroups implements TargetDriver<IpGroupTarget, AllowlistActual, AllowlistWrite> {
  readonly type = 'azure.ipGroup' as const;
  groups = new Map<string, AllowlistActual>();
  outcomes: ApplyOutcome['status'][] = [];
  readFailure: Error | undefined;
  /** Only this group fails to read, when set. */
  failing: string | undefined;
  resource(t: IpGroupTarget) {
    return t.resourceId;
  }
  async read(t: IpGroupTarget) {
    if (this.readFailure && (this.failing === undefined || this.failing === t.resourceId))
      throw this.readFailure;
    return structuredClone(this.groups.get(t.resourceId)!);
  }
  plan(t: IpGroupTarget, actual: AllowlistActual, ctx: PlanContext): TargetPlan<AllowlistWrite> {
    return planAllowlist(
      actual,
      ctx,
      { adopt: t.adopt, label: t.name, markPlace: 'tags', targetName: t.name, wildcardHint: 'use another' },
      t.resourceId,
    );
  }
  async apply(items: ApplyItem<IpGroupTarget, AllowlistActual, AllowlistWrite>[]): Promise<ApplyOutcome[]> {
    return items.map(({ target, plan }) => {
      const status = this.outcomes.shift() ?? 'applied';
      journal.push(`${plan.phase}:${target.name}:${status}`);
      if (status === 'applied')
        this.groups.set(target.resourceId, { exists: true, marked: true, entries: plan.write!.entries });
      if (status === 'lost-race') this.groups.get(target.resourceId)!.entries.push('99.9.9.9/32');
      return status === 'applied' ? { status } : { status, error: status };
    });
  }
}

/** A DNS-phase target that records when it was written. */
class MemoryDns implements TargetDriver<DnsRecordsTarget, string[], string[]> {
  readonly type = 'cloudflare.dnsRecords' as const;
  content: string[] = ['20.1.1.1'];
  resource(t: DnsRecordsTarget) {
    return t.recordName;
  }
  async read() {
    return [...this.content];
  }
  plan(_t: DnsRecordsTarget, actual: string[], ctx: PlanContext): TargetPlan<string[]> {
    const want = ctx.desired.map((p) => p.address);
    const same = want.join() === actual.join();
    return {
      changes: same ? [] : [{ action: 'update', before: actual.join(), after: want.join() }],
      additions: ctx.desired,
      removals: 0,
      deferred: [],
      nextState: { resource: 'dns', owned: [], departed: {} },
      phase: 'dns',
      write: same ? undefined : want,
    };
  }
  async apply(items: ApplyItem<DnsRecordsTarget, string[], string[]>[]): Promise<ApplyOutcome[]> {
    journal.push('dns:api-dns:applied');
    this.content = items[0]!.plan.write!;
    return [{ status: 'applied' }];
  }
}

function setup(targets: TargetConfig[] | Record<string, unknown>[], safety?: Record<string, unknown>) {
  const config = parseConfig({
    sources: { prod: { resourceId: APIM } },
    targets,
    ...(safety ? { safety } : {}),
  });
  const source = new FakeSource({
    serviceName: 'contoso',
    provisioningState: 'Succeeded',
    sku: 'Premium',
    regions: [
      {
        location: 'West Europe',
        primary: true,
        gatewayDisabled: false,
        inbound: ['20.2.2.2'],
        outbound: [],
        private: [],
      },
    ],
  });
  const groups = new MemoryGroups();
  const dns = new MemoryDns();
  const store = new MemoryStore();
  const recorder = new MemoryRecorder();
  const clock = new ManualClock(new Date('2026-11-27T10:00:00Z'));
  const drivers = { 'azure.ipGroup': groups, 'cloudflare.dnsRecords': dns } as unknown as DriverTable;
  const deps: EngineDependencies = {
    config,
    sources: source,
    drivers,
    store,
    recorder,
    clock,
    mode: 'enforce',
    newRunId: () => 'run-1',
  };
  return { deps, source, groups, dns, store, recorder, clock };
}

const ipGroupTarget = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'azure.ipGroup',
  source: 'prod',
  resourceId: group(name),
  ...extra,
});
const dnsTarget = {
  name: 'api-dns',
  type: 'cloudflare.dnsRecords',
  source: 'prod',
  zoneId: 'z',
  recordName: 'api.contoso.com',
};

beforeEach(() => (journal.length = 0));

describe('reconcile', () => {
  it('adds to allowlists before DNS moves, and removes only after retireAfter', async () => {
    const { deps, groups, clock, store } = setup([dnsTarget, ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    store.state.targets.egress = { resource: group('egress'), owned: ['20.1.1.1/32'], departed: {} };

    const first = await reconcile(deps, { trigger: 'cli' });
    expect(journal).toEqual(['allowlist-add:egress:applied', 'dns:api-dns:applied']);
    expect(first.outcome).toBe('changed');
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.1.1.1/32', '20.2.2.2/32']);

    journal.length = 0;
    clock.advance(30 * 60_000);
    expect((await reconcile(deps, { trigger: 'cli' })).outcome).toBe('noop');
    clock.advance(30 * 60_000);
    const third = await reconcile(deps, { trigger: 'cli' });
    expect(journal).toEqual(['allowlist-remove:egress:applied']);
    expect(third.targets.find((t) => t.name === 'egress')!.changes).toEqual([
      {
        action: 'remove',
        before: '20.1.1.1/32',
        after: '',
        note: 'left the source 1h ago',
        result: 'applied',
      },
    ]);
    journal.length = 0;
    expect((await reconcile(deps, { trigger: 'cli' })).outcome).toBe('noop');
    expect(journal).toEqual([]);
  });

  it('writes nothing on a dry run, and saves no state', async () => {
    const { deps, groups, store, recorder } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    const report = await reconcile(deps, { trigger: 'http', dryRun: true });
    expect(report.targets[0]!.changes).toEqual([
      { action: 'add', before: '', after: '20.2.2.2/32', result: 'planned' },
    ]);
    expect(journal).toEqual([]);
    expect(store.saves).toBe(0);
    expect(recorder.named('Reconcile.Change')[0]!.properties).toMatchObject({
      result: 'planned',
      action: 'add',
      after: '20.2.2.2/32',
    });
  });

  it('observe mode plans and records drift but writes nothing to targets', async () => {
    const { deps, groups } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    const report = await reconcile({ ...deps, mode: 'observe' }, { trigger: 'timer' });
    expect(report.counts.changesPlanned).toBe(1);
    expect(journal).toEqual([]);
  });

  it('holds every target of a source that is not running, and records one Blocked event for it', async () => {
    const { deps, source, groups, recorder } = setup([dnsTarget, ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    source.observation.provisioningState = 'Stopped';
    source.observation.regions[0]!.inbound = [];
    const report = await reconcile(deps, { trigger: 'timer' });
    expect(report.outcome).toBe('blocked');
    expect(report.targets.map((t) => t.status)).toEqual(['blocked', 'blocked']);
    expect(recorder.named('Reconcile.Blocked').map((e) => e.properties.reason)).toEqual(['SourceNotRunning']);
    expect(journal).toEqual([]);
  });

  it('never treats a failed source read as "no IPs"', async () => {
    const { deps, source, groups } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    source.failure = Object.assign(new Error('boom'), { statusCode: 503, code: 'ServiceUnavailable' });
    const report = await reconcile(deps, { trigger: 'timer' });
    expect(report.sources[0]).toMatchObject({
      status: 'unavailable',
      block: { reason: 'SourceUnavailable' },
    });
    expect(report.outcome).toBe('failed');
    expect(journal).toEqual([]);
  });

  it('holds the targets that select a private or malformed address, and only those', async () => {
    const { deps, source, groups, dns } = setup([dnsTarget, ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    source.observation.regions[0]!.outbound = ['10.0.0.4', 'not-an-ip'];
    const report = await reconcile(deps, { trigger: 'timer' });
    expect(report.sources[0]!.block).toBeUndefined();
    const egress = report.targets.find((t) => t.name === 'egress')!;
    expect(egress.block?.reason).toBe('InvalidAddress');
    expect(egress.block?.detail).toContain('10.0.0.4/32 (private, in outboundPublicIPAddresses)');
    expect(egress.block?.detail).toContain('not-an-ip');
    // DNS selects the inbound addresses, which are fine: it follows the source.
    expect(journal).toEqual(['dns:api-dns:applied']);
    expect(dns.content).toEqual(['20.2.2.2']);
    expect(report.outcome).toBe('blocked');
  });

  it('holds a target whose selection is empty (v2 tier) with the tier named', async () => {
    const { deps, source, groups } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    source.observation.sku = 'StandardV2';
    source.observation.regions[0]!.inbound = [];
    const report = await reconcile(deps, { trigger: 'timer' });
    expect(report.targets[0]!.block).toMatchObject({ reason: 'EmptySource' });
    expect(report.targets[0]!.block!.detail).toContain('StandardV2 tier publishes no dedicated IP');
  });

  it('holds an addition broader than minPrefixLength', async () => {
    const { deps, source, groups } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    source.observation.regions[0]!.outbound = ['60.0.0.0/24'];
    const report = await reconcile(deps, { trigger: 'timer' });
    expect(report.targets[0]!.block?.reason).toBe('BroadPrefix');
    expect(journal).toEqual([]);
  });

  it('holds too many removals unless forced', async () => {
    const { deps, groups, store, clock } = setup([ipGroupTarget('egress')], {
      maxRemovalsPerTarget: 1,
      retireAfter: 'PT0S',
    });
    const old = ['20.5.5.1/32', '20.5.5.2/32'];
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [...old, '20.2.2.2/32'] });
    store.state.targets.egress = { resource: group('egress'), owned: [...old, '20.2.2.2/32'], departed: {} };
    const held = await reconcile(deps, { trigger: 'cli' });
    expect(held.targets[0]!.block?.reason).toBe('TooManyRemovals');
    expect(held.outcome).toBe('blocked');
    clock.advance(1000);
    const forced = await reconcile(deps, { trigger: 'cli', force: true });
    expect(forced.outcome).toBe('changed');
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.2.2.2/32']);
  });

  it('re-reads and re-plans once after a lost race, then reports LostRace', async () => {
    const { deps, groups } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    groups.outcomes = ['lost-race', 'applied'];
    const once = await reconcile(deps, { trigger: 'cli' });
    expect(once.outcome).toBe('changed');
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['99.9.9.9/32', '20.2.2.2/32']);

    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    groups.outcomes = ['lost-race', 'lost-race'];
    const twice = await reconcile(deps, { trigger: 'cli' });
    expect(twice.targets[0]!.block?.reason).toBe('LostRace');
    expect(twice.outcome).toBe('blocked');
  });

  it('in a half-seen world DNS still follows the source, additions go out, and removals wait', async () => {
    const { deps, groups, store, dns } = setup([dnsTarget, ipGroupTarget('egress'), ipGroupTarget('broken')]);
    // egress still holds the old address, gone from the source for two hours: due for removal.
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    store.state.targets.egress = {
      resource: group('egress'),
      owned: ['20.1.1.1/32'],
      departed: { '20.1.1.1/32': '2026-11-27T08:00:00.000Z' },
    };
    groups.readFailure = Object.assign(new Error('The client does not have authorization'), {
      statusCode: 403,
      code: 'AuthorizationFailed',
    });
    groups.failing = group('broken');

    const report = await reconcile(deps, { trigger: 'cli' });

    const target = (name: string) => report.targets.find((t) => t.name === name)!;
    expect(['api-dns', 'egress', 'broken'].map((n) => target(n).status)).toEqual([
      'changed',
      'changed',
      'failed',
    ]);
    expect(target('broken').error).toContain('HTTP 403 AuthorizationFailed');
    expect(report.outcome).toBe('partial');
    expect(journal).toEqual(['allowlist-add:egress:applied', 'dns:api-dns:applied']);
    expect(dns.content).toEqual(['20.2.2.2']);
    // The new address is added; the old one stays, its removal due but waiting for a run that sees everything.
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.1.1.1/32', '20.2.2.2/32']);
    expect(target('egress').changes.map((c) => c.action)).toEqual(['add']);
    expect(target('egress').deferred).toEqual([
      { entry: '20.1.1.1/32', retiresAt: '2026-11-27T09:00:00.000Z', heldBy: 'UnreadableTarget' },
    ]);
    // Its departure is remembered, so it goes as soon as every target can be read.
    expect(store.state.targets.egress!.departed).toEqual({ '20.1.1.1/32': '2026-11-27T08:00:00.000Z' });
    groups.readFailure = undefined;
    groups.groups.set(group('broken'), { exists: true, marked: true, entries: [] });
    await reconcile(deps, { trigger: 'cli' });
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.2.2.2/32']);
  });

  it("starts an allowlist's retire clock only once its addition has succeeded", async () => {
    const { deps, groups, store, clock } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: ['20.1.1.1/32'] });
    store.state.targets.egress = { resource: group('egress'), owned: ['20.1.1.1/32'], departed: {} };

    // The source moved to 20.2.2.2 but the addition fails: nothing about the old address is remembered yet.
    groups.outcomes = ['failed'];
    expect((await reconcile(deps, { trigger: 'timer' })).outcome).toBe('failed');
    expect(store.state.targets.egress!.departed).toEqual({});

    // Two hours later the addition goes in; the old address stays for retireAfter counted from now.
    clock.advance(2 * 3_600_000);
    await reconcile(deps, { trigger: 'timer' });
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.1.1.1/32', '20.2.2.2/32']);
    clock.advance(3_600_000 - 1);
    await reconcile(deps, { trigger: 'timer' });
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.1.1.1/32', '20.2.2.2/32']);
    clock.advance(1);
    await reconcile(deps, { trigger: 'timer' });
    expect(groups.groups.get(group('egress'))!.entries).toEqual(['20.2.2.2/32']);
  });

  it('records one Change per change and one Run per run, each with runId, trigger and mode', async () => {
    const { deps, groups, recorder } = setup([ipGroupTarget('egress')]);
    groups.groups.set(group('egress'), { exists: true, marked: true, entries: [] });
    await reconcile(deps, { trigger: 'timer' });
    const names = recorder.events.map((e) => e.name);
    expect(names).toEqual(['Reconcile.SourceObserved', 'Reconcile.Change', 'Reconcile.Run']);
    for (const e of recorder.events)
      expect(e.properties).toMatchObject({ runId: 'run-1', trigger: 'timer', mode: 'enforce' });
    expect(recorder.named('Reconcile.Change')[0]!.properties).toMatchObject({
      target: 'egress',
      targetType: 'azure.ipGroup',
      resource: group('egress'),
      action: 'add',
      before: '',
      after: '20.2.2.2/32',
      result: 'applied',
    });
    expect(recorder.named('Reconcile.Run')[0]).toMatchObject({
      properties: { outcome: 'changed' },
      measurements: { targets: 1, changesPlanned: 1, changesApplied: 1, changesFailed: 0, guards: 0 },
    });
  });
});
