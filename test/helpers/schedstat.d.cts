/** ms the thread that `file` (a /proc/.../schedstat) describes has waited for a CPU, or undefined where the kernel does not say. */
export function runQueueWaitMs(file: string): number | undefined;
