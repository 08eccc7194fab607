import fc from 'fast-check';
import { planAllowlist, type AllowlistActual } from '../../lib/plan/allowlist';
import { cidrText, isHost, parseAll, type Prefix } from '../../lib/net/addresses';
import type { TargetState } from '../../lib/state/store';
import type { AppServiceActual, Restriction } from '../../lib/targets/appServiceAccessRestriction/plan';
import { ipListResource, type ListItem } from '../../lib/targets/ipList/plan';
import { poolResource } from '../../lib/targets/poolOrigins/plan';
import { isMarked, type DnsRecord } from '../../lib/targets/common/dnsRecordSet';
import { COMMENT_MARK } from '../../lib/plan/marks';
import { TargetError } from '../../lib/targets/target';
import { type PlanContext, type TargetPlan } from '../../lib/plan/types';
import {
  ACCOUNT,
  addressesArb,
  allowlistEntryArb,
  appTarget,
  appTargetArb,
  applyDnsWrite,
  applyIpListWrite,
  clockArb,
  dnsRecordsFrom,
  dnsSeedArb,
  dnsTarget,
  dnsTargetArb,
  drivers,
  GATEWAY,
  hostsArb,
  IP_GROUP,
  ipListTarget,
  isDue,
  isOursRestriction,
  itemSeedArb,
  keyOf,
  LIST,
  listItemsFrom,
  originKey,
  originsFrom,
  originSeedArb,
  planContext,
  POOL,
  poolActual,
  poolTarget,
  remembered,
  restrictionKey,
  restrictionSeedArb,
  restrictionsFrom,
  SITE,
  stateFrom,
  stateSeedArb,
  type ClockSeed,
  type PoolContent,
} from '../support/targetModels';

/**
 * Properties of every planner over random target contents (owned and foreign entries, IPv4 and IPv6,
 * duplicates, `20.1.1.1` vs `20.1.1.1/32`, IPv6 case and compression) and random sources, states and clocks:
 *
 *   (a) one apply leaves exactly desired ∪ unowned ∪ not-yet-retired, and unowned entries exactly as they were;
 *       adopting changes nothing that is not one of the source's addresses;
 *   (b) a second plan after that apply plans nothing.
 *
 * "Apply" is the plan's write applied to the modelled target (tests/support/targetModels.ts). The guards that
 * need the engine (BroadPrefix through planBlock, failed and stopped sources) are in properties.engine.test.ts.
 */

const RUNS = 1000;
const run = <T>(arb: fc.Arbitrary<T>, check: (value: T) => void) =>
  fc.assert(fc.property(arb, check), { numRuns: RUNS });

const keys = (texts: readonly string[]) => new Set(texts.map(keyOf));
const union = (...sets: Iterable<string>[]) => new Set(sets.flatMap((s) => [...s]));
const sorted = (set: Iterable<string>) => [...set].sort();
const isEqual = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const desiredOf = (texts: string[]): Prefix[] => parseAll(texts).prefixes;

/** The engine's rule when only the removals are held (TooManyRemovals): plan again with holdRemovals. */
function settle<W>(plan: (ctx: PlanContext) => TargetPlan<W>, ctx: PlanContext): TargetPlan<W> {
  const first = plan(ctx);
  return first.blocked?.reason === 'TooManyRemovals' ? plan({ ...ctx, holdRemovals: true }) : first;
}

/** The second plan, from the state the first saved, against the target as the first left it. */
function expectNothingPlanned(plan: TargetPlan) {
  expect(plan.blocked).toBeUndefined();
  expect(plan.changes).toEqual([]);
  expect(plan.write).toBeUndefined();
}

// ---------------------------------------------------------------------------------------------------------------

