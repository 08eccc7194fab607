import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  parseState,
  StateConflictError,
  emptyState,
  type State,
  type StateStore,
  type Versioned,
} from './store';

/** The CLI's state: one JSON file, replaced atomically, guarded by a content hash. */
export class FileStateStore implements StateStore {
  constructor(readonly location: string) {}

  private readText(): string | undefined {
    try {
      return readFileSync(this.location, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async load(): Promise<Versioned<State>> {
    const text = this.readText();
    if (text === undefined) return { value: emptyState(), version: undefined };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${this.location} is not valid JSON; move it away to start with a fresh state`);
    }
    return { value: parseState(parsed, this.location), version: hash(text) };
  }

  async save(state: State, version: string | undefined): Promise<string> {
    const current = this.readText();
    if ((current === undefined ? undefined : hash(current)) !== version) throw new StateConflictError();
    const text = `${JSON.stringify(state, null, 2)}\n`;
    mkdirSync(dirname(this.location), { recursive: true });
    const temporary = `${this.location}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, this.location);
    return hash(text);
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
