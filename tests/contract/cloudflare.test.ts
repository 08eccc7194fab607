import Cloudflare, {
  APIError,
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'cloudflare';
import { CloudflareEmulator } from '../../sandbox/cloudflare';
import { inheritedRunCertificate } from '../../sandbox/tls';

// The real `cloudflare` SDK against the emulator: every expectation here is a Cloudflare contract
// (../shared/reference/CLOUDFLARE.md and reference/cloudflare/*.json), not an emulator detail.

type Json = Record<string, unknown>;

const ZONE = '023e105f4ecef8ad9ca31a8372d0c353'; // example.com, Free
const PRO_ZONE = '9a7806061c88ada191ed06f989cc3dac'; // example.org, Pro
const OTHER_ZONE = 'b5b82f8d72414f849bd96a50e6228ece'; // example.net, no grant
const ACCOUNT = '01a7362d577a6c3019a474fd6f485823';
const POOL = '17b5962d775c646f3f9725cbc7a53df4';
const LIST = '2c0fc9fa937b11eaa1b71c4d701ab86e';
const EDIT = 'EditTokenEditTokenEditTokenEditToken-000';
const READ = 'ReadTokenReadTokenReadTokenReadToken_000';

const certificate = inheritedRunCertificate();
const tls = certificate ? { cert: certificate.cert, key: certificate.key } : undefined;

let cf: CloudflareEmulator;

beforeEach(async () => {
  cf = await CloudflareEmulator.start({ tls });
  cf.addZone({ id: ZONE, name: 'example.com' });
  cf.addZone({ id: PRO_ZONE, name: 'example.org', plan: 'pro', accountId: ACCOUNT });
  cf.addZone({ id: OTHER_ZONE, name: 'example.net' });
  cf.addToken(EDIT, {
    zones: { [ZONE]: 'edit', [PRO_ZONE]: 'edit' },
    accounts: { [ACCOUNT]: { loadBalancers: 'edit', lists: 'edit' } },
  });
  cf.addToken(READ, {
    zones: { [ZONE]: 'read' },
    accounts: { [ACCOUNT]: { loadBalancers: 'read', lists: 'read' } },
  });
});

afterEach(async () => {
  await cf.close();
});

function client(token = EDIT, maxRetries = 0): Cloudflare {
  return new Cloudflare({ apiToken: token, baseURL: cf.baseUrl, maxRetries });
}

async function apiError(promise: PromiseLike<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

function firstCode(error: APIError): number | undefined {
  return error.errors[0]?.code;
}

/** `error_chain` is in the body but not in the SDK's ErrorData type. */
function errorChain(error: APIError): unknown {
  return fields(error.errors[0]).error_chain;
}

function fields(value: unknown): Json {
  if (typeof value !== 'object' || value === null) throw new Error(`not an object: ${String(value)}`);
  return value as Json;
}

interface RawReply {
  status: number;
  headers: Headers;
  body: Json;
}

async function raw(
  method: string,
  path: string,
  options: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<RawReply> {
  const headers: Record<string, string> = {};
  if (options.token !== null) headers.authorization = `Bearer ${options.token ?? EDIT}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, options.headers);
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const res = await fetch(`${cf.baseUrl}${path}`, { method, headers, body });
  return { status: res.status, headers: res.headers, body: fields(await res.json()) };
}

function errorsOf(
  reply: RawReply,
): Array<{ code: number; message: string; error_chain?: Array<{ code: number }> }> {
  return reply.body.errors as Array<{ code: number; message: string; error_chain?: Array<{ code: number }> }>;
}

function aRecord(
  name: string,
  content: string,
  extra: { proxied?: boolean; ttl?: number; comment?: string } = {},
) {
  return { zone_id: ZONE, type: 'A' as const, name, content, ttl: extra.ttl ?? 1, ...extra };
}

describe('envelopes and wire details', () => {
  it('serves HTTPS when the run certificate is inherited (node scripts/with-sandbox-ca.js …)', () => {
    expect(new URL(cf.baseUrl).protocol).toBe(certificate ? 'https:' : 'http:');
    expect(cf.baseUrl).toMatch(/^https?:\/\/127\.0\.0\.1:\d+\/client\/v4$/);
  });

  it('answers a create with the reference record shape and an application/json envelope', async () => {
    const created = fields(
      await client().dns.records.create(aRecord('api.example.com', '198.51.100.4', { proxied: true })),
    );
    expect(created.id).toMatch(/^[0-9a-f]{32}$/);
    expect(created).toMatchObject({
      name: 'api.example.com',
      type: 'A',
      content: '198.51.100.4',
      proxiable: true,
      proxied: true,
      ttl: 1,
      settings: {},
      meta: {},
      tags: [],
    });
    expect(created).not.toHaveProperty('comment');
    expect(created).not.toHaveProperty('comment_modified_on');
    expect(Date.parse(String(created.created_on))).not.toBeNaN();

    const reply = await raw('GET', `/zones/${ZONE}/dns_records/${String(created.id)}`);
    expect(reply.headers.get('content-type')).toBe('application/json');
    expect(Object.keys(reply.body).sort()).toEqual(['errors', 'messages', 'result', 'success']);
    expect(reply.body).toMatchObject({ success: true, errors: [], messages: [] });
  });

  it('answers errors with the failure envelope and no top-level message', async () => {
    const reply = await raw('GET', `/zones/${ZONE}/dns_records/372e67954025e0ba6aaa6d586b9e0b59`);
    expect(reply.status).toBe(404);
    expect(reply.headers.get('content-type')).toBe('application/json');
    expect(reply.body).toEqual({
      success: false,
      errors: [{ code: 81044, message: 'Record does not exist.' }],
      messages: [],
      result: null,
    });
  });

  it('surfaces errors through the SDK as typed APIErrors carrying the Cloudflare code', async () => {
    const error = await apiError(
      client().dns.records.get('372e67954025e0ba6aaa6d586b9e0b59', { zone_id: ZONE }),
    );
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error.status).toBe(404);
    expect(firstCode(error)).toBe(81044);
    expect(error.message).toContain('"code":81044');
  });

  it('answers a malformed id or an unknown path with 7003 + 7000', async () => {
    const reply = await raw('GET', `/zones/${ZONE}/dns_records/645577699`);
    expect(reply.status).toBe(400);
    expect(errorsOf(reply).map((e) => e.code)).toEqual([7003, 7000]);
    expect(errorsOf(reply)[0]?.message).toBe(
      `Could not route to /client/v4/zones/${ZONE}/dns_records/645577699, perhaps your object identifier is invalid?`,
    );
    const nowhere = await raw('GET', '/zones/not-a-zone/dns_records');
    expect(errorsOf(nowhere).map((e) => e.code)).toEqual([7003, 7000]);
  });

  it('refuses a body that is not JSON, or is sent without a JSON content type', async () => {
    const garbage = await fetch(`${cf.baseUrl}/zones/${ZONE}/dns_records`, {
      method: 'POST',
      headers: { authorization: `Bearer ${EDIT}`, 'content-type': 'application/json' },
      body: '{"type":',
    });
    expect(garbage.status).toBe(400);
    const plain = await raw('POST', `/zones/${ZONE}/dns_records`, {
      body: { type: 'A', name: 'x', content: '192.0.2.1' },
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(400);
    expect(errorsOf(plain)[0]).toMatchObject({ code: 6003, error_chain: [{ code: 6105 }] });
    expect(cf.records(ZONE)).toEqual([]);
  });
});

describe('authentication and authorization', () => {
  it('verifies an active token like the reference', async () => {
    const result = await client().user.tokens.verify();
    expect(result.status).toBe('active');
    expect(result.id).toMatch(/^[0-9a-f]{32}$/);
    const reply = await raw('GET', '/user/tokens/verify');
    expect(reply.body.messages).toEqual([
      { code: 10000, message: 'This API Token is valid and active', type: null },
    ]);
  });

  it('reports disabled and expired tokens on verify, and refuses them elsewhere', async () => {
    const disabled = 'DisabledTokenDisabledTokenDisabledToken0';
    const expired = 'ExpiredTokenExpiredTokenExpiredTokenExp0';
    cf.addToken(disabled, { zones: { [ZONE]: 'edit' }, status: 'disabled' });
    cf.addToken(expired, { zones: { [ZONE]: 'edit' }, status: 'expired' });
    expect((await client(disabled).user.tokens.verify()).status).toBe('disabled');
    expect((await client(expired).user.tokens.verify()).status).toBe('expired');
    for (const token of [disabled, expired]) {
      const error = await apiError(client(token).dns.records.list({ zone_id: ZONE }));
      expect(error).toBeInstanceOf(PermissionDeniedError);
      expect(firstCode(error)).toBe(10000);
    }
  });

  it('answers an unknown token with 401 1000 on verify and 403 10000 on resources', async () => {
    const stranger = 'UnknownTokenUnknownTokenUnknownToken0000';
    const verify = await apiError(client(stranger).user.tokens.verify());
    expect(verify).toBeInstanceOf(AuthenticationError);
    expect(verify.errors[0]).toMatchObject({ code: 1000, message: 'Invalid API Token' });
    const list = await apiError(client(stranger).dns.records.list({ zone_id: ZONE }));
    expect(list.status).toBe(403);
    expect(list.errors[0]).toMatchObject({ code: 10000, message: 'Authentication error' });
  });

  it('answers a missing Authorization header with 1001', async () => {
    const reply = await raw('GET', `/zones/${ZONE}/dns_records`, { token: null });
    expect(reply.status).toBe(400);
    expect(errorsOf(reply)).toEqual([{ code: 1001, message: 'Missing "Authorization" header' }]);
  });

  it('answers a malformed Authorization header with 6003 / 6111, as for a 37-character key', async () => {
    const error = await apiError(
      client('c2547eb745079dac9320b638f5e225cf483cc').dns.records.list({ zone_id: ZONE }),
    );
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.errors[0]).toEqual({
      code: 6003,
      message: 'Invalid request headers',
      error_chain: [{ code: 6111, message: 'Invalid format for Authorization header' }],
    });
    const basic = await raw('GET', '/user/tokens/verify', {
      token: null,
      headers: { authorization: `Basic ${EDIT}` },
    });
    expect(errorsOf(basic)[0]?.code).toBe(6003);
    expect(() => cf.addToken('too-short', {})).toThrow(/40 characters/);
  });

  it('refuses a zone the token has no grant for, and writes with a read grant', async () => {
    const other = await apiError(client().dns.records.list({ zone_id: OTHER_ZONE }));
    expect(other.status).toBe(403);
    expect(firstCode(other)).toBe(10000);

    await expect(client(READ).dns.records.list({ zone_id: ZONE })).resolves.toBeDefined();
    const write = await apiError(client(READ).dns.records.create(aRecord('api.example.com', '192.0.2.1')));
    expect(write).toBeInstanceOf(PermissionDeniedError);
    expect(firstCode(write)).toBe(10000);
    const batch = await apiError(client(READ).dns.records.batch({ zone_id: ZONE, deletes: [] }));
    expect(firstCode(batch)).toBe(10000);
    expect(cf.records(ZONE)).toEqual([]);
  });

  it('answers 9109 on account resources without the grant', async () => {
    cf.addPool(ACCOUNT, { id: POOL, name: 'primary', origins: [{ name: 'a', address: '198.51.100.1' }] });
    cf.addList(ACCOUNT, { id: LIST, name: 'apim' });
    const patch = await apiError(
      client(READ).loadBalancers.pools.edit(POOL, { account_id: ACCOUNT, description: 'x' }),
    );
    expect(patch.status).toBe(403);
    expect(patch.errors[0]).toMatchObject({
      code: 9109,
      message: 'Unauthorized to access requested resource',
    });
    const dnsOnly = 'DnsOnlyTokenDnsOnlyTokenDnsOnlyToken0000';
    cf.addToken(dnsOnly, { zones: { [ZONE]: 'edit' } });
    const items = await apiError(client(dnsOnly).rules.lists.items.list(LIST, { account_id: ACCOUNT }));
    expect(firstCode(items)).toBe(9109);
    await expect(client(READ).loadBalancers.pools.get(POOL, { account_id: ACCOUNT })).resolves.toMatchObject({
      id: POOL,
    });
  });
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

describe('rate limiting and fault injection', () => {
  it('sends 429 / 971 with retry-after in seconds', async () => {
    cf.throttle('dnsRecords.list', 7);
    const reply = await raw('GET', `/zones/${ZONE}/dns_records`);
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(reply.headers.get('ratelimit')).toBe('"default";r=0;t=7');
    expect(errorsOf(reply)).toEqual([
      { code: 971, message: 'Please wait and consider throttling your request speed' },
    ]);
    await expect(client().dns.records.list({ zone_id: ZONE })).resolves.toBeDefined();
  });

  it('is retried by the SDK, which honours retry-after', async () => {
    cf.addRecord(ZONE, { type: 'A', name: 'api', content: '192.0.2.1' });
    cf.throttle('dnsRecords.list', 1, 1);
    const started = Date.now();
    const page = await client(EDIT, 2).dns.records.list({ zone_id: ZONE });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(page.result).toHaveLength(1);
    expect(cf.counts()).toEqual({ 'GET dnsRecords.list': 2 });
    expect(cf.requests.map((r) => r.status)).toEqual([429, 200]);
  });

  it('surfaces a 429 as RateLimitError with code 971 when retries are used up', async () => {
    cf.throttle('*', 0, 3);
    const error = await apiError(client(EDIT, 2).user.tokens.verify());
    expect(error).toBeInstanceOf(RateLimitError);
    expect(firstCode(error)).toBe(971);
    expect(error.headers?.get('retry-after')).toBe('0');
    expect(cf.count({ route: 'tokens.verify' })).toBe(3);
  });

  it('injects faults per route, counted by method and route name', async () => {
    cf.inject({
      route: 'dnsRecords.create',
      status: 503,
      body: { success: false, errors: [], messages: [] },
    });
    const created = await client(EDIT, 1).dns.records.create(aRecord('api.example.com', '192.0.2.1'));
    expect(created.content).toBe('192.0.2.1');
    expect(cf.requests.map((r) => `${r.method} ${r.route} ${r.status}`)).toEqual([
      'POST dnsRecords.create 503',
      'POST dnsRecords.create 200',
    ]);
    cf.inject({ route: 'dnsRecords.get', reset: true });
    await expect(client().dns.records.get(created.id, { zone_id: ZONE })).rejects.toThrow();
    expect(cf.count({ route: 'dnsRecords.get' })).toBe(1);
    expect(cf.writes()).toBe(2);
  });
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
