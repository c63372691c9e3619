// With PUSHCHECK_SPAWN_LOG set, tells test/helpers/spawn-log.mjs which test (or which file's hooks) started a process.
import { beforeEach, expect } from 'vitest';

if (process.env.PUSHCHECK_SPAWN_LOG) {
  process.env.PUSHCHECK_SPAWN_FROM = `${expect.getState().testPath ?? '?'} > (hook)`;
  beforeEach((context) => {
    process.env.PUSHCHECK_SPAWN_FROM = `${context.task.file.filepath} > ${context.task.name}`;
  });
}
