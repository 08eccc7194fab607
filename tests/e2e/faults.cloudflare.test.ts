import { expectCell, playCell } from '../support/faults';
import { CELLS } from './faults.matrix';

/**
 * The fault matrix (tests/e2e/faults.matrix.ts), Cloudflare rows: each fault the API can give, for every
 * Cloudflare target type, through the real `cloudflare` SDK. Each test is one cell, named by its id.
 */

const cells = CELLS.filter((c) => c.subject.startsWith('cloudflare.') && c.fault !== 'killed');

describe('fault matrix', () => {
  test.concurrent.each(cells.map((c) => [c.id, c] as const))('%s', async (_id, cell) => {
    const observed = await playCell(cell);
    expectCell(cell, observed);
  });
});
