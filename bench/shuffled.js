// The order of a bench round's commands: shuffled afresh each round, from a fixed seed (two runs of a bench order
// alike). A rotating order kept each command right after the same one, and a command can pay for its neighbour (the
// listeners' backlog of the last run's connects, the kernel's teardown of a large process): in three rounds of four,
// the same pushcheck command read 30-50 ms apart in the TCP bench's two environments, and 168/168 ms run alternately.

/** A function that gives a shuffled copy of `items` at each call (Fisher-Yates on a seeded generator). */
export function shuffler(seed = 0x9e3779b9) {
  let state = seed >>> 0;
  const random = () => ((state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
  return (items) => {
    const order = [...items];
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
}
