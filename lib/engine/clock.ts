/** The engine's only source of time: injected, so tests and the demo can move it. */
export interface Clock {
  now(): Date;
}

/** A clock that stays where it is put. */
export class ManualClock implements Clock {
  constructor(private current: Date) {}
  now(): Date {
    return new Date(this.current.getTime());
  }
  set(at: Date): void {
    this.current = new Date(at.getTime());
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}
