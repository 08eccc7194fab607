import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { Trigger } from '../telemetry/events';
import type { LockHolder, LockResult, RunLock } from './store';

/**
 * The run lock of a state file (the CLI without the app's blob): a `<state>.lock` file created exclusively, naming
 * its holder. A lock left by a process that died is taken over: on the same machine when its process is gone, on
 * another (a shared folder) once it is older than maxHoldMs, as a blob lease would have expired.
 */

const DEFAULT_MAX_HOLD_MS = 30 * 60_000;

interface LockFile extends LockHolder {
  pid: number;
  host: string;
}

export class FileRunLock implements RunLock {
  readonly location: string;

  constructor(
    stateFile: string,
    private readonly maxHoldMs = DEFAULT_MAX_HOLD_MS,
  ) {
    this.location = `${stateFile}.lock`;
  }

  async acquire(holder: LockHolder): Promise<LockResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.tryCreate(holder)) return { acquired: true, release: async () => this.release(holder) };
      const current = this.read();
      if (current && !this.stale(current)) return { acquired: false, heldBy: toHolder(current) };
      this.remove();
    }
    return { acquired: false, heldBy: undefined };
  }

  async peek(): Promise<{ leased: boolean; holder: LockHolder | undefined }> {
    const current = this.read();
    return current && !this.stale(current)
      ? { leased: true, holder: toHolder(current) }
      : { leased: false, holder: undefined };
  }

  private tryCreate(holder: LockHolder): boolean {
    let fd: number;
    // The state's folder (.apim-ip-reconciler/ by default) does not exist before the first run.
    mkdirSync(dirname(this.location), { recursive: true });
    try {
      fd = openSync(this.location, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    try {
      const content: LockFile = { ...holder, pid: process.pid, host: hostname() };
      writeSync(fd, `${JSON.stringify(content)}\n`);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  private read(): LockFile | undefined {
    try {
      const parsed = JSON.parse(readFileSync(this.location, 'utf8')) as Partial<LockFile>;
      if (typeof parsed.runId !== 'string' || typeof parsed.startedAt !== 'string') return undefined;
      return parsed as LockFile;
    } catch {
      // Unreadable or half-written: judged by its age alone.
      return this.ageMs() === undefined || this.ageMs()! > this.maxHoldMs ? undefined : unknownHolder();
    }
  }

  private ageMs(): number | undefined {
    try {
      return Date.now() - statSync(this.location).mtimeMs;
    } catch {
      return undefined;
    }
  }

  private stale(lock: LockFile): boolean {
    if (lock.host === hostname() && lock.pid > 0 && !alive(lock.pid)) return true;
    return (this.ageMs() ?? 0) > this.maxHoldMs;
  }

  private release(holder: LockHolder): void {
    if (this.read()?.runId === holder.runId) this.remove();
  }

  private remove(): void {
    try {
      unlinkSync(this.location);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function unknownHolder(): LockFile {
  return { runId: '(unknown)', trigger: 'cli', startedAt: '(unknown)', pid: 0, host: '' };
}

function toHolder(lock: LockFile): LockHolder {
  return { runId: lock.runId, trigger: lock.trigger as Trigger, startedAt: lock.startedAt };
}
