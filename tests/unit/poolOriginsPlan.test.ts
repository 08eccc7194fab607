import type { PoolOriginsTarget } from '../../lib/targets/poolOrigins/schema';
import { planPoolOrigins, type PoolActual, type PoolOrigin } from '../../lib/targets/poolOrigins/plan';
import type { PlanContext } from '../../lib/plan/types';
import { observation, planContext } from '../support/planContext';

const ACCOUNT = 'a'.repeat(32);
const POOL = 'c'.repeat(32);
const GATEWAY = 'contoso.azure-api.net';
const HOST = { Host: [GATEWAY] };

const target = (extra: Partial<PoolOriginsTarget> = {}): PoolOriginsTarget => ({
  name: 'edge-pool',
  type: 'cloudflare.poolOrigins',
  source: 'prod',
  accountId: ACCOUNT,
  poolId: POOL,
  adopt: false,
  ...extra,
});

function context(
  desired: string[],
  extra: Partial<PlanContext> = {},
  gatewayHost: string | null = GATEWAY,
): PlanContext {
  return planContext(desired, {
    observation: observation({ gatewayHost: gatewayHost ?? undefined }),
    ...extra,
  });
}

function origin(body: Record<string, unknown>): PoolOrigin {
  return {
    name: String(body.name),
    address: String(body.address),
    enabled: body.enabled !== false,
    weight: typeof body.weight === 'number' ? body.weight : 1,
    header: body.header === undefined ? '' : JSON.stringify(body.header),
    body,
  };
}

const pool = (origins: Array<Record<string, unknown>>, minimumOrigins = 1): PoolActual => ({
  name: 'primary',
  minimumOrigins,
  origins: origins.map(origin),
});

const ours = (ip: string, extra: Record<string, unknown> = {}) => ({
  name: `apim-${ip}`,
  address: ip,
  enabled: true,
  weight: 1,
  header: HOST,
  ...extra,
});
const backup = { name: 'backup-dc', address: 'backup.contoso.net', enabled: true, weight: 0.2, port: 8443 };

