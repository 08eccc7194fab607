/**
 * Contract tests of the ARM emulator's front door, driven by the real Azure SDKs and raw HTTPS: api-version,
 * authentication, authorization, subscriptions, throttling, the cross-cutting headers and the error envelopes every
 * resource provider shares (sandbox/arm/core.ts, wire.ts). Run under `node scripts/with-sandbox-ca.js npx jest
 * tests/contract/arm/core.test.ts`.
 */
import type { ArmEmulator } from '../../../sandbox/arm';
import {
  ALLOW_APIM,
  APIM_API,
  APIM_RG,
  GUID,
  NET_RG,
  PREMIUM,
  SUB,
  apim,
  apimId,
  ipGroupId,
  network,
  nsgId,
  putRule,
  raw,
  ruleId,
  startArm,
  statuses,
} from '../../support/armContract';
import { at, failure } from '../../support/contract';

let emulator: ArmEmulator;

beforeEach(async () => {
  emulator = await startArm();
  emulator.setApim(apimId('contoso'), PREMIUM);
  emulator.setNsg(nsgId(), { location: 'West Europe', rules: { 'allow-apim': ALLOW_APIM } });
  emulator.setIpGroup(ipGroupId('apim-egress'), { location: 'westeurope', ipAddresses: ['20.1.1.1'] });
});
afterEach(() => emulator.close());

