import type { Recorder, TelemetryEvent } from './events';

/** Keeps events in memory: for tests, and for the CLI when no Application Insights is configured. */
export class MemoryRecorder implements Recorder {
  readonly events: TelemetryEvent[] = [];
  readonly exceptions: Array<{ error: Error; properties: Record<string, string> }> = [];

  event(event: TelemetryEvent): void {
    this.events.push(event);
  }

  exception(error: Error, properties: Record<string, string>): void {
    this.exceptions.push({ error, properties });
  }

  async flush(): Promise<void> {}

  named(name: string): TelemetryEvent[] {
    return this.events.filter((e) => e.name === name);
  }

  clear(): void {
    this.events.length = 0;
    this.exceptions.length = 0;
  }
}
