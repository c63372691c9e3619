/** The pids of what runs in a namespace (`ip netns pids`); throws if there is no such namespace. */
export function namespacePids(name: string): number[];
/** Deletes a namespace after killing what still runs in it. */
export function deleteNamespaceSync(name: string): void;
/** Removes `namespace NAME` or `folder PATH`. */
export function removeSync(entry: string): void;
/** Has this process's reaper remove `entry` (`namespace NAME`, `folder PATH`) if this process dies first. */
export function removeIfKilled(entry: `namespace ${string}` | `folder ${string}`): void;
/** Tells the reaper that `entry` is removed. */
export function removed(entry: `namespace ${string}` | `folder ${string}`): void;
