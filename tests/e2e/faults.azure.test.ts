import { expectCell, playCell } from '../support/faults';
import { CELLS } from './faults.matrix';

/**
 * The fault matrix (tests/e2e/faults.matrix.ts), Azure rows: each fault Resource Manager can give, for every
 * Azure target type, through the real Azure SDKs. Each test is one cell, named by its id.
 */

const cells = CELLS.filter((c) => c.subject.startsWith('azure.') && c.fault !== 'killed');

describe('fault matrix', () => {
  test.concurrent.each(cells.map((c) => [c.id, c] as const))('%s', async (_id, cell) => {
    const observed = await playCell(cell);
    expectCell(cell, observed);
  });
});
