/**
 * The real `cloudflare` SDK against the emulator's DNS records (sandbox/cloudflare/dns.ts): validation, updates,
 * listing with auto-pagination and filters, and the atomic batch. Every expectation is a Cloudflare contract, not
 * an emulator detail (tests/support/cloudflareContract.ts).
 */
import { BadRequestError } from 'cloudflare';
import type { CloudflareEmulator } from '../../../sandbox/cloudflare';
import {
  PRO_ZONE,
  ZONE,
  aRecord,
  apiError,
  client,
  errorChain,
  errorsOf,
  fields,
  firstCode,
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

describe('DNS record validation', () => {
  it('validates content by type with the real codes, and stores AAAA compressed', async () => {
    const a = await apiError(client().dns.records.create(aRecord('api.example.com', '2001:db8::1')));
    expect(a.errors[0]).toEqual({
      code: 9005,
      message: 'Content for A record must be a valid IPv4 address.',
    });
    const leadingZero = await apiError(client().dns.records.create(aRecord('api.example.com', '192.0.2.01')));
    expect(firstCode(leadingZero)).toBe(9005);
    const aaaa = await apiError(
      client().dns.records.create({
        zone_id: ZONE,
        type: 'AAAA',
        name: 'api.example.com',
        content: '192.0.2.1',
        ttl: 1,
      }),
    );
    expect(firstCode(aaaa)).toBe(9006);
    const cname = await apiError(
      client().dns.records.create({
        zone_id: ZONE,
        type: 'CNAME',
        name: 'www.example.com',
        content: '192.0.2.1',
        ttl: 1,
      }),
    );
    expect(firstCode(cname)).toBe(9007);
    const v6 = await client().dns.records.create({
      zone_id: ZONE,
      type: 'AAAA',
      name: 'api.example.com',
      content: '2001:DB8:0:0:0:0:0:0001',
      ttl: 1,
    });
    expect(fields(v6).content).toBe('2001:db8::1');
  });

  it('stores names as lower-case FQDNs: @, relative names and names of other zones get the zone appended', async () => {
    const names = ['@', 'WWW', 'Api.Example.COM.', 'api.contoso.net'];
    for (const [i, name] of names.entries()) {
      await client().dns.records.create(aRecord(name, `192.0.2.${i + 1}`));
    }
    expect(cf.records(ZONE).map((r) => r.name)).toEqual([
      'example.com',
      'www.example.com',
      'api.example.com',
      'api.contoso.net.example.com',
    ]);
    const bad = await apiError(client().dns.records.create(aRecord('bad..name', '192.0.2.9')));
    expect(bad.errors[0]).toMatchObject({ code: 1004, message: 'DNS Validation Error' });
  });

  it('allows ttl 1 or 60-86400 and keeps proxied records at ttl 1', async () => {
    const low = await apiError(
      client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { ttl: 30 })),
    );
    expect(low.errors[0]).toEqual({
      code: 1004,
      message: 'DNS Validation Error',
      error_chain: [{ code: 9021, message: 'TTL must be between 60 and 86400 seconds, or 1 for Automatic.' }],
    });
    await expect(
      client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { ttl: 86401 })),
    ).rejects.toBeInstanceOf(BadRequestError);
    const plain = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { ttl: 60 }));
    expect(plain.ttl).toBe(60);
    const proxied = await client().dns.records.create(
      aRecord('api.example.com', '192.0.2.2', { ttl: 300, proxied: true }),
    );
    expect(proxied.ttl).toBe(1);
  });

  it('limits comments by plan and forbids newlines; tags only on paid plans', async () => {
    const long = 'c'.repeat(101);
    const free = await apiError(
      client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { comment: long })),
    );
    expect(errorChain(free)).toEqual([
      { code: 9313, message: 'DNS record comment exceeds the maximum length of 100 characters.' },
    ]);
    const newline = await apiError(
      client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { comment: 'a\nb' })),
    );
    expect(firstCode(newline)).toBe(1004);
    const tagged = await apiError(
      client().dns.records.create({ ...aRecord('api.example.com', '192.0.2.1'), tags: ['owner:dns-team'] }),
    );
    expect(errorChain(tagged)).toEqual([
      { code: 9300, message: 'DNS record has 1 tags, exceeding the quota of 0.' },
    ]);

    const pro = fields(
      await client().dns.records.create({
        zone_id: PRO_ZONE,
        type: 'A',
        name: 'api.example.org',
        content: '192.0.2.1',
        ttl: 1,
        comment: long,
        tags: ['owner:dns-team'],
      }),
    );
    expect(pro).toMatchObject({ comment: long, tags: ['owner:dns-team'] });
    expect(pro.comment_modified_on).toEqual(pro.created_on);
    expect(pro.tags_modified_on).toEqual(pro.created_on);
    const tooLong = await apiError(
      client().dns.records.create({
        zone_id: PRO_ZONE,
        type: 'A',
        name: 'api.example.org',
        content: '192.0.2.2',
        ttl: 1,
        comment: 'c'.repeat(501),
      }),
    );
    expect(errorChain(tooLong)).toEqual([expect.objectContaining({ code: 9313 })]);
  });

  it('enforces the same-name rules with their codes', async () => {
    await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    await client().dns.records.create(aRecord('api.example.com', '192.0.2.2'));
    await client().dns.records.create({
      zone_id: ZONE,
      type: 'TXT',
      name: 'api.example.com',
      content: 'v=1',
      ttl: 1,
    });
    const identical = await apiError(client().dns.records.create(aRecord('API.example.com', '192.0.2.1')));
    expect(identical.errors[0]).toEqual({ code: 81058, message: 'An identical record already exists.' });
    const cnameOverA = await apiError(
      client().dns.records.create({
        zone_id: ZONE,
        type: 'CNAME',
        name: 'api.example.com',
        content: 'x.net',
        ttl: 1,
      }),
    );
    expect(cnameOverA.errors[0]).toEqual({
      code: 81053,
      message: 'An A, AAAA, or CNAME record with that host already exists.',
    });

    await client().dns.records.create({
      zone_id: ZONE,
      type: 'CNAME',
      name: 'www.example.com',
      content: 'x.net',
      ttl: 1,
    });
    const aOverCname = await apiError(client().dns.records.create(aRecord('www.example.com', '192.0.2.3')));
    expect(firstCode(aOverCname)).toBe(81054);
    expect(aOverCname.errors[0]?.message).toMatch(/^A CNAME record with that host already exists/);
    const cnameOverCname = await apiError(
      client().dns.records.create({
        zone_id: ZONE,
        type: 'CNAME',
        name: 'www.example.com',
        content: 'y.net',
        ttl: 1,
      }),
    );
    expect(firstCode(cnameOverCname)).toBe(81053);
  });

  it('answers 81045 past the Free plan record quota of 200', async () => {
    for (let i = 0; i < 200; i++) cf.addRecord(ZONE, { type: 'A', name: `h${i}`, content: '192.0.2.1' });
    const error = await apiError(client().dns.records.create(aRecord('one-more', '192.0.2.1')));
    expect(error.errors[0]).toEqual({ code: 81045, message: 'Record quota exceeded.' });
  });
});

