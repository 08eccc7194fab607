import { planAllowlist, type AllowlistActual } from '../../lib/plan/allowlist';
import type { TargetState } from '../../lib/state/store';
import type { PlanContext } from '../../lib/plan/types';
import { HOUR, NOW, planContext } from '../support/planContext';

const RESOURCE = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/ipGroups/g';

function context(desired: string[], state?: Partial<TargetState>, now = NOW): PlanContext {
  return planContext(desired, {
    state: state ? { resource: RESOURCE, owned: [], departed: {}, ...state } : undefined,
    now,
  });
}

const options = {
  adopt: false,
  label: 'IP group g',
  markPlace: 'tags',
  targetName: 'grp',
  wildcardHint: 'use a group of its own',
};
const marked = (entries: string[]): AllowlistActual => ({ exists: true, marked: true, entries });

describe('planAllowlist', () => {
  it('is in sync when only formatting differs', () => {
    const plan = planAllowlist(
      marked(['20.1.1.1', '10.9.9.9/32']),
      context(['20.1.1.1/32'], { owned: ['20.1.1.1/32'] }),
      options,
      RESOURCE,
    );
    expect(plan.changes).toEqual([]);
    expect(plan.write).toBeUndefined();
  });

  it('adds new addresses and keeps the old one owned until retireAfter has passed', () => {
    const plan = planAllowlist(
      marked(['10.9.9.9/32', '20.1.1.1/32']),
      context(['20.2.2.2'], { owned: ['20.1.1.1/32'] }),
      options,
      RESOURCE,
    );
    expect(plan.changes).toEqual([{ action: 'add', before: '', after: '20.2.2.2/32' }]);
    expect(plan.write?.entries).toEqual(['10.9.9.9/32', '20.1.1.1/32', '20.2.2.2/32']);
    expect(plan.phase).toBe('allowlist-add');
    expect(plan.deferred).toEqual([{ entry: '20.1.1.1/32', retiresAt: '2026-11-27T11:00:00.000Z' }]);
    expect(plan.nextState).toEqual({
      resource: RESOURCE,
      owned: ['20.1.1.1/32', '20.2.2.2/32'],
      departed: { '20.1.1.1/32': NOW.toISOString() },
    });
  });

  it('removes an owned address once it has been gone for retireAfter, after DNS has moved', () => {
    const state = { owned: ['20.1.1.1/32', '20.2.2.2/32'], departed: { '20.1.1.1/32': NOW.toISOString() } };
    const early = planAllowlist(
      marked(['20.1.1.1', '20.2.2.2/32']),
      context(['20.2.2.2'], state, new Date(NOW.getTime() + HOUR - 1)),
      options,
      RESOURCE,
    );
    expect(early.changes).toEqual([]);
    const due = planAllowlist(
      marked(['20.1.1.1', '20.2.2.2/32']),
      context(['20.2.2.2'], state, new Date(NOW.getTime() + HOUR)),
      options,
      RESOURCE,
    );
    expect(due.changes).toEqual([
      { action: 'remove', before: '20.1.1.1', after: '', note: 'left the source 1h ago' },
    ]);
    expect(due.removals).toBe(1);
    expect(due.phase).toBe('allowlist-remove');
    expect(due.write?.entries).toEqual(['20.2.2.2/32']);
    expect(due.nextState).toEqual({ resource: RESOURCE, owned: ['20.2.2.2/32'], departed: {} });
  });

  it('never removes an entry it does not own, even one that looks like an old APIM address', () => {
    const plan = planAllowlist(
      marked(['20.1.1.1/32', '20.2.2.2/32']),
      context(['20.2.2.2'], { owned: ['20.2.2.2/32'] }, new Date(NOW.getTime() + 10 * HOUR)),
      options,
      RESOURCE,
    );
    expect(plan.changes).toEqual([]);
  });

  it('forgets a departure when the address comes back', () => {
    const state = { owned: ['20.1.1.1/32'], departed: { '20.1.1.1/32': NOW.toISOString() } };
    const plan = planAllowlist(marked(['20.1.1.1/32']), context(['20.1.1.1'], state), options, RESOURCE);
    expect(plan.nextState.departed).toEqual({});
    expect(plan.changes).toEqual([]);
  });

  it('owns again, when the state was lost, the entries equal to the source, so they still retire later', () => {
    const actual = marked(['20.1.1.1/32', '30.3.3.3/32']);
    const lost = planAllowlist(actual, context(['20.1.1.1']), options, RESOURCE);
    expect(lost.reowned).toEqual(['20.1.1.1/32']);
    expect(lost.changes).toEqual([]);
    expect(lost.write).toBeUndefined();
    expect(lost.nextState).toEqual({ resource: RESOURCE, owned: ['20.1.1.1/32'], departed: {} });

    // APIM moves: the re-owned address retires after retireAfter; the hand-added one stays for good.
    const moved = planAllowlist(actual, context(['20.2.2.2'], lost.nextState), options, RESOURCE);
    expect(moved.reowned).toBeUndefined();
    const later = planAllowlist(
      marked(['20.1.1.1/32', '30.3.3.3/32', '20.2.2.2/32']),
      context(['20.2.2.2'], moved.nextState, new Date(NOW.getTime() + HOUR)),
      options,
      RESOURCE,
    );
    expect(later.changes).toEqual([
      { action: 'remove', before: '20.1.1.1/32', after: '', note: 'left the source 1h ago' },
    ]);
    expect(later.write?.entries).toEqual(['30.3.3.3/32', '20.2.2.2/32']);
  });

  it("treats the state of another resource (ruleId changed) as lost, not as this one's", () => {
    const plan = planAllowlist(
      marked(['20.1.1.1/32']),
      planContext(['20.1.1.1'], { state: { resource: 'elsewhere', owned: [], departed: {} } }),
      options,
      RESOURCE,
    );
    expect(plan.reowned).toEqual(['20.1.1.1/32']);
  });

  it('holds an unmarked container as NotOwned with what to do', () => {
    const plan = planAllowlist(
      { exists: true, marked: false, entries: ['20.1.1.1'] },
      context(['20.2.2.2']),
      options,
      RESOURCE,
    );
    expect(plan.blocked?.reason).toBe('NotOwned');
    expect(plan.blocked?.detail).toMatch(/set "adopt": true on target grp/);
    expect(plan.write).toBeUndefined();
  });

  it('adopts: writes the mark, owns only the entries equal to the source, leaves the rest for good', () => {
    const plan = planAllowlist(
      { exists: true, marked: false, entries: ['20.1.1.1', '30.3.3.3/32'] },
      context(['20.1.1.1']),
      { ...options, adopt: true },
      RESOURCE,
    );
    expect(plan.changes).toEqual([
      {
        action: 'adopt',
        before: '',
        after: 'managed-by=apim-ip-reconciler',
        note: 'IP group g: takes over 1 matching entry',
      },
    ]);
    expect(plan.write).toEqual({ create: false, mark: true, entries: ['20.1.1.1', '30.3.3.3/32'] });
    expect(plan.nextState.owned).toEqual(['20.1.1.1/32']);
  });

  it('creates a missing container with the desired addresses, all owned', () => {
    const plan = planAllowlist(
      { exists: false, marked: false, entries: [] },
      context(['20.1.1.1', '60.0.0.0/31']),
      options,
      RESOURCE,
    );
    expect(plan.write).toEqual({ create: true, mark: true, entries: ['20.1.1.1/32', '60.0.0.0/31'] });
    expect(plan.changes[0]).toMatchObject({ action: 'create', after: '20.1.1.1/32, 60.0.0.0/31' });
    expect(plan.nextState.owned).toEqual(['20.1.1.1/32', '60.0.0.0/31']);
  });

  it('starts afresh when the target points at another resource', () => {
    const plan = planAllowlist(
      marked(['20.1.1.1/32', '20.2.2.2/32']),
      context(
        ['20.2.2.2'],
        { resource: 'other', owned: ['20.1.1.1/32'] },
        new Date(NOW.getTime() + 5 * HOUR),
      ),
      options,
      RESOURCE,
    );
    expect(plan.changes).toEqual([]);
  });

  it('holds a list that matches more than explicit addresses, and keeps ranges as foreign entries', () => {
    const star = planAllowlist(marked(['*', '20.1.1.1']), context(['20.2.2.2']), options, RESOURCE);
    expect(star.blocked).toEqual({
      reason: 'NotOwned',
      detail:
        'IP group g matches *; the reconciler only manages explicit address lists: use a group of its own',
    });
    const tagged = planAllowlist(
      { ...marked([]), wildcards: ['an application security group'] },
      context(['20.2.2.2']),
      options,
      RESOURCE,
    );
    expect(tagged.blocked?.detail).toContain('matches an application security group');
    const range = planAllowlist(marked(['10.0.0.1-10.0.0.9']), context(['20.2.2.2']), options, RESOURCE);
    expect(range.write?.entries).toEqual(['10.0.0.1-10.0.0.9', '20.2.2.2/32']);
  });
});