describe('ARM front door', () => {
  it('carries the cross-cutting ARM headers', async () => {
    const read = await raw('GET', ruleId('allow-apim'), {
      headers: { 'x-ms-correlation-request-id': 'c0ffee' },
    });
    expect(read.headers['x-ms-request-id']).toMatch(GUID);
    expect(read.headers['x-ms-correlation-request-id']).toBe('c0ffee');
    expect(read.headers['x-ms-routing-request-id']).toMatch(/^[A-Z]+:\d{8}T\d{6}Z:c0ffee$/);
    expect(read.headers['x-ms-ratelimit-remaining-subscription-reads']).toMatch(/^\d+$/);
    expect(read.headers).toMatchObject({ 'cache-control': 'no-cache', pragma: 'no-cache', expires: '-1' });
    const write = await putRule('allow-apim', ALLOW_APIM);
    expect(write.headers['x-ms-ratelimit-remaining-subscription-writes']).toMatch(/^\d+$/);
    expect(write.headers).not.toHaveProperty('x-ms-ratelimit-remaining-subscription-reads');
  });

  it('finds resources whatever the casing of the URL and answers with the casing they were created with', async () => {
    const { body } = await raw(
      'GET',
      ruleId('ALLOW-APIM').toUpperCase().replace('API-VERSION', 'api-version'),
    );
    expect(at(body, 'id')).toBe(ruleId('allow-apim'));
  });

  it('requires api-version before it looks at the token', async () => {
    const { status, body } = await raw('GET', ruleId('allow-apim'), { apiVersion: null, token: null });
    expect(status).toBe(400);
    expect(body).toEqual({
      error: {
        code: 'MissingApiVersionParameter',
        message: 'The api-version query parameter (?api-version=) is required for all requests.',
      },
    });
  });

  it('refuses api-versions the resource provider does not know', async () => {
    const unknown = await raw('GET', ipGroupId('apim-egress'), { apiVersion: '2019-06-01' });
    expect(unknown.status).toBe(400);
    expect(at(unknown.body, 'error', 'code')).toBe('NoRegisteredProviderFound');
    expect(String(at(unknown.body, 'error', 'message'))).toMatch(
      /^No registered resource provider found for location 'westeurope' and API version '2019-06-01' for type 'ipGroups'\. The supported api-versions are '2019-09-01, /,
    );
    const malformed = await raw('GET', apimId('contoso'), { apiVersion: 'latest' });
    expect(at(malformed.body, 'error', 'code')).toBe('InvalidApiVersionParameter');
  });

  it('answers 401 AuthenticationFailed without a token and InvalidAuthenticationToken for a wrong one', async () => {
    const anonymous = await raw('GET', ruleId('allow-apim'), { token: null });
    expect(anonymous.status).toBe(401);
    expect(at(anonymous.body, 'error')).toEqual({
      code: 'AuthenticationFailed',
      message: "Authentication failed. The 'Authorization' header is missing.",
    });
    expect(anonymous.headers['www-authenticate']).toMatch(/^Bearer authorization_uri=/);
    const error = await failure(network('wrong-token').securityRules.get(NET_RG, 'backend', 'allow-apim'));
    expect(error).toMatchObject({ statusCode: 401, code: 'InvalidAuthenticationToken' });
  });

  it('answers 403 AuthorizationFailed under a forbidden scope, per access kind', async () => {
    emulator.forbid(nsgId(), 'write');
    await expect(network().securityRules.get(NET_RG, 'backend', 'allow-apim')).resolves.toBeDefined();
    const error = await failure(
      network().securityRules.createOrUpdate(NET_RG, 'backend', 'allow-apim', ALLOW_APIM, {
        updateIntervalInMs: 0,
      }),
    );
    expect(error).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    expect(error.message).toContain(
      "to perform action 'Microsoft.Network/networkSecurityGroups/securityRules/write' over scope " +
        `'${ruleId('allow-apim')}' or the scope is invalid.`,
    );
    emulator.forbid(`/subscriptions/${SUB}/resourceGroups/${APIM_RG}`, 'read');
    const read = await failure(apim().apiManagementService.get(APIM_RG, 'contoso'));
    expect(read).toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
    const hidden = await raw('GET', apimId('nope'), { apiVersion: APIM_API });
    expect(hidden.status).toBe(403);
  });

  it('refuses unknown and malformed subscriptions', async () => {
    const other = '00000000-0000-0000-0000-000000000001';
    const unknown = await raw('GET', `/subscriptions/${other}/providers/Microsoft.ApiManagement/service`, {
      apiVersion: APIM_API,
    });
    expect(unknown.status).toBe(404);
    expect(at(unknown.body, 'error', 'code')).toBe('SubscriptionNotFound');
    const malformed = await raw('GET', '/subscriptions/sub/providers/Microsoft.ApiManagement/service', {
      apiVersion: APIM_API,
    });
    expect(at(malformed.body, 'error', 'code')).toBe('InvalidSubscriptionId');
  });

  it('throttles with 429 + Retry-After, and the SDK waits and retries', async () => {
    emulator.throttle('apim.get', 1);
    const started = Date.now();
    const service = await apim().apiManagementService.get(APIM_RG, 'contoso');
    expect(service.name).toBe('contoso');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(statuses('apim.get')).toEqual([429, 200]);
  });

  it('sends the throttling envelope on the wire, including NRP lock contention', async () => {
    emulator.throttle('securityRule.get', 0, 1, 'RetryableErrorDueToAnotherOperation');
    const throttled = await raw('GET', ruleId('allow-apim'));
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('0');
    expect(at(throttled.body, 'error', 'code')).toBe('RetryableErrorDueToAnotherOperation');
    expect((await raw('GET', ruleId('allow-apim'))).status).toBe(200);
  });

  it('answers malformed JSON, a wrong content type and an unsupported method in ARM envelopes', async () => {
    const badJson = await raw('PUT', ruleId('x'), {
      text: '{"properties":',
      headers: { 'Content-Type': 'application/json' },
    });
    expect([badJson.status, at(badJson.body, 'error', 'code')]).toEqual([400, 'InvalidRequestContent']);
    const plain = await raw('PUT', ruleId('x'), { text: '{}', headers: { 'Content-Type': 'text/plain' } });
    expect([plain.status, at(plain.body, 'error', 'code')]).toEqual([415, 'UnsupportedMediaType']);
    const patch = await raw('PATCH', ruleId('allow-apim'), { body: {} });
    expect([patch.status, at(patch.body, 'error', 'code')]).toEqual([405, 'MethodNotAllowed']);
  });

  it('gives up after the SDK retry budget and surfaces 429', async () => {
    emulator.throttle('securityRule.get', 0, 4);
    const error = await failure(network().securityRules.get(NET_RG, 'backend', 'allow-apim'));
    expect(error).toMatchObject({ statusCode: 429, code: 'TooManyRequests' });
    expect(statuses('securityRule.get')).toEqual([429, 429, 429, 429]);
  });
});
