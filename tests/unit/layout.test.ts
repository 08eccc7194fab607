import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { TARGET_TYPE_NAMES } from '../../lib/targets/registry';

/**
 * The boundaries of docs/design/architecture.md, checked on the source: a target type lives in one folder, targets
 * and engine meet only in lib/plan/, and the engine knows interfaces only. What docs/design/adding-a-target-type.md
 * promises (a new type touches its folder, the registry, its emulator routes and its tests) holds while these pass.
 */

const root = join(__dirname, '..', '..');

function files(dir: string): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(root, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const read = (path: string) => readFileSync(join(root, path), 'utf8');
const imports = (path: string) => [...read(path).matchAll(/from '([^']+)'/g)].map((m) => m[1]!);

/** The folder of each target type: the one whose schema declares its literal. */
const folderOf = new Map(
  files('lib/targets')
    .filter((f) => f.endsWith('/schema.ts'))
    .flatMap((f) => {
      const literal = /z\.literal\('([^']+)'\)/.exec(read(f));
      return literal ? [[literal[1]!, relative('lib/targets', f).split('/')[0]!] as const] : [];
    }),
);

test('every registered type has a folder of its own', () => {
  expect([...folderOf.keys()].sort()).toEqual([...TARGET_TYPE_NAMES].sort());
  expect(new Set(folderOf.values()).size).toBe(folderOf.size);
});

test.each(TARGET_TYPE_NAMES)('%s is named in the code only inside its own folder', (type) => {
  const own = `lib/targets/${folderOf.get(type)}/`;
  const outside = [...files('lib'), ...files('cli'), ...files('functions')].filter(
    (f) => !f.startsWith(own) && read(f).includes(`'${type}'`),
  );
  expect(outside).toEqual([]);
});

test('nothing in lib/targets imports lib/engine', () => {
  const offenders = files('lib/targets').filter((f) => imports(f).some((i) => /(^|\/)engine(\/|$)/.test(i)));
  expect(offenders).toEqual([]);
});

test('lib/plan is pure: no SDK, no engine, no targets', () => {
  const offenders = files('lib/plan').flatMap((f) =>
    imports(f)
      .filter((i) => /^(@azure\/|cloudflare|applicationinsights)/.test(i) || /\/(engine|targets)\//.test(i))
      .map((i) => `${f}: ${i}`),
  );
  expect(offenders).toEqual([]);
});

test('the engine knows interfaces only: no SDK, no environment, no wall clock', () => {
  const offenders = files('lib/engine').flatMap((f) => {
    const text = read(f);
    return [
      ...imports(f).filter((i) => /^(@azure\/|cloudflare|applicationinsights)/.test(i)),
      ...(/process\.env|Date\.now\(\)|new Date\(\)/.test(text) ? ['reads the environment or the clock'] : []),
    ].map((problem) => `${f}: ${problem}`);
  });
  expect(offenders).toEqual([]);
});

test('client construction happens in the composition root only', () => {
  const constructs =
    /new (ApiManagementClient|NetworkManagementClient|Cloudflare|DefaultAzureCredential|ManagedIdentityCredential|BlobServiceClient)\(/;
  const offenders = [...files('lib'), ...files('cli'), ...files('functions')].filter(
    (f) => !f.startsWith('lib/wiring/') && !f.startsWith('lib/state/') && constructs.test(read(f)),
  );
  expect(offenders).toEqual([]);
});
