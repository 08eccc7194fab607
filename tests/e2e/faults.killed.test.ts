import { expectCell, playKilled } from '../support/faults';
import { CELLS } from './faults.matrix';

/**
 * The fault matrix (tests/e2e/faults.matrix.ts), `killed` column: the compiled CLI (dist/cli/main.js, built
 * by `npm test`) applies in a child process and is killed between two target writes; a fresh run converges.
 */

const cells = CELLS.filter((c) => c.fault === 'killed');

describe('fault matrix', () => {
  test.concurrent.each(cells.map((c) => [c.id, c] as const))(
    '%s',
    async (_id, cell) => {
      const observed = await playKilled(cell);
      expectCell(cell, observed);
    },
    120_000,
  );
});
