import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CELLS, FAULTS, SUBJECTS } from '../e2e/faults.matrix';
import {
  DOC,
  END,
  START,
  normalized,
  renderReliability,
  resultsIn,
  sectionOf,
} from '../support/reliabilityTable';

/**
 * The table of docs/reliability.md is rendered from tests/e2e/faults.matrix.ts and the matrix's test results by
 * `npm run reliability`. This fails when the matrix changed and the table was not regenerated (or was edited by
 * hand), without running the matrix: the document's own marks are read back and the table rendered again.
 */

const root = join(__dirname, '..', '..');
const doc = readFileSync(join(root, DOC), 'utf8');
const section = sectionOf(doc);

test('the table lives in docs/reliability.md only: the README links to it instead of holding a copy', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  expect(readme).not.toContain(START);
  expect(readme).not.toContain(END);
  expect(readme).toContain('](docs/reliability.md)');
});

test('the docs/reliability.md table is the matrix as it is now (else: npm run reliability)', () => {
  expect(normalized(section)).toBe(normalized(renderReliability(resultsIn(section))));
});

test('every cell of the matrix passed when the docs/reliability.md table was generated', () => {
  const results = resultsIn(section);
  expect(CELLS.filter((c) => results.get(c.id) !== 'passed').map((c) => c.id)).toEqual([]);
});

test('the matrix is well formed: unique cells of known faults and subjects, a note only where it says more', () => {
  const ids = CELLS.map((c) => c.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const cell of CELLS) {
    expect(SUBJECTS).toContain(cell.subject);
    expect(FAULTS.map((f) => f.id)).toContain(cell.fault);
    expect(cell.id).toBe(`${cell.subject} ${cell.fault}`);
  }
  // Faults every API can give, met by the source and every target type.
  const everywhere = ['throttled', 'throttled-past-budget', '5xx-burst', '5xx-outage', 'connection-reset'];
  for (const subject of SUBJECTS) {
    for (const fault of [...everywhere, 'slow-response', 'forbidden', 'not-found', 'malformed-json']) {
      expect(ids).toContain(`${subject} ${fault}`);
    }
  }
});
