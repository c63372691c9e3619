/** A subclass of the global AbortController as it is now, and how many of it have been made. */
export function countingAbortController(): { CountingAbortController: typeof AbortController; made: () => number };
