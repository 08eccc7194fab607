import type { IpListTarget } from '../../lib/targets/ipList/schema';
import type { TargetState } from '../../lib/state/store';
import { planIpList, stillSafe, type ListItem } from '../../lib/targets/ipList/plan';
import type { PlanContext } from '../../lib/plan/types';
import { HOUR, NOW, planContext } from '../support/planContext';

const MARK = 'managed-by:apim-ip-reconciler';
const ACCOUNT = 'a'.repeat(32);
const LIST = 'b'.repeat(32);
const RESOURCE = `accounts/${ACCOUNT}/rules/lists/${LIST}`;

const target = (extra: Partial<IpListTarget> = {}): IpListTarget => ({
  name: 'edge-list',
  type: 'cloudflare.ipList',
  source: 'prod',
  accountId: ACCOUNT,
  listId: LIST,
  adopt: false,
  ...extra,
});

function context(
  desired: string[],
  state?: Partial<TargetState>,
  extra: Partial<PlanContext> = {},
): PlanContext {
  return planContext(desired, {
    state: state ? { resource: RESOURCE, owned: [], departed: {}, ...state } : undefined,
    ...extra,
  });
}

let seq = 0;
const item = (ip: string, comment = MARK): ListItem => ({ id: `id${++seq}`, ip, comment });

