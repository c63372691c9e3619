/** What a call throws, for tests of the errors a user's mistake must give. */
import { expect } from 'vitest';

/** The error `run` throws, checked to be a `type`: the test fails on another error, or on none (saying `label`). */
export function thrownBy<E extends Error>(run: () => unknown, type: abstract new (...args: never[]) => E, label?: string): E {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught, label).toBeInstanceOf(type);
  return caught as E;
}
