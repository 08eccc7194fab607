/**
 * The real `cloudflare` SDK against the emulator's Rules IP lists (sandbox/cloudflare/lists.ts): asynchronous bulk
 * operations, one pending operation per account, item validation and normalization, and cursor pagination. Every
 * expectation is a Cloudflare contract, not an emulator detail (tests/support/cloudflareContract.ts).
 */
import { BadRequestError, RateLimitError } from 'cloudflare';
import type { CloudflareEmulator } from '../../../sandbox/cloudflare';
import {
  ACCOUNT,
  LIST,
  apiError,
  client,
  fields,
  raw,
  startCloudflare,
} from '../../support/cloudflareContract';

let cf: CloudflareEmulator;

beforeEach(async () => {
  cf = await startCloudflare();
});

afterEach(async () => {
  await cf.close();
});

describe('rules IP lists', () => {
  beforeEach(() => {
    cf.addList(ACCOUNT, { id: LIST, name: 'apim_outbound' });
  });

  async function poll(operationId: string): Promise<string[]> {
    const statuses: string[] = [];
    for (let i = 0; i < 10; i++) {
      const op = await client().rules.lists.bulkOperations.get(operationId, { account_id: ACCOUNT });
      statuses.push(op.status);
      if (op.status === 'completed' || op.status === 'failed') break;
    }
    return statuses;
  }

  it('appends items asynchronously: nothing changes until the operation completes', async () => {
    const { operation_id } = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [
        { ip: '20.1.2.3/32', comment: 'managed-by:apim-ip-reconciler' },
        { ip: '10.1.1.5/24' },
        { ip: '2001:DB8::1' },
      ],
    });
    expect(operation_id).toMatch(/^[0-9a-f]{32}$/);
    expect(cf.listItems(ACCOUNT, LIST)).toEqual([]);
    const first = await client().rules.lists.bulkOperations.get(operation_id, { account_id: ACCOUNT });
    expect(first).toEqual({ id: operation_id, status: 'pending' });
    expect(cf.listItems(ACCOUNT, LIST)).toEqual([]);
    const done = await client().rules.lists.bulkOperations.get(operation_id, { account_id: ACCOUNT });
    expect(done).toMatchObject({ id: operation_id, status: 'completed' });
    expect(Date.parse(String(fields(done).completed))).not.toBeNaN();
    expect(cf.listItems(ACCOUNT, LIST)).toEqual([
      expect.objectContaining({ ip: '20.1.2.3', comment: 'managed-by:apim-ip-reconciler' }),
      expect.objectContaining({ ip: '10.1.1.0/24' }),
      expect.objectContaining({ ip: '2001:db8::1' }),
    ]);
  });

  it('reports pending, then running, for bulkOperationPolls polls', async () => {
    cf.bulkOperationPolls = 3;
    const { operation_id } = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.1.2.3' }],
    });
    expect(await poll(operation_id)).toEqual(['pending', 'running', 'running', 'completed']);
    expect(cf.listItems(ACCOUNT, LIST)).toHaveLength(1);
  });

  it('rejects a second write while one operation of the account is pending (429)', async () => {
    const { operation_id } = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.1.2.3' }],
    });
    const error = await apiError(
      client().rules.lists.items.create(LIST, { account_id: ACCOUNT, body: [{ ip: '20.1.2.4' }] }),
    );
    expect(error).toBeInstanceOf(RateLimitError);
    await poll(operation_id);
    const next = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.1.2.4' }],
    });
    await poll(next.operation_id);
    expect(cf.listItems(ACCOUNT, LIST).map((i) => i.ip)).toEqual(['20.1.2.3', '20.1.2.4']);
  });

  it('fails the next operation on demand, changing nothing', async () => {
    cf.addListItem(ACCOUNT, LIST, { ip: '20.1.2.3' });
    cf.failNextBulkOperation('This list is at the maximum number of items');
    const { operation_id } = await client().rules.lists.items.update(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.9.9.9' }],
    });
    await poll(operation_id);
    const op = await client().rules.lists.bulkOperations.get(operation_id, { account_id: ACCOUNT });
    expect(op).toMatchObject({ status: 'failed', error: 'This list is at the maximum number of items' });
    expect(cf.listItems(ACCOUNT, LIST).map((i) => i.ip)).toEqual(['20.1.2.3']);
  });

  it('replaces all items on PUT and deletes by id', async () => {
    const kept = cf.addListItem(ACCOUNT, LIST, { ip: '20.1.2.3' });
    cf.addListItem(ACCOUNT, LIST, { ip: '20.1.2.4' });
    const replace = await client().rules.lists.items.update(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.5.5.5' }, { ip: '20.6.6.6' }],
    });
    await poll(replace.operation_id);
    const items = cf.listItems(ACCOUNT, LIST);
    expect(items.map((i) => i.ip)).toEqual(['20.5.5.5', '20.6.6.6']);
    expect(items.map((i) => i.id)).not.toContain(kept.id);
    const del = await client().rules.lists.items.delete(LIST, {
      account_id: ACCOUNT,
      items: [{ id: String(items[0]?.id) }],
    });
    expect(cf.listItems(ACCOUNT, LIST)).toHaveLength(2);
    await poll(del.operation_id);
    expect(cf.listItems(ACCOUNT, LIST).map((i) => i.ip)).toEqual(['20.6.6.6']);
  });

  it('merges an appended IP that is already listed into the existing item', async () => {
    const existing = cf.addListItem(ACCOUNT, LIST, { ip: '20.1.2.3', comment: 'old' });
    const { operation_id } = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.1.2.3/32', comment: 'new' }],
    });
    await poll(operation_id);
    expect(cf.listItems(ACCOUNT, LIST)).toEqual([
      expect.objectContaining({ id: existing.id, comment: 'new' }),
    ]);
  });

  it.each(['10.0.0.0/7', '2001:db8::/11', 'not-an-ip', '20.1.2.3/33', '20.1.2.3/24/1'])(
    'refuses the IP item %s synchronously',
    async (ip) => {
      const error = await apiError(
        client().rules.lists.items.create(LIST, { account_id: ACCOUNT, body: [{ ip }] }),
      );
      expect(error).toBeInstanceOf(BadRequestError);
    },
  );

  it('accepts IPv4 /8-/32 and IPv6 addresses and /12-/128 prefixes, normalized', async () => {
    const { operation_id } = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [
        { ip: '10.0.0.0/8' },
        { ip: '2001:db8:0:0:1::/64' },
        { ip: '2001:db8::5/96' },
        { ip: '2001:db8::7/128' },
      ],
    });
    await poll(operation_id);
    expect(cf.listItems(ACCOUNT, LIST).map((i) => i.ip)).toEqual([
      '10.0.0.0/8',
      '2001:db8::/64',
      '2001:db8::/96',
      '2001:db8::7',
    ]);
  });

  it('pages items with cursors; the last page has no after cursor', async () => {
    for (let i = 1; i <= 25; i++) cf.addListItem(ACCOUNT, LIST, { ip: `20.0.0.${i}` });
    const ips: string[] = [];
    for await (const item of client().rules.lists.items.list(LIST, { account_id: ACCOUNT, per_page: 10 })) {
      ips.push(String(fields(item).ip));
    }
    expect(ips).toHaveLength(25);
    expect(new Set(ips).size).toBe(25);
    expect(cf.count({ route: 'listItems.list' })).toBe(3);

    const first = await raw('GET', `/accounts/${ACCOUNT}/rules/lists/${LIST}/items?per_page=10`);
    const cursors = fields(fields(first.body.result_info).cursors);
    expect(cursors).not.toHaveProperty('before');
    const second = await raw(
      'GET',
      `/accounts/${ACCOUNT}/rules/lists/${LIST}/items?per_page=10&cursor=${String(cursors.after)}`,
    );
    const back = fields(fields(second.body.result_info).cursors).before;
    const again = await raw(
      'GET',
      `/accounts/${ACCOUNT}/rules/lists/${LIST}/items?per_page=10&cursor=${String(back)}`,
    );
    expect(again.body.result).toEqual(first.body.result);
    const last = await raw(
      'GET',
      `/accounts/${ACCOUNT}/rules/lists/${LIST}/items?per_page=20&cursor=${String(cursors.after)}`,
    );
    expect(last.body.result).toHaveLength(15);
    expect(fields(last.body.result_info).cursors).toEqual({ before: expect.any(String) });
  });

  it('makes a write meet another writer’s pending operation once under concurrentModification', async () => {
    cf.inject({ route: 'listItems.create', concurrentModification: true });
    const error = await apiError(
      client().rules.lists.items.create(LIST, { account_id: ACCOUNT, body: [{ ip: '20.1.2.3' }] }),
    );
    expect(error.status).toBe(429);
    const retry = await client().rules.lists.items.create(LIST, {
      account_id: ACCOUNT,
      body: [{ ip: '20.1.2.3' }],
    });
    expect(retry.operation_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('answers an unknown operation or list with 404', async () => {
    const op = await apiError(
      client().rules.lists.bulkOperations.get('4da8780eeb215e6cb7f48dd981c4ea02', { account_id: ACCOUNT }),
    );
    expect(op.status).toBe(404);
    const list = await apiError(
      client().rules.lists.items.list('3c0fc9fa937b11eaa1b71c4d701ab86f', { account_id: ACCOUNT }),
    );
    expect(list.status).toBe(404);
  });
});
