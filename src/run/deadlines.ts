/**
 * The deadlines of a run's attempts, on one Node timer. A timer set and cleared per attempt cost about 18 million
 * instructions of the 1,000-target bench run's 495 million (valgrind, Node 20): more than the rest of an attempt's
 * bookkeeping. The attempts of a run share one --timeout and start in order, so their deadlines come nearly in the
 * order they are added: a sorted array appended to, with the timer set for the earliest deadline still wanted.
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

  /** Calls `fire` once `at` has passed (never earlier, by performance.now()); cancel() stops it. */
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

  /** Fires what is due; deadlines added or cancelled meanwhile (a watchdog after a deadline) wait for #settle. */
  readonly #due = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#firing = true;
    try {
      while (this.#head < this.#entries.length) {
        const deadline = this.#entries[this.#head] as Deadline;
        const { fire } = deadline;
        // A timer may fire a little before its time by performance.now() (libuv counts whole ms of its loop's
        // time): what is not due yet waits for the next.
        if (fire !== undefined && deadline.at > performance.now()) break;
        this.#head += 1;
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

  /** After a firing: no timer when nothing is wanted, else one for the earliest deadline wanted. */
  #settle(): void {
    if (this.#wanted === 0) return this.#reset();
    while ((this.#entries[this.#head] as Deadline).fire === undefined) this.#head += 1;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
    const next = (this.#entries[this.#head] as Deadline).at;
    if (next < this.#armedFor) this.#arm(next);
  }
}