describe('DNS record updates', () => {
  it('merges a PATCH and overwrites on PUT, resetting what PUT does not name', async () => {
    const created = await client().dns.records.create(
      aRecord('api.example.com', '192.0.2.1', { proxied: true, comment: 'managed-by:apim-ip-reconciler' }),
    );
    const patched = await raw('PATCH', `/zones/${ZONE}/dns_records/${created.id}`, {
      body: { content: '192.0.2.9' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body.result).toMatchObject({
      content: '192.0.2.9',
      proxied: true,
      comment: 'managed-by:apim-ip-reconciler',
      created_on: created.created_on,
    });
    const edited = await client().dns.records.edit(created.id, {
      zone_id: ZONE,
      type: 'A',
      name: 'api.example.com',
      ttl: 1,
      content: '192.0.2.10',
    });
    expect(fields(edited)).toMatchObject({
      content: '192.0.2.10',
      proxied: true,
      comment: 'managed-by:apim-ip-reconciler',
    });

    const put = fields(
      await client().dns.records.update(created.id, {
        zone_id: ZONE,
        type: 'A',
        name: 'api.example.com',
        ttl: 300,
        content: '192.0.2.11',
      }),
    );
    expect(put).toMatchObject({ id: created.id, content: '192.0.2.11', proxied: false, ttl: 300 });
    expect(put).not.toHaveProperty('comment');
    expect(put).not.toHaveProperty('comment_modified_on');
  });

  it('deletes a record answering {id}, then 404 81044', async () => {
    const created = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    await expect(client().dns.records.delete(created.id, { zone_id: ZONE })).resolves.toEqual({
      id: created.id,
    });
    const again = await apiError(client().dns.records.delete(created.id, { zone_id: ZONE }));
    expect(again.status).toBe(404);
    expect(firstCode(again)).toBe(81044);
    const patch = await apiError(
      client().dns.records.edit(created.id, {
        zone_id: ZONE,
        type: 'A',
        name: 'api',
        ttl: 1,
        content: '192.0.2.2',
      }),
    );
    expect(firstCode(patch)).toBe(81044);
  });

  it('lets a concurrent writer delete the record just before a PATCH', async () => {
    const created = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    cf.inject({ route: 'dnsRecords.patch', concurrentModification: true });
    const error = await apiError(
      client().dns.records.edit(created.id, {
        zone_id: ZONE,
        type: 'A',
        name: 'api',
        ttl: 1,
        content: '192.0.2.2',
      }),
    );
    expect(firstCode(error)).toBe(81044);
    expect(cf.records(ZONE)).toEqual([]);
  });

  it('lets a concurrent writer create the same record just before a POST', async () => {
    cf.inject({ route: 'dnsRecords.create', concurrentModification: true });
    const error = await apiError(client().dns.records.create(aRecord('api', '192.0.2.1')));
    expect(firstCode(error)).toBe(81058);
    expect(cf.records(ZONE, { name: 'api' })).toEqual([expect.objectContaining({ content: '192.0.2.1' })]);
  });
});

describe('DNS record listing', () => {
  function seed(count: number): void {
    for (let i = 0; i < count; i++) {
      cf.addRecord(ZONE, { type: 'A', name: 'rr.example.com', content: `192.0.2.${i + 1}` });
    }
  }

  it('auto-paginates with the SDK until the empty page past the end', async () => {
    seed(5);
    const seen: string[] = [];
    for await (const record of client().dns.records.list({ zone_id: ZONE, per_page: 2 })) {
      seen.push(String(fields(record).content));
    }
    expect(seen.sort()).toEqual(['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5']);
    expect(cf.count({ method: 'GET', route: 'dnsRecords.list' })).toBe(4);
    expect(cf.requests.map((r) => r.path)).toEqual(new Array(4).fill(`/client/v4/zones/${ZONE}/dns_records`));
  });

  it('describes each page in result_info and answers result [] past the end', async () => {
    seed(3);
    const first = await raw('GET', `/zones/${ZONE}/dns_records?per_page=2`);
    expect(first.body.result_info).toEqual({
      page: 1,
      per_page: 2,
      count: 2,
      total_count: 3,
      total_pages: 2,
    });
    const past = await raw('GET', `/zones/${ZONE}/dns_records?per_page=2&page=3`);
    expect(past.body.result).toEqual([]);
    expect(past.body.result_info).toEqual({ page: 3, per_page: 2, count: 0, total_count: 3, total_pages: 2 });
    const page = await client().dns.records.list({ zone_id: ZONE });
    expect(page.result_info).toMatchObject({ page: 1, per_page: 100 });
    const bad = await raw('GET', `/zones/${ZONE}/dns_records?per_page=0`);
    expect(bad.status).toBe(400);
  });

  it('filters with dotted keys, case-insensitively, and combines them with match', async () => {
    cf.addRecord(PRO_ZONE, {
      type: 'A',
      name: 'api',
      content: '192.0.2.1',
      comment: 'managed-by:apim-ip-reconciler',
    });
    cf.addRecord(PRO_ZONE, {
      type: 'A',
      name: 'api',
      content: '192.0.2.2',
      proxied: true,
      tags: ['Owner:DNS-team'],
    });
    cf.addRecord(PRO_ZONE, { type: 'TXT', name: 'api', content: 'hello', comment: 'Someone Else' });
    cf.addRecord(PRO_ZONE, { type: 'AAAA', name: 'www', content: '2001:db8::1' });
    const contents = async (query: Json) => {
      const out: string[] = [];
      for await (const r of client().dns.records.list({ zone_id: PRO_ZONE, ...query }))
        out.push(String(fields(r).content));
      return out.sort();
    };
    expect(await contents({ name: { exact: 'API.example.ORG' } })).toEqual([
      '192.0.2.1',
      '192.0.2.2',
      'hello',
    ]);
    expect(await contents({ name: { exact: 'api.example.org' }, type: 'A' })).toEqual([
      '192.0.2.1',
      '192.0.2.2',
    ]);
    expect(await contents({ name: { startswith: 'WW' } })).toEqual(['2001:db8::1']);
    expect(await contents({ name: { endswith: '.example.org' }, content: { contains: '0.2.' } })).toEqual([
      '192.0.2.1',
      '192.0.2.2',
    ]);
    expect(await contents({ comment: { startswith: 'MANAGED-BY:' } })).toEqual(['192.0.2.1']);
    expect(await contents({ comment: { exact: 'someone else' } })).toEqual(['hello']);
    expect(await contents({ comment: { present: '' } })).toEqual(['192.0.2.1', 'hello']);
    expect(await contents({ comment: { absent: '' } })).toEqual(['192.0.2.2', '2001:db8::1']);
    expect(await contents({ tag: { present: 'owner' } })).toEqual(['192.0.2.2']);
    expect(await contents({ tag: { exact: 'owner:dns-team' } })).toEqual(['192.0.2.2']);
    expect(await contents({ proxied: true })).toEqual(['192.0.2.2']);
    expect(await contents({ type: 'AAAA', content: { exact: 'hello' }, match: 'any' })).toEqual([
      '2001:db8::1',
      'hello',
    ]);
    expect(await contents({ type: 'AAAA', content: { exact: 'hello' } })).toEqual([]);

    const bare = await raw('GET', `/zones/${PRO_ZONE}/dns_records?comment=someone%20else`);
    expect((bare.body.result as Json[]).map((r) => r.content)).toEqual(['hello']);
    const ordered = await raw('GET', `/zones/${PRO_ZONE}/dns_records?type=A&order=content&direction=desc`);
    expect((ordered.body.result as Json[]).map((r) => r.content)).toEqual(['192.0.2.2', '192.0.2.1']);
  });
});

describe('DNS record batch', () => {
  it('runs deletes before posts, so an A → CNAME swap works in one batch', async () => {
    const a = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1', { proxied: true }));
    const result = await client().dns.records.batch({
      zone_id: ZONE,
      posts: [
        { type: 'CNAME', name: 'api.example.com', content: 'contoso.azure-api.net', ttl: 1, proxied: true },
      ],
      deletes: [{ id: a.id }],
    });
    expect(result.deletes?.map((r) => fields(r))).toEqual([
      expect.objectContaining({ id: a.id, content: '192.0.2.1' }),
    ]);
    expect(result.posts?.map((r) => fields(r))).toEqual([
      expect.objectContaining({ type: 'CNAME', content: 'contoso.azure-api.net', proxied: true }),
    ]);
    expect(result.patches).toEqual([]);
    expect(result.puts).toEqual([]);
    expect(cf.records(ZONE).map((r) => r.type)).toEqual(['CNAME']);
  });

  it('applies patches before puts before posts, whatever the body order', async () => {
    const a = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    const reply = await raw('POST', `/zones/${ZONE}/dns_records/batch`, {
      body: {
        posts: [{ type: 'A', name: 'api.example.com', content: '192.0.2.2', ttl: 1 }],
        puts: [{ id: a.id, type: 'A', name: 'api.example.com', content: '192.0.2.3', ttl: 1 }],
        patches: [{ id: a.id, content: '192.0.2.2' }],
      },
    });
    // Had posts run first, 192.0.2.2 would exist twice (81058); had the put run first, the patch would win.
    expect(reply.status).toBe(200);
    expect(
      cf
        .records(ZONE)
        .map((r) => r.content)
        .sort(),
    ).toEqual(['192.0.2.2', '192.0.2.3']);
  });

  it('is atomic: a failing post rolls back the deletes and patches before it', async () => {
    const a = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    const b = await client().dns.records.create(aRecord('api.example.com', '192.0.2.2'));
    const before = cf.records(ZONE);
    const reply = await raw('POST', `/zones/${ZONE}/dns_records/batch`, {
      body: {
        deletes: [{ id: a.id }],
        patches: [{ id: b.id, content: '192.0.2.20' }],
        posts: [
          { type: 'A', name: 'api.example.com', content: '192.0.2.30', ttl: 1 },
          { type: 'A', name: 'api.example.com', content: '300.0.0.1', ttl: 1 },
        ],
      },
    });
    expect(reply.status).toBe(400);
    expect(errorsOf(reply)).toEqual([
      { code: 9005, message: 'Content for A record must be a valid IPv4 address.' },
    ]);
    expect(reply.body.result).toBeNull();
    expect(cf.records(ZONE)).toEqual(before);
  });

  it('answers an unknown id in a batch with 400 81044', async () => {
    const error = await apiError(
      client().dns.records.batch({ zone_id: ZONE, deletes: [{ id: '2bff0ebc4df64beaa44b0dca93e37a28' }] }),
    );
    expect(error.status).toBe(400);
    expect(firstCode(error)).toBe(81044);
  });

  it('limits batch size by plan: 200 on Free, 3,500 on paid plans', async () => {
    const posts = Array.from({ length: 201 }, (_, i) => ({
      type: 'TXT' as const,
      name: `t${i}`,
      content: 'x',
      ttl: 1 as const,
    }));
    const free = await apiError(client().dns.records.batch({ zone_id: ZONE, posts }));
    expect(free.status).toBe(400);
    expect(cf.records(ZONE)).toEqual([]);
    const pro = await client().dns.records.batch({ zone_id: PRO_ZONE, posts });
    expect(pro.posts).toHaveLength(201);
  });

  it('fails as the real API would when another writer changed a referenced record first', async () => {
    const a = await client().dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    cf.inject({ route: 'dnsRecords.batch', concurrentModification: true });
    const error = await apiError(
      client().dns.records.batch({
        zone_id: ZONE,
        patches: [{ id: a.id, type: 'A', name: 'api.example.com', ttl: 1, content: '192.0.2.2' }],
        posts: [{ type: 'A', name: 'api.example.com', content: '192.0.2.3', ttl: 1 }],
      }),
    );
    expect(error.status).toBe(400);
    expect(firstCode(error)).toBe(81044);
    expect(cf.records(ZONE)).toEqual([]);

    cf.inject({ route: 'dnsRecords.batch', concurrentModification: true });
    const conflict = await apiError(
      client().dns.records.batch({
        zone_id: ZONE,
        posts: [{ type: 'A', name: 'www', content: '192.0.2.4', ttl: 1 }],
      }),
    );
    expect(firstCode(conflict)).toBe(81058);
    expect(cf.records(ZONE)).toHaveLength(1);
  });
});

describe('zone details', () => {
  it('gives the zone name and plan to client.zones.get, and 403 to a token without the zone', async () => {
    const zone = await client().zones.get({ zone_id: ZONE });
    expect(zone).toMatchObject({
      id: ZONE,
      name: 'example.com',
      status: 'active',
      plan: { legacy_id: 'free' },
    });
    const pro = await client().zones.get({ zone_id: PRO_ZONE });
    expect(pro.plan).toMatchObject({ legacy_id: 'pro', name: 'Pro Website' });
    const other = await raw('GET', '/zones/ffffffffffffffffffffffffffffffff');
    expect(other.status).toBe(403);
  });
});
