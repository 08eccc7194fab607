import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGET_TYPES } from '../../lib/config/schema';
import { SETTINGS } from '../../lib/config/settings';
import { EVENT, GUARD } from '../../lib/telemetry/events';

/** The README and the sample settings name everything the code reads and emits. */

const root = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const configuration = read('docs/configuration.md');
const product = read('docs/design/product.md');
const operations = read('docs/operations.md');
const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
  Values: Record<string, string>;
};

test.each(Object.values(SETTINGS))(
  'setting %s is documented in docs/configuration.md and listed in local.settings.sample.json',
  (name) => {
    expect(configuration).toContain(`\`${name}\``);
    expect(Object.keys(sample.Values)).toContain(name);
  },
);

test.each(Object.values(EVENT))('event %s is documented in docs/operations.md', (name) =>
  expect(operations).toContain(`\`${name}\``),
);
test.each(Object.values(GUARD))('guard %s is in the product contract and docs/configuration.md', (code) => {
  expect(product).toContain(`\`${code}\``);
  expect(configuration).toContain(`\`${code}\``);
});
test.each(TARGET_TYPES)('target type %s is documented in docs/configuration.md', (type) =>
  expect(configuration).toContain(`### \`${type}\``),
);

test('the README shows the two commands that must work on a fresh machine', () => {
  expect(readme).toContain('npm ci && npm run demo');
  expect(readme).toContain('npm test');
});
