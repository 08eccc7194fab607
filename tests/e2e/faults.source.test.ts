import { expectCell, playCell } from '../support/faults';
import { CELLS } from './faults.matrix';

/**
 * The fault matrix (tests/e2e/faults.matrix.ts), source row: each fault on the APIM read, with every target
 * type configured. Each test is one cell, named by its id; docs/reliability.md is rendered from the results.
 */

const cells = CELLS.filter((c) => c.subject === 'source');

describe('fault matrix', () => {
  test.concurrent.each(cells.map((c) => [c.id, c] as const))('%s', async (_id, cell) => {
    const observed = await playCell(cell);
    expectCell(cell, observed);
  });
});
