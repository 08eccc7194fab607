import type { State, StateStore, Versioned } from '../state/store';
import type { Planned } from './work';

/**
 * Stage 3, announce (write-ahead, docs/design/product.md §6): before any write, the state records which entries
 * each target is about to gain (`pending`), so an entry whose write answer is lost (a timeout, a killed process)
 * is still known as the reconciler's own next run. Nothing is saved when no target adds anything.
 */
export async function announce(
  store: StateStore,
  loaded: Versioned<State>,
  writing: Planned[],
): Promise<Versioned<State> | { error: string }> {
  const adding = writing.filter((item) => item.plan.additions.length > 0);
  if (adding.length === 0) return loaded;
  const next: State = structuredClone(loaded.value);
  for (const { target, plan } of adding) {
    const saved = next.targets[target.name];
    const current =
      saved?.resource === plan.nextState.resource ? saved : { ...plan.nextState, owned: [], departed: {} };
    const pending = new Set([...(current.pending ?? []), ...plan.additions.map((p) => p.key)]);
    next.targets[target.name] = { ...current, pending: [...pending] };
  }
  try {
    return { value: next, version: await store.save(next, loaded.version) };
  } catch (error) {
    return {
      error: `cannot record the writes about to be made at ${store.location}: ${(error as Error).message}`,
    };
  }
}
