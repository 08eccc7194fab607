import { findLeaks } from '../support/secretScan';

/**
 * The scanner behind tests/support/noSecrets.ts (which runs after every test file): it must find what it is
 * for, and stay quiet on the messages the reconciler really writes about credentials.
 */

const TOKEN = 'cf-token-0123456789abcdef';
const secrets = [['Cloudflare token', TOKEN]] as const;
const line = (text: string) => [{ channel: 'console.log', text }];

describe('findLeaks', () => {
  test('finds a known secret, names it and the channel, and does not repeat it', () => {
    const [finding] = findLeaks(line(`calling with ${TOKEN} now`), secrets);
    expect(finding).toBe('console.log: Cloudflare token in: calling with «Cloudflare token» now');
    expect(finding).not.toContain(TOKEN);
  });

  test.each([
    ['a storage account key', 'DefaultEndpointsProtocol=https;AccountName=st;AccountKey=Zm9vYmFy==;'],
    ['a SAS signature', 'https://st.blob.core.windows.net/c/state.json?sv=2024&sig=AbCdEf0123456789%3D'],
    ['an Application Insights connection string', 'InstrumentationKey=00000000-0000-0000-0000-000000000000;'],
    ['a JWT', 'token eyJhbGciOiJIUzI1NiJ9.eyJhdWQiOiJzdG9yYWdlIn0.c2lnbmF0dXJl'],
    ['a bearer token', 'Authorization: Bearer sandbox-arm-token'],
  ])('finds %s by its shape', (name, text) => {
    const findings = findLeaks(line(text), []);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain(`«${name}»`);
  });

  test.each([
    'HTTP 401: the Cloudflare token was refused: check CLOUDFLARE_API_TOKEN',
    'the Azure SDK sends Bearer tokens only over HTTPS',
    'No storage account for the reconciler: set AzureWebJobsStorage (a connection string, or UseDevelopmentStorage=true)',
    'APPLICATIONINSIGHTS_CONNECTION_STRING is not a connection string',
    'run 0b6f7c2e-1c1d-4c9e-9a55-0e7d8c0f8d21 (timer) holds the lock',
  ])('stays quiet on %j', (text) => {
    expect(findLeaks(line(text), secrets)).toEqual([]);
  });

  test('ignores secrets too short to tell from a word', () => {
    expect(findLeaks(line('a token of x'), [['short', 'x']])).toEqual([]);
  });
});
