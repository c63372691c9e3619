/**
 * What keeps a process alive after a run: its active handles, requests and timers by type
 * (process.getActiveResourcesInfo()), for tests that hold runChecks to leaving nothing behind, as a library user
 * calling it run after run, or `pushcheck serve` running for hours, needs. Plain JavaScript (types beside it, in
 * active-resources.d.mts), so that a script run by plain Node in a network namespace (tcp-dropped.mjs) counts the same way.
 */

/** This process's active handles, requests and timers, counted by type. */
export function activeResources() {
  const counts = new Map();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** The types of which more are active now than in `before`, with how many more. */
export function addedSince(before) {
  const added = {};
  for (const [type, count] of activeResources()) if (count > (before.get(type) ?? 0)) added[type] = count - (before.get(type) ?? 0);
  return added;
}

/**
 * addedSince(before), once a destroyed socket's handle has had up to a second to close (it closes in a later turn
 * of the loop). Waits with one plain timer at a time, which has fired before it counts (vi.waitFor's would be counted).
 */
export async function addedOnceSettled(before) {
  for (let i = 0; i < 100 && Object.keys(addedSince(before)).length > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
  return addedSince(before);
}