describe('planAllowlist (NSG rule, IP group, firewall rule)', () => {
  const options = (adopt: boolean) => ({
    adopt,
    label: 'IP group apim-egress',
    markPlace: 'tags',
    targetName: 'egress',
    wildcardHint: 'use a group of its own',
  });

  const cases = fc
    .record({
      exists: fc.oneof(
        { weight: 9, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
      ),
      marked: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
      adopt: fc.boolean(),
      entries: fc.array(allowlistEntryArb, { maxLength: 7 }),
      desired: addressesArb,
      state: stateSeedArb,
      clock: clockArb,
    })
    .map((c) => ({ ...c, entries: c.exists ? c.entries : [] }));

  test('(a, b) one apply yields desired ∪ unowned ∪ not-yet-retired; unowned entries stay exactly as written', () => {
    run(cases, (c) => {
      const before = c.entries.map((e) => e.text);
      const desired = desiredOf(c.desired);
      const state = stateFrom(
        c.state,
        IP_GROUP,
        remembered(c.entries, (e) => e.text),
      );
      const ctx = planContext(desired, state, c.clock);
      const actual: AllowlistActual = { exists: c.exists, marked: c.marked, entries: before };
      const plan = planAllowlist(actual, ctx, options(c.adopt), IP_GROUP);

      const hasWildcard = c.entries.some((e) => e.kind === 'wildcard');
      if (c.exists && (hasWildcard || (!c.marked && !c.adopt))) {
        expect(plan.blocked?.reason).toBe('NotOwned');
        expect(plan.write).toBeUndefined();
        return;
      }
      expect(plan.blocked).toBeUndefined();
      const after = plan.write ? plan.write.entries : before;

      const desiredKeys = new Set(desired.map((p) => p.key));
      const present = keys(before);
      const sameState = state?.resource === IP_GROUP ? state : undefined;
      // What the reconciler owns before this run: on adoption the entries equal to the source's addresses,
      // otherwise what the state remembers and the list still holds.
      const ownedBefore = new Set(
        !c.exists
          ? []
          : !c.marked
            ? [...present].filter((k) => desiredKeys.has(k))
            : (sameState?.owned ?? []).filter((k) => present.has(k)),
      );
      const unowned = [...present].filter((k) => !ownedBefore.has(k));
      const retained = [...ownedBefore].filter((k) => !desiredKeys.has(k) && !isDue(k, sameState, c.clock));
      expect(sorted(keys(after))).toEqual(sorted(union(desiredKeys, unowned, retained)));

      // Unowned entries: every one, verbatim, in its order (adopting leaves all but the source's addresses).
      const isUnowned = (e: string) => !ownedBefore.has(keyOf(e));
      expect(after.filter(isUnowned).filter((e) => present.has(keyOf(e)))).toEqual(before.filter(isUnowned));
      if (!c.marked && c.exists) {
        const other = (e: string) => !desiredKeys.has(keyOf(e));
        expect(after.filter(other)).toEqual(before.filter(other));
      }
      // Nothing new but the missing desired addresses, once each, in CIDR form.
      expect(after.filter((e) => !present.has(keyOf(e)))).toEqual(
        desired.filter((p) => !present.has(p.key)).map(cidrText),
      );

      // (b) the next plan, from the state this one saved, plans nothing.
      const applied: AllowlistActual = {
        exists: true,
        marked: c.marked || plan.write?.mark === true,
        entries: after,
      };
      const again = planAllowlist(applied, { ...ctx, state: plan.nextState }, options(c.adopt), IP_GROUP);
      expectNothingPlanned(again);
      expect(again.nextState).toEqual(plan.nextState);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('planDnsRecords (cloudflare.dnsRecords)', () => {
  const cases = fc.record({
    target: dnsTargetArb,
    records: fc.array(dnsSeedArb, { maxLength: 6 }),
    desired: fc
      .tuple(hostsArb, fc.option(fc.constantFrom('60.0.0.0/31', '2603:1000:4::/124'), { freq: 8 }))
      .map(([hosts, prefix]) => (prefix ? [...hosts, prefix] : hosts)),
  });
  const isAddress = (r: DnsRecord) => r.type === 'A' || r.type === 'AAAA';

  test('(a, b) one apply leaves one marked record per source address, in place where one was, and no other touched', () => {
    run(cases, (c) => {
      const target = dnsTarget(c.target);
      const records = dnsRecordsFrom(c.records);
      const desired = desiredOf(c.desired);
      const ctx = planContext(desired, undefined, { retireAfterMs: 0, holdRemovals: false });
      const plan = drivers.dns.plan(target, { records }, ctx);

      const cname = records.find((r) => r.type === 'CNAME');
      const foreign = records.filter((r) => isAddress(r) && !isMarked(r));
      if (desired.some((p) => !isHost(p))) {
        expect(plan.blocked?.reason).toBe('BroadPrefix');
      } else if (!c.target.adopt && ((cname && !isMarked(cname)) || foreign.length > 0)) {
        expect(plan.blocked?.reason).toBe('NotOwned');
      }
      if (plan.blocked) {
        expect(plan.write).toBeUndefined();
        return;
      }

      let n = 0;
      const after = plan.write ? applyDnsWrite(records, plan.write, () => `new${++n}`) : records;
      const addressRecords = after.filter(isAddress);
      // Exactly the source's addresses, one record each, of the right type, all marked; no CNAME left.
      expect(addressRecords.map((r) => keyOf(r.content)).sort()).toEqual(desired.map((p) => p.key).sort());
      for (const r of addressRecords) {
        expect(r.type).toBe(keyOf(r.content).includes(':') ? 'AAAA' : 'A');
        expect(isMarked(r)).toBe(true);
      }
      expect(after.some((r) => r.type === 'CNAME')).toBe(false);
      // Records of other types are never touched.
      const other = (r: DnsRecord) => !isAddress(r) && r.type !== 'CNAME';
      expect(after.filter(other)).toEqual(records.filter(other));
      // A record already at a source address keeps its id and content (only its mark/settings may change).
      for (const p of desired) {
        const had = records.filter((r) => isAddress(r) && keyOf(r.content) === p.key);
        if (had.length === 0) continue;
        expect(after.some((r) => had.some((h) => h.id === r.id && h.content === r.content))).toBe(true);
      }
      // Updated in place before any create or delete, per family.
      for (const type of ['A', 'AAAA']) {
        const want = desired.filter((p) => (p.family === 'ipv4') === (type === 'A')).length;
        const have = records.filter((r) => r.type === type).length;
        expect(plan.write?.posts.filter((r) => r.type === type).length ?? 0).toBe(Math.max(0, want - have));
        const deletes = new Set(plan.write?.deletes.map((d) => d.id));
        expect(records.filter((r) => r.type === type && deletes.has(r.id)).length).toBe(
          Math.max(0, have - want),
        );
      }

      // (b)
      expectNothingPlanned(drivers.dns.plan(target, { records: after }, ctx));
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('planIpList (cloudflare.ipList)', () => {
  const RESOURCE = ipListResource({ accountId: ACCOUNT, listId: LIST });
  const cases = fc.record({
    adopt: fc.boolean(),
    items: fc.array(itemSeedArb, { maxLength: 7 }),
    desired: fc
      .tuple(addressesArb, fc.option(fc.constantFrom('20.0.0.0/7', '2600::/11'), { freq: 10 }))
      .map(([a, broad]) => (broad ? [...a, broad] : a)),
    state: stateSeedArb,
    clock: clockArb,
  });
  const owned = (i: ListItem) => i.comment.startsWith(COMMENT_MARK);

  test('(a, b) one apply yields desired ∪ unowned ∪ not-yet-retired; foreign items untouched unless adopted', () => {
    run(cases, (c) => {
      const items = listItemsFrom(c.items);
      const desired = desiredOf(c.desired);
      const state = stateFrom(
        c.state,
        RESOURCE,
        remembered(c.items, (i) => i.ip),
      );
      const ctx = planContext(desired, state, c.clock);
      const plan = drivers.ipList.plan(ipListTarget(c.adopt), { items }, ctx);

      if (desired.some((p) => p.length < (p.family === 'ipv4' ? 8 : 12))) {
        expect(plan.blocked?.reason).toBe('BroadPrefix');
        expect(plan.write).toBeUndefined();
        return;
      }
      expect(plan.blocked).toBeUndefined();
      let n = 0;
      const after = plan.write ? applyIpListWrite(items, plan.write, () => `new${++n}`) : items;

      const desiredKeys = new Set(desired.map((p) => p.key));
      const sameState = state?.resource === RESOURCE ? state : undefined;
      const foreign = items.filter((i) => !owned(i));
      const retained = items.filter(
        (i) => owned(i) && !desiredKeys.has(keyOf(i.ip)) && !isDue(keyOf(i.ip), sameState, c.clock),
      );
      expect(sorted(keys(after.map((i) => i.ip)))).toEqual(
        sorted(union(desiredKeys, keys(foreign.map((i) => i.ip)), keys(retained.map((i) => i.ip)))),
      );
      // Foreign items: untouched, except that adopt marks those holding a source address (same id and IP).
      for (const i of foreign) {
        const now = after.find((x) => x.id === i.id);
        if (c.adopt && desiredKeys.has(keyOf(i.ip))) {
          expect(now).toMatchObject({ id: i.id, ip: i.ip });
          expect(owned(now!)).toBe(true);
        } else {
          expect(now).toEqual(i);
        }
      }
      // Owned items at the source's addresses, and those not yet retired, are untouched too.
      for (const i of items.filter((x) => owned(x) && desiredKeys.has(keyOf(x.ip)))) {
        expect(after.find((x) => x.id === i.id)).toEqual(i);
      }
      for (const i of retained) expect(after.find((x) => x.id === i.id)).toEqual(i);

      // (b)
      const again = drivers.ipList.plan(
        ipListTarget(c.adopt),
        { items: after },
        { ...ctx, state: plan.nextState },
      );
      expectNothingPlanned(again);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('planPoolOrigins (cloudflare.poolOrigins)', () => {
  const RESOURCE = poolResource({ accountId: ACCOUNT, poolId: POOL });
  const cases = fc.record({
    adopt: fc.boolean(),
    origins: fc.array(originSeedArb, { maxLength: 6 }),
    minimumOrigins: fc.nat(3),
    desired: fc
      .tuple(hostsArb, fc.option(fc.constant('60.0.0.0/31'), { freq: 10 }))
      .map(([hosts, prefix]) => (prefix ? [...hosts, prefix] : hosts)),
    state: stateSeedArb,
    clock: clockArb,
  });
  const ours = (o: Record<string, unknown>) => String(o.name).startsWith('apim-');
  const enabled = (origins: Array<Record<string, unknown>>) =>
    origins.filter((o) => o.enabled !== false).length;

  test('(a, b) one apply yields desired ∪ foreign (∪ held); foreign origins untouched unless adopted', () => {
    run(cases, (c) => {
      const pool: PoolContent = { minimumOrigins: c.minimumOrigins, origins: originsFrom(c.origins) };
      const desired = desiredOf(c.desired);
      const state = stateFrom(c.state, RESOURCE);
      const ctx = planContext(desired, state, c.clock);
      const planOf = (context: PlanContext) =>
        drivers.pool.plan(poolTarget(c.adopt), poolActual(pool), context);
      const first = planOf(ctx);
      const plan = settle(planOf, ctx);

      const desiredKeys = new Set(desired.map((p) => p.key));
      const before = pool.origins;
      const foreignAtDesired = before.filter((o) => !ours(o) && desiredKeys.has(originKey(o)));
      if (desired.some((p) => !isHost(p))) expect(plan.blocked?.reason).toBe('BroadPrefix');
      else if (!c.adopt && foreignAtDesired.length > 0) expect(plan.blocked?.reason).toBe('NotOwned');
      if (plan.blocked) {
        expect(plan.write).toBeUndefined();
        return;
      }
      const held = c.clock.holdRemovals || first.blocked?.reason === 'TooManyRemovals';
      const after = plan.write ? plan.write.origins : before;

      const foreign = before.filter((o) => !ours(o));
      const retained = held ? before.filter((o) => ours(o) && !desiredKeys.has(originKey(o))) : [];
      expect(sorted(new Set(after.map(originKey)))).toEqual(
        sorted(union(desiredKeys, foreign.map(originKey), retained.map(originKey))),
      );
      // Foreign origins: verbatim and in order, but for those adopt renames (they hold a source address).
      const adopted = (o: Record<string, unknown>) => c.adopt && desiredKeys.has(originKey(o));
      const kept = foreign.filter((o) => !adopted(o));
      const names = new Set(kept.map((o) => o.name));
      expect(after.filter((o) => names.has(o.name))).toEqual(kept);
      // Ours at the source's addresses: enabled, named apim-<ip>, Host header set, weight kept.
      for (const o of after.filter((x) => desiredKeys.has(originKey(x)))) {
        expect(o).toMatchObject({ enabled: true, header: { Host: [GATEWAY] } });
        expect(String(o.name)).toMatch(/^apim-/);
      }
      // A removal never leaves fewer enabled origins than minimum_origins.
      const removedAny = before.some((o) => !after.some((x) => x.address === o.address));
      if (removedAny) expect(enabled(after)).toBeGreaterThanOrEqual(c.minimumOrigins);

      // (b)
      const applied: PoolContent = { ...pool, origins: after };
      const again = settle(
        (context) => drivers.pool.plan(poolTarget(c.adopt), poolActual(applied), context),
        { ...ctx, state: plan.nextState },
      );
      expectNothingPlanned(again);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('App Service access restrictions (azure.appServiceAccessRestriction)', () => {
  const cases = fc.record({
    target: appTargetArb,
    main: fc.array(restrictionSeedArb, { maxLength: 6 }),
    scm: fc.array(restrictionSeedArb, { maxLength: 3 }),
    desired: addressesArb,
    state: stateSeedArb,
    clock: clockArb,
  });

  /** Checks one list (main or scm) after the apply; `adopt` renames the first foreign entry per source address. */
  function checkList(
    before: Restriction[],
    after: Restriction[],
    desiredKeys: Set<string>,
    adopt: boolean,
    range: [number, number],
    state: TargetState | undefined,
    clock: ClockSeed,
  ) {
    const coveredByOurs = new Set(before.filter(isOursRestriction).map(restrictionKey));
    const adopted = new Set<Restriction>();
    if (adopt) {
      for (const r of before) {
        const key = restrictionKey(r);
        if (isOursRestriction(r) || !desiredKeys.has(key) || coveredByOurs.has(key)) continue;
        adopted.add(r);
        coveredByOurs.add(key);
      }
    }
    const foreign = before.filter((r) => !isOursRestriction(r));
    const retained = before.filter(
      (r) =>
        isOursRestriction(r) &&
        !desiredKeys.has(restrictionKey(r)) &&
        !isDue(restrictionKey(r), state, clock),
    );
    expect(sorted(new Set(after.map(restrictionKey)))).toEqual(
      sorted(union(desiredKeys, foreign.map(restrictionKey), retained.map(restrictionKey))),
    );
    // Foreign entries: verbatim and in order, but for the adopted, which only change name.
    expect(after.filter((r) => !isOursRestriction(r))).toEqual(foreign.filter((r) => !adopted.has(r)));
    for (const r of adopted) {
      expect(after).toContainEqual({ ...r, name: expect.stringMatching(/^apim-/) });
    }
    // New entries take free priorities of the range, none shared with another entry.
    const old = new Set(before);
    const renamed = (r: Restriction) => [...adopted].some((a) => isEqual({ ...a, name: r.name }, r));
    for (const r of after.filter((x) => !old.has(x) && !renamed(x))) {
      expect(r.priority).toBeGreaterThanOrEqual(range[0]);
      expect(r.priority).toBeLessThanOrEqual(range[1]);
      expect(after.filter((x) => x.priority === r.priority)).toHaveLength(1);
    }
  }

  test('(a, b) one apply yields desired ∪ unowned ∪ not-yet-retired in each list; foreign entries untouched', () => {
    run(cases, (c) => {
      const target = appTarget(c.target);
      const actual: AppServiceActual = {
        main: restrictionsFrom(c.main),
        scm: restrictionsFrom(c.scm),
        scmUseMain: c.target.scmUseMain,
      };
      const desired = desiredOf(c.desired);
      const state = stateFrom(
        c.state,
        SITE,
        remembered([...c.main, ...c.scm], (r) => r.ip),
      );
      const ctx = planContext(desired, state, c.clock);
      let plan;
      try {
        plan = drivers.app.plan(target, actual, ctx);
      } catch (error) {
        // The only refusal: not enough free priorities in the range for the new entries. Nothing is written.
        expect(error).toBeInstanceOf(TargetError);
        expect((error as Error).message).toMatch(/no free priority left in priorityRange/);
        return;
      }
      expect(plan.blocked).toBeUndefined();
      const after: AppServiceActual = {
        ...actual,
        main: plan.write?.main ?? actual.main,
        scm: plan.write?.scm ?? actual.scm,
      };
      const desiredKeys = new Set(desired.map((p) => p.key));
      // What was recorded for another site says nothing about this one.
      const sameState = state?.resource === SITE ? state : undefined;
      checkList(actual.main, after.main, desiredKeys, c.target.adopt, c.target.range, sameState, c.clock);
      if (c.target.scm && !c.target.scmUseMain) {
        checkList(actual.scm, after.scm, desiredKeys, c.target.adopt, c.target.range, sameState, c.clock);
      } else {
        expect(after.scm).toEqual(actual.scm);
      }

      // (b)
      expectNothingPlanned(
        drivers.app.plan(target, structuredClone(after), { ...ctx, state: plan.nextState }),
      );
    });
  });
});
