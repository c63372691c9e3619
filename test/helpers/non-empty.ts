/**
 * `for (const x of list) expect(…)` and `expect(list.every(…)).toBe(true)` pass on an empty list: a test that can
 * no longer fail. `nonEmpty(list)` asserts there is something to check, and gives the list back to check it.
 */
import { expect } from 'vitest';

export function nonEmpty<T>(items: readonly T[], what = 'the list'): readonly T[] {
  expect(items.length, `${what} is empty: the checks on its items would pass on nothing`).toBeGreaterThan(0);
  return items;
}
