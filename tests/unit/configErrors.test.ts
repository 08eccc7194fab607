import { ConfigError, parseConfig, parseConfigText } from '../../lib/config/load';
import { jsonSyntaxProblem } from '../../lib/config/jsonSyntax';
import { closest, editDistance } from '../../lib/config/suggest';

/**
 * Configuration errors a person can act on (docs/configuration.md): every problem by JSON path, in plain words
 * rather than the validation library's, a "did you mean" for a misspelt key, type or value, and a JSON syntax
 * error with its line and column.
 */

const APIM = '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ApiManagement/service/contoso';

function problems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('the document was accepted');
}

test('every problem is listed by path, in plain words, with "did you mean" where a name is close', () => {
  const listed = problems({
    sources: { prod: { resourceId: APIM }, other: { resourceID: APIM } },
    targets: [
      {
        name: 'dns',
        type: 'cloudflare.dnsRecords',
        source: 'prod',
        zoneId: 'z',
        recordName: 'api.contoso.com',
        adress: 'inbound',
        addresses: 'inbond',
        proxied: 'yes',
        regions: [],
      },
      { name: 'nsg', type: 'azure.nsgRule', source: 'prod', ruleId: 'x', create: { priorty: 1 } },
      { name: 'typo', type: 'azure.nsgrule', source: 'prod' },
    ],
    safety: { retireAfer: 'PT1H', maxRemovalsPerTarget: -1, minPrefixLength: { ipv4: 40 } },
    azur: {},
  });
  expect(listed).toEqual(
    expect.arrayContaining([
      'sources.other: needs "resourceId" (one APIM service) or "query" (a fleet found by tag); did you mean "resourceId" instead of "resourceID"?',
      'targets[0].adress: unknown key; did you mean "addresses"?',
      'targets[0].addresses: must be "inbound", "outbound" or "private", not "inbond"; did you mean "inbound"?',
      'targets[0].proxied: must be true or false, not text ("yes")',
      'targets[0].regions: must not be empty (leave the key out instead)',
      'targets[1].create.priorty: unknown key; did you mean "priority"?',
      'targets[1].create.direction: required; "Inbound" or "Outbound"',
      expect.stringMatching(
        /^targets\[2\]\.type: unknown target type "azure\.nsgrule"; one of .*; did you mean "azure\.nsgRule"\?$/,
      ),
      'safety.retireAfer: unknown key; did you mean "retireAfter"?',
      'safety.maxRemovalsPerTarget: must be at least 0',
      'safety.minPrefixLength.ipv4: must be at most 32',
      'azur: unknown key; did you mean "azure"?',
    ]),
  );
  // None in the validation library's own words.
  expect(listed.join('\n')).not.toMatch(
    /Invalid option|Too small|Too big|Invalid input|expected array to have/,
  );
});

test('a key with nothing close says which keys the object takes', () => {
  expect(
    problems({ sources: { prod: { resourceId: APIM } }, targets: [], safety: { zzzzzzzzzz: 1 } }),
  ).toContain(
    'safety.zzzzzzzzzz: unknown key; the keys here are retireAfter, maxRemovalsPerTarget, runBudget, dnsWaitForAllowlists, minPrefixLength',
  );
});

test.each([
  ['{\n  "sources": {},\n}', 3, 1, 'a comma before } is not allowed in JSON'],
  ['{\n  // the prod APIM\n  "sources": {}\n}', 2, 3, 'comments are not allowed in JSON'],
  ["{ 'sources': {} }", 1, 3, 'keys take double quotes in JSON'],
  ['{ "a": 1\n  "b": 2 }', 2, 3, 'a comma is missing between two keys'],
  ['{ "a": [1, 2,] }', 1, 14, 'a comma before ] is not allowed in JSON'],
  ['{ "a": "x\n}', 1, 8, 'this string is never closed'],
  ['{"a": {"b": 1}', 1, 15, 'the { at line 1, column 1 is never closed'],
])('a JSON syntax error gives its line and column: %j', (text, line, column, message) => {
  expect(jsonSyntaxProblem(text)).toEqual({ line, column, message: expect.stringContaining(message) });
  expect(() => parseConfigText(text, 'reconciler.config.json')).toThrow(
    `(document): not valid JSON at line ${line}, column ${column}: ${message}`,
  );
});

test('valid JSON has no syntax problem', () => {
  expect(jsonSyntaxProblem('{"a": [1, -2.5e3, true, null, "\\u00e9\\n"], "b": {}}')).toBeUndefined();
});

test('"did you mean" only for a name close enough to be a typo', () => {
  expect(editDistance('retireAfer', 'retireAfter')).toBe(1);
  expect(editDistance('priorty', 'priority')).toBe(1);
  expect(closest('recordname', ['recordName', 'zoneId'])).toBe('recordName');
  expect(closest('zone', ['recordName', 'proxied'])).toBeUndefined();
});
