import { anchors, relativeLinks, section, slug } from '../support/markdown';

/** The Markdown reading docs.test.ts relies on, against GitHub's own anchors and a few traps. */

test.each([
  [
    '`cloudflare.dnsCname` — one CNAME to the gateway host',
    'cloudflarednscname--one-cname-to-the-gateway-host',
  ],
  ['5. Guards (nothing lost, nobody let in)', '5-guards-nothing-lost-nobody-let-in'],
  ['9. Deployment (`infra/`, `azure.yaml`)', '9-deployment-infra-azureyaml'],
  ['Settings (environment)', 'settings-environment'],
  ['Targets — keys every target has', 'targets--keys-every-target-has'],
  ['`field_name` and *emphasis*', 'field_name-and-emphasis'],
  ['A [linked](https://example.com) heading', 'a-linked-heading'],
  ['Déjà vu', 'déjà-vu'],
])('the anchor of "%s" is #%s', (heading, anchor) => {
  expect(slug(heading)).toBe(anchor);
});

test('repeated headings are numbered; headings inside code blocks do not count', () => {
  const md = ['# Title', '## Steps', '```sh', '# a shell comment', '```', '## Steps', '### Steps #'].join(
    '\n',
  );
  expect([...anchors(md)]).toEqual(['title', 'steps', 'steps-1', 'steps-2']);
});

test('relative links are found outside code; absolute ones and those inside code are not', () => {
  const md = [
    'See [a](guide/a.md#x), ![img](img/b.png "title") and [web](https://example.com).',
    'Not `[c](c.md)`, nor:',
    '```',
    '[d](d.md)',
    '```',
    '[e](#local)',
  ].join('\n');
  expect(relativeLinks(md)).toEqual([
    { line: 1, target: 'guide/a.md#x' },
    { line: 1, target: 'img/b.png' },
    { line: 6, target: '#local' },
  ]);
});

test('a section runs to the next heading of its level or higher', () => {
  const md = ['# T', '## A', 'a', '### A.1', 'a1', '## B', 'b'].join('\n');
  expect(section(md, 'A')).toBe(['## A', 'a', '### A.1', 'a1'].join('\n'));
  expect(section(md, 'B')).toBe(['## B', 'b'].join('\n'));
  expect(section(md, 'C')).toBeUndefined();
});
