/**
 * The system resolver (getaddrinfo: /etc/hosts, nsswitch and resolv.conf, as every program here resolves), asked so
 * that a slow or silent resolver cannot hold a run past its bound. libuv runs getaddrinfo on its thread pool, at most
 * half the pool at once (2 of the default 4 threads), and a call that has started cannot be cancelled: it runs until
 * glibc gives up, and the process cannot exit before. So:
 * - lookups wait for a slot here, in a queue a caller can leave: a lookup given up before it started never starts
 *   (in libuv's own queue it would, long after the run wanted it);
 * - a name already being looked up is not asked again: a retry waits on the same call;
 * - fitSystemResolver (dns.ts) makes glibc give up soon after pushcheck does.
 */

/** One name's getaddrinfo, queued or running, and how many callers still wait for it. */
interface Lookup {
  name: string;
  askers: number;
  started: boolean;
  /** performance.now() when getaddrinfo began (once started). */
  startedAt: number;
  addresses: Promise<string[]>;
  start: () => void;
}

/** What a caller holds: the addresses to come, a way to stop waiting, and whether the call reached the resolver. */
export interface SystemLookup {
  addresses: Promise<string[]>;
  /** Stops waiting; a lookup nobody waits for any more leaves the queue if it has not started. */
  leave: () => void;
  /** True once getaddrinfo runs (the resolver has been asked). */
  started: () => boolean;
  /** ms getaddrinfo has run (0 before it starts): more than this caller waited where it joined a lookup under way. */
  ranMs: () => number;
  /** Lookups ahead of this one (running or queued) when it was asked; 0 when it joined a lookup of its name. */
  ahead: number;
}

const byName = new Map<string, Lookup>();
const queue: Lookup[] = [];
let running = 0;

/** libuv's limit on getaddrinfo calls at once: half its threads, rounded up (UV_THREADPOOL_SIZE, default 4). */
export function resolverSlots(env: NodeJS.ProcessEnv = process.env): number {
  const threads = Number(env.UV_THREADPOOL_SIZE);
  return Math.max(1, Math.floor(((Number.isInteger(threads) && threads > 0 ? Math.min(threads, 1024) : 4) + 1) / 2));
}

function next(): void {
  while (running < resolverSlots() && queue.length > 0) queue.shift()!.start();
}

/** Looks `name` up with getaddrinfo (all addresses, in the resolver's order), when a slot is free. */
export function systemLookup(name: string): SystemLookup {
  let lookup = byName.get(name);
  const ahead = lookup ? 0 : running + queue.length;
  if (!lookup) {
    let start!: () => void;
    const addresses = new Promise<string[]>((resolve, reject) => {
      start = () => {
        created.started = true;
        created.startedAt = performance.now();
        running += 1;
        // A lookup that throws at once (it should not) still settles, and frees its slot.
        Promise.resolve()
          .then(() => process.getBuiltinModule('node:dns').promises.lookup(name, { all: true, verbatim: true }))
          .then((found) => resolve(found.map((entry) => entry.address)), reject)
          .finally(() => {
            running -= 1;
            byName.delete(name);
            next();
          });
      };
    });
    const created: Lookup = { name, askers: 0, started: false, startedAt: 0, addresses, start };
    byName.set(name, created);
    queue.push(created);
    lookup = created;
    next();
  }
  const mine = lookup;
  mine.askers += 1;
  let left = false;
  return {
    addresses: mine.addresses,
    ahead,
    started: () => mine.started,
    ranMs: () => (mine.started ? performance.now() - mine.startedAt : 0),
    leave: () => {
      if (left) return;
      left = true;
      mine.askers -= 1;
      if (mine.askers > 0 || mine.started) return;
      queue.splice(queue.indexOf(mine), 1);
      byName.delete(mine.name);
    },
  };
}
