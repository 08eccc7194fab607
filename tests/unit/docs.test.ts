import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { TARGET_TYPE_NAMES } from '../../lib/targets/registry';
import { SETTINGS } from '../../lib/config/settings';
import { EVENT, GUARD } from '../../lib/telemetry/events';
import { anchors, filesUnder, relativeLinks, section } from '../support/markdown';

/**
 * The docs name everything the code reads and emits, each in the page a reader would look in; the README stays a
 * landing page; and no link or cited path in the repository leads nowhere.
 */

const root = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const configuration = read('docs/configuration.md');
const operations = read('docs/operations.md');
const product = read('docs/design/product.md');
const sample = JSON.parse(read('local.settings.sample.json')) as { Values: Record<string, string> };

/** A section of a page, which must exist. */
function sectionOf(page: string, markdown: string, heading: string): string {
  const text = section(markdown, heading);
  if (text === undefined) throw new Error(`${page} has no heading "${heading}"`);
  return text;
}

const settingsTable = sectionOf('docs/configuration.md', configuration, 'Settings (environment)');
const guardsTable = sectionOf('docs/configuration.md', configuration, 'Guards: nobody let in');
const productGuards = sectionOf('docs/design/product.md', product, '5. Guards (nothing lost, nobody let in)');
const telemetry = sectionOf('docs/operations.md', operations, 'Telemetry');

describe('the docs name everything the code reads and emits', () => {
  test.each(Object.values(SETTINGS))(
    'setting %s is in the settings table of docs/configuration.md and in local.settings.sample.json',
    (name) => {
      expect(settingsTable).toContain(`\`${name}\``);
      expect(Object.keys(sample.Values)).toContain(name);
    },
  );

  test.each(TARGET_TYPE_NAMES)('target type %s has its section in docs/configuration.md', (type) => {
    expect(configuration).toMatch(new RegExp(`^### \`${type.replace('.', '\\.')}\``, 'm'));
  });

  test.each(Object.values(GUARD))(
    'guard %s is in product §5, the guards of docs/configuration.md and the runbook of docs/operations.md',
    (code) => {
      expect(productGuards).toContain(`| \`${code}\``);
      expect(guardsTable).toContain(`| \`${code}\``);
      expect(operations).toMatch(new RegExp(`^#### \`${code}\`$`, 'm'));
    },
  );

  test.each(Object.values(EVENT))('event %s is in the telemetry table of docs/operations.md', (name) => {
    expect(telemetry).toContain(`| \`${name}\``);
  });

  test('the product contract keeps its sections §1–§9, which code comments cite', () => {
    const numbered = [...product.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1]));
    expect(numbered).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('the README is a landing page', () => {
  test('it shows the two commands that must work on a fresh machine', () => {
    expect(readme).toContain('npm ci && npm run demo');
    expect(readme).toContain('npm test');
  });

  test('it is at most 15,000 bytes', () => {
    expect(Buffer.byteLength(readme, 'utf8')).toBeLessThanOrEqual(15_000);
  });

  test('it links to every page of docs/ and to SECURITY.md', () => {
    const linked = new Set(relativeLinks(readme).map((l) => normalize(l.target.split('#')[0]!)));
    const pages = [...filesUnder(root, 'docs').filter((f) => f.endsWith('.md')), 'SECURITY.md'];
    expect(pages.filter((page) => !linked.has(normalize(page)))).toEqual([]);
  });
});

describe('no link or cited path leads nowhere', () => {
  const pages = ['README.md', 'SECURITY.md', ...filesUnder(root, 'docs').filter((f) => f.endsWith('.md'))];
  const anchorsOf = new Map<string, Set<string>>();
  const anchorsIn = (page: string) => {
    if (!anchorsOf.has(page)) anchorsOf.set(page, anchors(read(page)));
    return anchorsOf.get(page)!;
  };

  test.each(pages)('every relative link of %s leads to a file, and an #anchor to a heading', (page) => {
    const broken: string[] = [];
    for (const { line, target } of relativeLinks(read(page))) {
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const file = path === '' ? page : relative(root, join(root, dirname(page), decodeURIComponent(path)));
      if (file.startsWith('..') || !existsSync(join(root, file))) {
        broken.push(`${page}:${line}: ${target} (no file ${file})`);
        continue;
      }
      if (anchor === undefined || !file.endsWith('.md') || statSync(join(root, file)).isDirectory()) continue;
      if (!anchorsIn(file).has(decodeURIComponent(anchor))) {
        broken.push(`${page}:${line}: ${target} (no heading with anchor #${anchor} in ${file})`);
      }
    }
    expect(broken).toEqual([]);
  });

  test('the pages link to each other (the check above is not vacuous)', () => {
    expect(pages.flatMap((p) => relativeLinks(read(p))).length).toBeGreaterThan(50);
  });

  test('every docs/….md path named in lib, cli, functions, sandbox, infra, scripts, tests and bench exists', () => {
    const dirs = ['lib', 'cli', 'functions', 'sandbox', 'infra', 'scripts', 'tests', 'bench'];
    const files = dirs.flatMap((d) => filesUnder(root, d, ['node_modules', 'dist']));
    const cited: string[] = [];
    const missing: string[] = [];
    for (const file of files) {
      const text = read(file);
      if (text.includes('\u0000')) continue; // binary
      for (const match of text.matchAll(/(?<![\w.-])docs\/[\w./-]*?\.md\b/g)) {
        cited.push(match[0]);
        if (!existsSync(join(root, match[0]))) missing.push(`${file}: ${match[0]}`);
      }
    }
    expect(missing).toEqual([]);
    expect(cited).toContain('docs/reliability.md');
  });

  test.each(['azure.yaml', '.ci/run'])('every Markdown file %s names exists', (file) => {
    const named = [...read(file).matchAll(/(?<![\w.-])[\w-][\w./-]*\.md\b/g)].map((m) => m[0]);
    expect(named.filter((path) => !existsSync(join(root, path)))).toEqual([]);
  });
});
