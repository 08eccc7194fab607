/**
 * The real `cloudflare` SDK against the emulator's core (sandbox/cloudflare/core.ts, tokens.ts): envelopes and wire
 * details, authentication and token grants, token verification, rate limiting and fault injection. Every
 * expectation is a Cloudflare contract, not an emulator detail (tests/support/cloudflareContract.ts).
 */
import {
  AuthenticationError,
  BadRequestError,
  NotFoundError,
  PermissionDeniedError,
  RateLimitError,
} from 'cloudflare';
import type { CloudflareEmulator } from '../../../sandbox/cloudflare';
import {
  ACCOUNT,
  EDIT,
  LIST,
  OTHER_ZONE,
  POOL,
  READ,
  ZONE,
  aRecord,
  apiError,
  certificate,
  client,
  errorsOf,
  fields,
  firstCode,
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
