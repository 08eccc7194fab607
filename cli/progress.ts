import type { ProgressReporter } from '../lib/wiring/progress';

/**
 * Progress lines on stderr while a run waits (docs/cli.md#output): a wait is shown once it has lasted `afterMs`
 * (or at once when Azure or Cloudflare ask for a long one), then every `everyMs` with how long it has been going.
 * Short waits say nothing, so a quick run prints only its plan.
 */
export function stderrProgress(
  write: (line: string) => void,
  options: { afterMs?: number; everyMs?: number; now?: () => number } = {},
): ProgressReporter {
  const afterMs = options.afterMs ?? 2_000;
  const everyMs = options.everyMs ?? 10_000;
  const now = options.now ?? Date.now;
  const waits = new Map<string, { since: number; shown?: number }>();
  return {
    waiting(key, message) {
      const at = now();
      let wait = waits.get(key);
      if (!wait) waits.set(key, (wait = { since: at }));
      const announcesLongWait = /waiting (\d+) s/.exec(message);
      const long = announcesLongWait !== null && Number(announcesLongWait[1]) * 1000 >= afterMs;
      const elapsed = at - wait.since;
      if (wait.shown === undefined ? long || elapsed >= afterMs : at - wait.shown >= everyMs) {
        wait.shown = at;
        write(`… ${message}${elapsed >= 1000 ? ` (${Math.round(elapsed / 1000)} s so far)` : ''}`);
      }
    },
    done(key) {
      waits.delete(key);
    },
  };
}
