/**
 * Clocks. Every harness component reads time and sets timers through a `Clock`, never through Date or
 * setTimeout, so the same code runs on the wall clock (the `harness` command), on a wall clock sped up
 * (`simulate --speed X`) and on a virtual clock that jumps from event to event (`simulate --speed max`, tests).
 */

/** A timer handle; pass it to `clearTimer`. */
export interface Timer {
  readonly id: number;
}

export interface Clock {
  /** Current time, ms since the Unix epoch (virtual time for a virtual clock). */
  now(): number;
  /** Runs `fn` once after `delayMs` of this clock's time. */
  setTimer(delayMs: number, fn: () => void): Timer;
  clearTimer(timer: Timer): void;
}

interface Entry extends Timer {
  at: number;
  fn: (() => void) | null;
}

/**
 * A virtual clock with an event queue (binary heap ordered by time, then by insertion). Time only moves
 * when `runUntil`/`runNext` is called, and jumps straight to the next event: a simulated day of a large
 * fleet runs as fast as its events can be processed.
 */
export class VirtualClock implements Clock {
  private heap: Entry[] = [];
  private seq = 0;
  private live = 0;
  private current: number;
  /** Events run so far. */
  eventsRun = 0;

  constructor(startMs = Date.UTC(2025, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const entry: Entry = { id: ++this.seq, at: this.current + Math.max(0, Math.round(delayMs)), fn };
    this.push(entry);
    this.live += 1;
    return entry;
  }

  clearTimer(timer: Timer): void {
    const entry = timer as Entry;
    if (entry.fn !== null) {
      entry.fn = null;
      this.live -= 1;
    }
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.live;
  }

  /** Time of the next live event, or undefined when none is queued. */
  peek(): number | undefined {
    this.dropCleared();
    return this.heap[0]?.at;
  }

  /** Runs the next event (advancing time to it); false when none is queued. */
  runNext(): boolean {
    this.dropCleared();
    const entry = this.pop();
    if (!entry) return false;
    this.current = entry.at;
    const fn = entry.fn!;
    entry.fn = null;
    this.live -= 1;
    this.eventsRun += 1;
    fn();
    return true;
  }

  /**
   * Runs every event due up to `endMs`, then sets the time to `endMs`. `maxEvents` bounds the loop so that
   * a timer that re-arms itself with no delay cannot spin forever; exceeding it throws (a harness bug).
   */
  runUntil(endMs: number, maxEvents = 500_000_000): number {
    let ran = 0;
    for (;;) {
      const next = this.peek();
      if (next === undefined || next > endMs) break;
      if (ran >= maxEvents) throw new Error(`virtual clock: more than ${maxEvents} events before ${endMs}`);
      this.runNext();
      ran += 1;
    }
    if (endMs > this.current) this.current = endMs;
    return ran;
  }

  /** Moves time forward by `ms`, running what falls due. */
  advance(ms: number): number {
    return this.runUntil(this.current + ms);
  }

  private dropCleared(): void {
    while (this.heap.length > 0 && this.heap[0]!.fn === null) this.pop();
  }

  private less(a: Entry, b: Entry): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Entry | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
    return top;
  }
}

/**
 * The wall clock, optionally sped up: with `speed` 3600 an hour of this clock passes in one wall second.
 * Timers are real timers (unref'd: they never keep the process alive on their own).
 */
export class ScaledClock implements Clock {
  private readonly wallStart = performance.now();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private seq = 0;

  constructor(
    readonly speed = 1,
    private readonly startMs = Date.now(),
  ) {
    if (!(speed > 0)) throw new Error('ScaledClock: speed must be > 0');
  }

  now(): number {
    return Math.floor(this.startMs + (performance.now() - this.wallStart) * this.speed);
  }

  setTimer(delayMs: number, fn: () => void): Timer {
    const id = ++this.seq;
    const handle = setTimeout(
      () => {
        this.timers.delete(id);
        fn();
      },
      Math.min(2_147_000_000, Math.max(0, delayMs / this.speed)),
    );
    handle.unref();
    this.timers.set(id, handle);
    return { id };
  }

  clearTimer(timer: Timer): void {
    const handle = this.timers.get(timer.id);
    if (handle) clearTimeout(handle);
    this.timers.delete(timer.id);
  }

  /** Cancels every timer still set (used on shutdown). */
  clearAll(): void {
    for (const handle of this.timers.values()) clearTimeout(handle);
    this.timers.clear();
  }
}

/** The plain wall clock. */
export const systemClock = (): ScaledClock => new ScaledClock(1);

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