describe('planIpList', () => {
  it('is in sync when only formatting differs, and leaves foreign items alone', () => {
    const plan = planIpList(
      target(),
      { items: [item('20.1.1.1'), item('2001:db8::1'), item('198.51.100.0/24', 'office')] },
      context(['20.1.1.1/32', '2001:DB8:0:0::1']),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.write).toBeUndefined();
    expect(plan.nextState).toEqual({
      resource: RESOURCE,
      owned: ['20.1.1.1/32', '2001:db8::1/128'],
      departed: {},
    });
  });

  it('posts missing addresses with the mark, before DNS moves', () => {
    const plan = planIpList(target(), { items: [] }, context(['20.1.1.1', '60.0.0.0/31']));
    expect(plan.changes).toEqual([
      { action: 'add', before: '', after: '20.1.1.1' },
      { action: 'add', before: '', after: '60.0.0.0/31' },
    ]);
    expect(plan.write).toEqual({
      accountId: ACCOUNT,
      listId: LIST,
      post: [
        { ip: '20.1.1.1', comment: MARK },
        { ip: '60.0.0.0/31', comment: MARK },
      ],
      delete: [],
    });
    expect(plan.additions.map((p) => p.key)).toEqual(['20.1.1.1/32', '60.0.0.0/31']);
    expect(plan.phase).toBe('allowlist-add');
  });

  it('adds the new address at once and removes the old one after retireAfter', () => {
    const old = item('20.1.1.1');
    const change = planIpList(target(), { items: [old] }, context(['20.2.2.2'], { owned: ['20.1.1.1/32'] }));
    expect(change.changes).toEqual([{ action: 'add', before: '', after: '20.2.2.2' }]);
    expect(change.write?.delete).toEqual([]);
    expect(change.removals).toBe(0);
    expect(change.deferred).toEqual([{ entry: '20.1.1.1', retiresAt: '2026-11-27T11:00:00.000Z' }]);
    expect(change.nextState).toEqual({
      resource: RESOURCE,
      owned: ['20.1.1.1/32', '20.2.2.2/32'],
      departed: { '20.1.1.1/32': NOW.toISOString() },
    });
    expect(change.phase).toBe('allowlist-add');

    const later = new Date(NOW.getTime() + HOUR);
    const retire = planIpList(
      target(),
      { items: [old, item('20.2.2.2')] },
      context(['20.2.2.2'], change.nextState, { now: later }),
    );
    expect(retire.changes).toEqual([
      { action: 'remove', before: '20.1.1.1', after: '', note: 'left the source 1h ago' },
    ]);
    expect(retire.write).toEqual({
      accountId: ACCOUNT,
      listId: LIST,
      post: [],
      delete: [{ id: old.id, ip: '20.1.1.1' }],
    });
    expect(retire.removals).toBe(1);
    expect(retire.phase).toBe('allowlist-remove');
    expect(retire.nextState).toEqual({ resource: RESOURCE, owned: ['20.2.2.2/32'], departed: {} });
  });

  it('holds due removals when the engine asks, keeping the additions', () => {
    const plan = planIpList(
      target(),
      { items: [item('20.1.1.1')] },
      context(
        ['20.2.2.2'],
        { departed: { '20.1.1.1/32': '2026-11-27T08:00:00.000Z' } },
        { holdRemovals: true },
      ),
    );
    expect(plan.write?.delete).toEqual([]);
    expect(plan.write?.post).toEqual([{ ip: '20.2.2.2', comment: MARK }]);
    expect(plan.deferred).toEqual([
      { entry: '20.1.1.1', retiresAt: '2026-11-27T09:00:00.000Z', heldBy: 'TooManyRemovals' },
    ]);
  });

  it('takes a foreign item at a desired address as enough: posting it would steal it', () => {
    const plan = planIpList(target(), { items: [item('20.2.2.2', 'office VPN')] }, context(['20.2.2.2']));
    expect(plan.write).toBeUndefined();
    expect(plan.nextState.owned).toEqual([]);
  });

  it('adopts a foreign item at a desired address by posting it again with the mark', () => {
    const theirs = item('20.2.2.2', 'office VPN');
    const plan = planIpList(
      target({ adopt: true }),
      { items: [theirs, item('9.9.9.9', 'other')] },
      context(['20.2.2.2']),
    );
    expect(plan.changes).toEqual([
      {
        action: 'adopt',
        subject: 'item',
        before: '20.2.2.2',
        after: '20.2.2.2',
        note: `writes the comment mark ${MARK}`,
      },
    ]);
    expect(plan.write?.post).toEqual([{ ip: '20.2.2.2', comment: `${MARK} office VPN`, adopts: theirs.id }]);
    expect(plan.additions).toEqual([]);
    expect(plan.nextState.owned).toEqual(['20.2.2.2/32']);
    expect(plan.phase).toBe('allowlist-add');
  });

  it('ignores what it recorded for another list', () => {
    const plan = planIpList(
      target(),
      { items: [item('20.1.1.1')] },
      context(['20.2.2.2'], {
        resource: 'accounts/x/rules/lists/y',
        departed: { '20.1.1.1/32': '2020-01-01T00:00:00Z' },
      }),
    );
    expect(plan.removals).toBe(0);
    expect(plan.deferred).toEqual([{ entry: '20.1.1.1', retiresAt: '2026-11-27T11:00:00.000Z' }]);
  });

  it('blocks prefixes no IP list can hold', () => {
    const plan = planIpList(target(), { items: [] }, context(['16.0.0.0/4', '2001::/8']));
    expect(plan.blocked?.reason).toBe('BroadPrefix');
    expect(plan.blocked?.detail).toContain('16.0.0.0/4, 2000::/8');
    expect(plan.write).toBeUndefined();
  });
});

describe('stillSafe', () => {
  const ours = item('20.1.1.1');
  const write = { post: [{ ip: '20.2.2.2', comment: MARK }], delete: [{ id: ours.id, ip: ours.ip }] };

  it('accepts a list where our premises still hold', () => {
    expect(stillSafe(write, [ours])).toBe(true);
    expect(stillSafe(write, [ours, item('20.2.2.2')])).toBe(true);
    expect(stillSafe(write, [])).toBe(true);
  });

  it('refuses to post over a foreign item that appeared, or to delete an item that lost the mark', () => {
    expect(stillSafe(write, [ours, item('20.2.2.2/32', 'theirs')])).toBe(false);
    expect(stillSafe(write, [{ ...ours, comment: 'theirs now' }])).toBe(false);
  });

  it('lets an adoption post over the item it adopts', () => {
    const theirs = item('20.2.2.2', 'theirs');
    expect(
      stillSafe({ post: [{ ip: '20.2.2.2', comment: MARK, adopts: theirs.id }], delete: [] }, [theirs]),
    ).toBe(true);
  });
});
