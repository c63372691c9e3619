/** This process's active handles, requests and timers, counted by type. */
export function activeResources(): Map<string, number>;
/** The types of which more are active now than in `before`, with how many more. */
export function addedSince(before: Map<string, number>): Record<string, number>;
/** addedSince(before), once a destroyed socket's handle has had up to a second to close. */
export function addedOnceSettled(before: Map<string, number>): Promise<Record<string, number>>;
