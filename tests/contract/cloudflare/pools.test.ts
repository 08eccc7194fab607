/**
 * The real `cloudflare` SDK against the emulator's Load Balancer pools (sandbox/cloudflare/pools.ts): the reference
 * shape, PATCH and PUT semantics, origin validation and the lost update no etag prevents. Every expectation is a
 * Cloudflare contract, not an emulator detail (tests/support/cloudflareContract.ts).
 */
import type { CloudflareEmulator } from '../../../sandbox/cloudflare';
import {
  ACCOUNT,
  POOL,
  apiError,
  client,
  errorsOf,
  fields,
  raw,
  startCloudflare,
  type Json,
} from '../../support/cloudflareContract';

let cf: CloudflareEmulator;

beforeEach(async () => {
  cf = await startCloudflare();
});

afterEach(async () => {
  await cf.close();
});

describe('load balancer pools', () => {
  const origins = [
    {
      name: 'apim-20.50.1.10',
      address: '20.50.1.10',
      enabled: true,
      weight: 1,
      header: { Host: ['contoso.azure-api.net'] },
    },
  ];

  beforeEach(() => {
    cf.addPool(ACCOUNT, {
      id: POOL,
      name: 'primary-dc-1',
      description: 'Primary data center - Provider XYZ',
      check_regions: ['WEU', 'ENAM'],
      origins: [
        { name: 'app-server-1', address: '198.51.100.7', weight: 0.6, header: { Host: ['example.com'] } },
      ],
    });
  });

  it('gets a pool in the reference shape', async () => {
    const pool = await client().loadBalancers.pools.get(POOL, { account_id: ACCOUNT });
    expect(pool).toMatchObject({
      id: POOL,
      name: 'primary-dc-1',
      enabled: true,
      minimum_origins: 1,
      monitor: null,
      check_regions: ['WEU', 'ENAM'],
      origin_steering: { policy: 'random' },
      origins: [
        {
          name: 'app-server-1',
          address: '198.51.100.7',
          enabled: true,
          weight: 0.6,
          header: { Host: ['example.com'] },
        },
      ],
    });
    expect(Object.keys(fields(pool))).toEqual(
      expect.arrayContaining(['created_on', 'modified_on', 'load_shedding']),
    );
    const all: Array<string | undefined> = [];
    for await (const p of client().loadBalancers.pools.list({ account_id: ACCOUNT })) all.push(p.id);
    expect(all).toEqual([POOL]);
  });

  it('replaces the whole origins array on PATCH and keeps the other fields', async () => {
    const edited = await client().loadBalancers.pools.edit(POOL, { account_id: ACCOUNT, origins });
    expect(edited.origins).toEqual(origins);
    expect(edited.description).toBe('Primary data center - Provider XYZ');
    expect(cf.pool(ACCOUNT, POOL)?.origins).toEqual(origins);
    const desc = await client().loadBalancers.pools.edit(POOL, { account_id: ACCOUNT, description: 'moved' });
    expect(desc.origins).toEqual(origins);
  });

  it('requires name and origins on PUT and resets what it does not name', async () => {
    const missing = await raw('PUT', `/accounts/${ACCOUNT}/load_balancers/pools/${POOL}`, {
      body: { origins },
    });
    expect(missing.status).toBe(400);
    expect(errorsOf(missing)[0]).toMatchObject({ code: 1002 });
    const put = await client().loadBalancers.pools.update(POOL, {
      account_id: ACCOUNT,
      name: 'primary',
      origins,
    });
    expect(put).toMatchObject({ name: 'primary', description: '', check_regions: null, origins });
  });

  it.each([
    ['weight above 1', { name: 'a', address: '198.51.100.1', weight: 1.5 }],
    ['two Host values', { name: 'a', address: '198.51.100.1', header: { Host: ['a.example', 'b.example'] } }],
    ['another header', { name: 'a', address: '198.51.100.1', header: { 'X-Foo': ['1'] } }],
    ['no address', { name: 'a' }],
    ['no name', { address: '198.51.100.1' }],
    ['a private address without virtual network', { name: 'a', address: '10.0.0.4' }],
  ])('refuses an origin with %s (1002 validation failed)', async (_what, origin) => {
    const reply = await raw('PATCH', `/accounts/${ACCOUNT}/load_balancers/pools/${POOL}`, {
      body: { origins: [origin] },
    });
    expect(reply.status).toBe(400);
    expect(errorsOf(reply)[0]?.code).toBe(1002);
    expect(errorsOf(reply)[0]?.message).toMatch(/: validation failed$/);
    expect(cf.pool(ACCOUNT, POOL)?.origins).toEqual([expect.objectContaining({ name: 'app-server-1' })]);
  });

  it('refuses an empty origin list, duplicate origins and a bad minimum_origins', async () => {
    const bodies = [
      { origins: [] },
      { origins: [origins[0], { ...origins[0], address: '20.50.1.11' }] },
      { origins: [origins[0], { ...origins[0], name: 'apim-other' }] },
      { minimum_origins: -1 },
    ];
    for (const body of bodies) {
      const reply = await raw('PATCH', `/accounts/${ACCOUNT}/load_balancers/pools/${POOL}`, { body });
      expect([reply.status, errorsOf(reply)[0]?.code]).toEqual([400, 1002]);
    }
    const vnet = await client().loadBalancers.pools.edit(POOL, {
      account_id: ACCOUNT,
      origins: [
        { name: 'private', address: '10.0.0.4', virtual_network_id: 'a5624d4e-044a-4ff0-b3e1-e2465353d4b4' },
      ],
    });
    expect(vnet.origins?.[0]?.address).toBe('10.0.0.4');
  });

  it('answers an unknown pool with 404', async () => {
    const error = await apiError(
      client().loadBalancers.pools.get('27b5962d775c646f3f9725cbc7a53df4', { account_id: ACCOUNT }),
    );
    expect(error.status).toBe(404);
  });

  it('lets a PATCH overwrite a concurrent writer (no etag on pools)', async () => {
    cf.inject({ route: 'pools.patch', concurrentModification: true });
    await client().loadBalancers.pools.edit(POOL, { account_id: ACCOUNT, description: 'mine' });
    expect((cf.pool(ACCOUNT, POOL)?.origins as Json[]).map((o) => o.name)).toEqual([
      'app-server-1',
      'concurrent-writer',
    ]);
    cf.inject({ route: 'pools.patch', concurrentModification: true });
    await client().loadBalancers.pools.edit(POOL, { account_id: ACCOUNT, origins });
    expect(cf.pool(ACCOUNT, POOL)?.origins).toEqual(origins);
  });
});