describe('planPoolOrigins', () => {
  it('is in sync when our origins match, whatever the others are', () => {
    const plan = planPoolOrigins(
      target(),
      pool([backup, ours('20.1.1.1', { weight: 0.5 })]),
      context(['20.1.1.1']),
    );
    expect(plan.changes).toEqual([]);
    expect(plan.write).toBeUndefined();
    expect(plan.nextState.owned).toEqual(['20.1.1.1/32']);
    expect(plan.phase).toBe('dns');
  });

  it('follows an IP change at once, keeping the other origins, their order and fields', () => {
    const plan = planPoolOrigins(
      target(),
      pool([ours('20.1.1.1', { weight: 0.5 }), backup]),
      context(['20.2.2.2']),
    );
    expect(plan.changes).toEqual([
      { action: 'remove', before: '20.1.1.1', after: '', note: 'origin apim-20.1.1.1' },
      { action: 'add', before: '', after: '20.2.2.2', note: `origin apim-20.2.2.2, Host ${GATEWAY}` },
    ]);
    expect(plan.removals).toBe(1);
    expect(plan.deferred).toEqual([]);
    expect(plan.write).toEqual({
      accountId: ACCOUNT,
      poolId: POOL,
      origins: [
        backup,
        { name: 'apim-20.2.2.2', address: '20.2.2.2', enabled: true, weight: 1, header: HOST },
      ],
    });
    expect(plan.nextState).toEqual({
      resource: `accounts/${ACCOUNT}/load_balancers/pools/${POOL}`,
      owned: ['20.2.2.2/32'],
      departed: {},
    });
  });

  it('puts right the name, Host header and enabled flag of its origins, keeping their weight', () => {
    const plan = planPoolOrigins(
      target({ hostHeader: 'api.contoso.com' }),
      pool([
        ours('20.1.1.1', { weight: 0.3, enabled: false, disabled_at: '2026-01-01T00:00:00Z', port: 443 }),
      ]),
      context(['20.1.1.1']),
    );
    expect(plan.changes).toEqual([
      {
        action: 'update',
        subject: 'origin 20.1.1.1',
        before: `apim-20.1.1.1, disabled, header ${JSON.stringify(HOST)}`,
        after: 'apim-20.1.1.1, enabled, header {"Host":["api.contoso.com"]}',
      },
    ]);
    expect(plan.write?.origins).toEqual([
      {
        name: 'apim-20.1.1.1',
        address: '20.1.1.1',
        enabled: true,
        weight: 0.3,
        port: 443,
        header: { Host: ['api.contoso.com'] },
      },
    ]);
  });

  it('refuses a foreign origin at a desired address unless adopt, which renames it', () => {
    const theirs = {
      name: 'app-server-1',
      address: '20.2.2.2',
      enabled: true,
      weight: 0.6,
      header: { Host: ['x.example'] },
    };
    const held = planPoolOrigins(target(), pool([theirs]), context(['20.2.2.2']));
    expect(held.blocked?.reason).toBe('NotOwned');
    expect(held.blocked?.detail).toContain('pool primary has origin "app-server-1" (20.2.2.2)');
    expect(held.blocked?.detail).toContain('set "adopt": true on target edge-pool');
    expect(held.write).toBeUndefined();

    const adopted = planPoolOrigins(target({ adopt: true }), pool([theirs]), context(['20.2.2.2']));
    expect(adopted.changes).toEqual([
      {
        action: 'adopt',
        subject: 'origin app-server-1',
        before: '20.2.2.2',
        after: '20.2.2.2',
        note: `renamed apim-20.2.2.2, Host ${GATEWAY}`,
      },
    ]);
    expect(adopted.write?.origins).toEqual([{ ...theirs, name: 'apim-20.2.2.2', header: HOST }]);
    expect(adopted.nextState.owned).toEqual(['20.2.2.2/32']);
    expect(adopted.additions).toEqual([]);
  });

  it('never leaves fewer enabled origins than minimum_origins, and --force does not change that', () => {
    const actual = pool([ours('20.1.1.1'), ours('20.1.1.2'), { ...backup, enabled: false }], 2);
    const plan = planPoolOrigins(target(), actual, context(['20.2.2.2']));
    expect(plan.blocked?.reason).toBe('TooManyRemovals');
    expect(plan.blocked?.detail).toContain(
      'removing apim-20.1.1.1, apim-20.1.1.2 would leave 1 enabled origin in pool primary, below its minimum_origins (2)',
    );
    expect(plan.write).toBeUndefined();

    // What the engine sends instead: the addition, with every removal held.
    const additions = planPoolOrigins(target(), actual, context(['20.2.2.2'], { holdRemovals: true }));
    expect(additions.blocked).toBeUndefined();
    expect(additions.removals).toBe(0);
    expect(additions.write?.origins.map((o) => o.name)).toEqual([
      'apim-20.1.1.1',
      'apim-20.1.1.2',
      'backup-dc',
      'apim-20.2.2.2',
    ]);
    expect(additions.deferred.map((d) => d.heldBy)).toEqual(['TooManyRemovals', 'TooManyRemovals']);

    const enough = planPoolOrigins(target(), pool([ours('20.1.1.1'), backup], 2), context(['20.2.2.2']));
    expect(enough.blocked).toBeUndefined();
  });

  it('holds a prefix, and a source without a gateway host unless hostHeader is set', () => {
    expect(planPoolOrigins(target(), pool([]), context(['60.0.0.0/31'])).blocked?.reason).toBe('BroadPrefix');
    const noHost = planPoolOrigins(target(), pool([backup]), context(['20.2.2.2'], {}, null));
    expect(noHost.blocked).toEqual({
      reason: 'EmptySource',
      detail: `contoso reports no gateway host (gatewayUrl) for the origins' Host header; set "hostHeader" on target edge-pool`,
    });
    const withHost = planPoolOrigins(
      target({ hostHeader: 'api.contoso.com' }),
      pool([backup]),
      context(['20.2.2.2'], {}, null),
    );
    expect(withHost.write?.origins[1]).toMatchObject({ header: { Host: ['api.contoso.com'] } });
  });
});
