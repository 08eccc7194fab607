import { diffMarkedEntries, type MarkedEntry, type MarkedOptions } from '../../lib/plan/markedEntries';
import { HOUR, NOW, planContext } from '../support/planContext';

const context = planContext;

const state = (departed: Record<string, string>) => ({ resource: 'r', owned: [], departed });
const entry = (key: string, owned: boolean, name = key): MarkedEntry<string> => ({ key, owned, entry: name });
const options = (extra: Partial<MarkedOptions> = {}): MarkedOptions => ({
  adopt: false,
  onForeignMatch: 'satisfied',
  retire: true,
  ...extra,
});

describe('diffMarkedEntries', () => {
  it('changes nothing when the owned entries equal the desired addresses', () => {
    const diff = diffMarkedEntries(
      [entry('20.1.1.1/32', true), entry('9.9.9.9/32', false)],
      context(['20.1.1.1']),
      options(),
    );
    expect(diff).toEqual({ add: [], adopt: [], remove: [], conflicts: [], deferred: [], departed: {} });
  });

  it('adds the desired addresses that no entry holds', () => {
    const diff = diffMarkedEntries(
      [entry('20.1.1.1/32', true)],
      context(['20.1.1.1', '20.2.2.2']),
      options(),
    );
    expect(diff.add.map((p) => p.key)).toEqual(['20.2.2.2/32']);
  });

  describe('a foreign entry at a desired address', () => {
    const entries = [entry('20.2.2.2/32', false, 'theirs')];

    it('satisfies the address', () => {
      const diff = diffMarkedEntries(entries, context(['20.2.2.2']), options());
      expect(diff.add).toEqual([]);
      expect(diff.adopt).toEqual([]);
      expect(diff.conflicts).toEqual([]);
    });

    it('gets ours beside it', () => {
      const diff = diffMarkedEntries(entries, context(['20.2.2.2']), options({ onForeignMatch: 'add' }));
      expect(diff.add.map((p) => p.key)).toEqual(['20.2.2.2/32']);
      expect(diff.conflicts).toEqual([]);
    });

    it('is a conflict', () => {
      const diff = diffMarkedEntries(entries, context(['20.2.2.2']), options({ onForeignMatch: 'conflict' }));
      expect(diff.conflicts).toEqual(entries);
    });

    it.each(['satisfied', 'add', 'conflict'] as const)(
      'is adopted with adopt (%s), once per address',
      (mode) => {
        const twice = [...entries, entry('20.2.2.2/32', false, 'theirs too')];
        const diff = diffMarkedEntries(
          twice,
          context(['20.2.2.2']),
          options({ adopt: true, onForeignMatch: mode }),
        );
        expect(diff.adopt).toEqual([entries[0]]);
        expect(diff.add).toEqual([]);
        expect(diff.conflicts).toEqual([]);
      },
    );

    it('is left alone when an owned entry already holds the address', () => {
      const diff = diffMarkedEntries(
        [entry('20.2.2.2/32', true), ...entries],
        context(['20.2.2.2']),
        options({ adopt: true, onForeignMatch: 'conflict' }),
      );
      expect(diff.adopt).toEqual([]);
      expect(diff.conflicts).toEqual([]);
    });
  });

  it('keeps an owned entry that left the source until retireAfter, then removes it', () => {
    const entries = [entry('20.1.1.1/32', true), entry('20.2.2.2/32', true)];
    const first = diffMarkedEntries(entries, context(['20.2.2.2']), options());
    expect(first.remove).toEqual([]);
    expect(first.deferred).toEqual([{ entry: entries[0], retiresAt: '2026-11-27T11:00:00.000Z' }]);
    expect(first.departed).toEqual({ '20.1.1.1/32': NOW.toISOString() });

    const since = new Date(NOW.getTime() - 30 * 60_000).toISOString();
    const early = diffMarkedEntries(
      entries,
      context(['20.2.2.2'], { state: state({ '20.1.1.1/32': since }) }),
      options(),
    );
    expect(early.deferred).toEqual([{ entry: entries[0], retiresAt: '2026-11-27T10:30:00.000Z' }]);
    expect(early.departed).toEqual({ '20.1.1.1/32': since });

    const gone = new Date(NOW.getTime() - HOUR).toISOString();
    const due = diffMarkedEntries(
      entries,
      context(['20.2.2.2'], { state: state({ '20.1.1.1/32': gone }) }),
      options(),
    );
    expect(due.remove).toEqual([{ entry: entries[0], since: gone }]);
    expect(due.deferred).toEqual([]);
    expect(due.departed).toEqual({});
  });

  it('removes at once without retirement', () => {
    const diff = diffMarkedEntries(
      [entry('20.1.1.1/32', true)],
      context(['20.2.2.2']),
      options({ retire: false }),
    );
    expect(diff.remove).toEqual([{ entry: entry('20.1.1.1/32', true), since: NOW.toISOString() }]);
    expect(diff.departed).toEqual({});
  });

  it('holds due removals for TooManyRemovals, remembering when they left', () => {
    const diff = diffMarkedEntries(
      [entry('20.1.1.1/32', true)],
      context(['20.2.2.2'], { holdRemovals: true }),
      options({ retire: false }),
    );
    expect(diff.remove).toEqual([]);
    expect(diff.deferred).toEqual([
      { entry: entry('20.1.1.1/32', true), retiresAt: NOW.toISOString(), heldBy: 'TooManyRemovals' },
    ]);
    expect(diff.departed).toEqual({ '20.1.1.1/32': NOW.toISOString() });
  });

  it('never removes a foreign entry', () => {
    const diff = diffMarkedEntries(
      [entry('9.9.9.9/32', false)],
      context(['20.2.2.2']),
      options({ retire: false }),
    );
    expect(diff.remove).toEqual([]);
    expect(diff.deferred).toEqual([]);
  });
});
