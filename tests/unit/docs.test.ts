import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TARGET_TYPE_NAMES } from '../../lib/targets/registry';
import { SETTINGS } from '../../lib/config/settings';
import { EVENT, GUARD } from '../../lib/telemetry/events';

/** The README and the sample settings name everything the code reads and emits. */

const root = join(__dirname, '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const sample = JSON.parse(readFileSync(join(root, 'local.settings.sample.json'), 'utf8')) as {
  Values: Record<string, string>;
};

test.each(Object.values(SETTINGS))(
  'setting %s is documented in the README and listed in local.settings.sample.json',
  (name) => {
    expect(readme).toContain(`\`${name}\``);
    expect(Object.keys(sample.Values)).toContain(name);
  },
);

test.each(Object.values(EVENT))('event %s is documented', (name) => expect(readme).toContain(`\`${name}\``));
test.each(Object.values(GUARD))('guard %s is documented', (code) => expect(readme).toContain(`\`${code}\``));
test.each(TARGET_TYPE_NAMES)('target type %s is documented', (type) =>
  expect(readme).toContain(`\`${type}\``),
);

test('the README shows the two commands that must work on a fresh machine', () => {
  expect(readme).toContain('npm ci && npm run demo');
  expect(readme).toContain('npm test');
});
