/**
 * The deadlines of a run's attempts, on one Node timer. A timer set and cleared per attempt cost about 18 million
 * instructions of the 1,000-target bench run's 495 million (valgrind, Node 20): more than the rest of an attempt's
 * bookkeeping. The attempts of a run share one --timeout and start in order, so their deadlines come nearly in the
 * order they are added: a sorted array appended to, with the timer set for the earliest deadline still wanted.
 *
 * A deadline that falls due is fired after one look at the input already in (lookFirst, phases.ts): not in the timer's
 * callback but in a setImmediate, after the loop's next poll for I/O. After the loop stood still, libuv runs the
 * timers due before it polls again, so an answer that came in the stall would otherwise be read only after the
 * deadline had been declared (docs/timeouts.md, "The look before a timeout").
 */
import { performance } from 'node:perf_hooks';

/** One deadline: `fire` is called once `at` (a performance.now() time) has passed, unless it was cancelled. */
export interface Deadline {
  readonly at: number;
  /** Absent once fired or cancelled. */
  fire: (() => void) | undefined;
}

export class Deadlines {
  /** Sorted by `at`; entries before #head have fired or been cancelled. */
  #entries: Deadline[] = [];
  #head = 0;
  /** Entries not yet fired nor cancelled: the timer runs only while there are some (it keeps the process alive). */
  #wanted = 0;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #firing = false;
  /** Deadlines the timer found due, waiting for the look (#fireLooked); cancelled ones are skipped there. */
  #looked: Deadline[] = [];

  /**
   * Calls `fire` once `at` has passed (never earlier, by performance.now()) and the loop has then polled its input
   * once; cancel() stops it, in that look too.
   */
  add(at: number, fire: () => void): Deadline {
    const deadline: Deadline = { at, fire };
    const entries = this.#entries;
    if (entries.length === this.#head || (entries[entries.length - 1] as Deadline).at <= at) entries.push(deadline);
    else entries.splice(this.#insertionPoint(at), 0, deadline);
    this.#wanted += 1;
    if (!this.#firing && at < this.#armedFor) this.#arm(at);
    return deadline;
  }

  cancel(deadline: Deadline): void {
    if (deadline.fire === undefined) return;
    deadline.fire = undefined;
    this.#wanted -= 1;
    if (this.#wanted === 0 && !this.#firing) this.#reset();
  }

  /** The first index past the entries due no later than `at` (a binary search: a watchdog's deadline comes late). */
  #insertionPoint(at: number): number {
    let low = this.#head;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#entries[middle] as Deadline).at <= at) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #arm(at: number): void {
    clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#due, Math.max(0, at - performance.now()));
  }

  #reset(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#entries = [];
    this.#head = 0;
  }

  /**
   * The timer: takes what is due out of the queue for the look, which fires it (a setImmediate, run after the loop's
   * poll phase). A deadline added already past during the look (an attempt begun on an answer the look read) waits for
   * a look of its own.
   */
  readonly #due = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const entries = this.#entries;
    // A timer may fire a little before its time by performance.now() (libuv counts whole ms of its loop's time): what
    // is not due yet waits for the next.
    const now = performance.now();
    const looking = this.#looked.length > 0;
    while (this.#head < entries.length) {
      const deadline = entries[this.#head] as Deadline;
      if (deadline.fire !== undefined && deadline.at > now) break;
      this.#head += 1;
      if (deadline.fire !== undefined) this.#looked.push(deadline);
    }
    if (!looking && this.#looked.length > 0) setImmediate(this.#fireLooked);
    this.#settle();
  };

  /** Fires what the timer found due and the look did not cancel; what is added or cancelled meanwhile waits for #settle. */
  readonly #fireLooked = (): void => {
    const looked = this.#looked;
    this.#looked = [];
    this.#firing = true;
    try {
      for (const deadline of looked) {
        const { fire } = deadline;
        if (fire === undefined) continue;
        deadline.fire = undefined;
        this.#wanted -= 1;
        fire();
      }
    } finally {
      this.#firing = false;
      this.#settle();
    }
  };

  /** After a firing: no timer when nothing is wanted, else one for the earliest deadline wanted still queued. */
  #settle(): void {
    if (this.#wanted === 0) return this.#reset();
    const entries = this.#entries;
    while (this.#head < entries.length && (entries[this.#head] as Deadline).fire === undefined) this.#head += 1;
    // Every deadline wanted waits for the look: no timer until one is added.
    if (this.#head === entries.length) return this.#reset();
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    const next = (this.#entries[this.#head] as Deadline).at;
    if (next < this.#armedFor) this.#arm(next);
  }
}
