import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CELLS, FAULTS, SUBJECTS } from '../e2e/faults.matrix';
import { normalized, renderReliability, resultsIn, sectionOf } from '../support/reliabilityTable';

/**
 * README "Reliability" is rendered from tests/e2e/faults.matrix.ts and the matrix's test results by
 * `npm run reliability`. This fails when the matrix changed and the README was not regenerated (or was edited
 * by hand), without running the matrix: the README's own marks are read back and the table rendered again.
 */

const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
const section = sectionOf(readme);

test('the README table is the matrix as it is now (else: npm run reliability)', () => {
  expect(normalized(section)).toBe(normalized(renderReliability(resultsIn(section))));
});

test('every cell of the matrix passed when the README table was generated', () => {
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
