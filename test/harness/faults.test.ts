import { describe, expect, it } from 'vitest';
import { thrownBy } from '../helpers/thrown.js';
import { FaultBoard, parseFault } from '../../src/harness/faults.js';
import { UsageError } from '../../src/errors.js';

const H = 3_600_000;

describe('parseFault', () => {
  it('reads NAME, NAME@START-END, NAME=VALUE@START-END and NAME@START-END=VALUE', () => {
    expect(parseFault('block-5223')).toMatchObject({ name: 'block-5223', value: 1, startMs: 0, endMs: Infinity });
    expect(parseFault('apns-down@2h-4h')).toMatchObject({ name: 'apns-down', startMs: 2 * H, endMs: 4 * H });
    expect(parseFault('offline=0.2@1h-3h')).toMatchObject({ name: 'offline', value: 0.2, startMs: H, endMs: 3 * H });
    expect(parseFault('offline@90m-3h=0.5')).toMatchObject({ name: 'offline', value: 0.5, startMs: 1.5 * H, endMs: 3 * H });
    expect(parseFault('notnow=3')).toMatchObject({ name: 'notnow', value: 3 });
    expect(parseFault('drop')).toMatchObject({ name: 'drop', value: 0.1 });
  });

  it.each([
    ['bogus', /unknown fault "bogus"/],
    ['offline=2', /must be a fraction between 0 and 1/],
    ['offline=x', /is not a number/],
    ['notnow=1.5', /whole number/],
    ['wrong-topic=1', /takes no value/],
    ['apns-down@4h-2h', /not after its start/],
    ['apns-down@2h', /must be START-END/],
    ['apns-down@2x-4h', /not a duration/],
    ['offline=0.1@1h-2h=0.2', /value given twice/],
  ])('rejects %s with a one-line UsageError', (text, message) => {
    const error = thrownBy(() => parseFault(text), UsageError);
    expect(error.message).toMatch(message);
    expect(error.message).toMatch(new RegExp(`^--fault ${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('FaultBoard', () => {
  it('applies windows relative to its origin, and switches win over schedules', () => {
    const board = new FaultBoard([parseFault('apns-down@2h-4h'), parseFault('offline=0.3@1h-3h')], 1000);
    expect(board.isOn('apns-down', 1000 + 2 * H - 1)).toBe(false);
    expect(board.isOn('apns-down', 1000 + 2 * H)).toBe(true);
    expect(board.isOn('apns-down', 1000 + 4 * H)).toBe(false);
    expect(board.value('offline', 1000 + 2 * H)).toBe(0.3);
    const changes: Array<[string, number | undefined]> = [];
    board.onChange((name, value) => changes.push([name, value]));
    board.set('apns-down');
    expect(board.isOn('apns-down', 0)).toBe(true);
    board.clear('apns-down');
    expect(board.isOn('apns-down', 0)).toBe(false);
    expect(changes).toEqual([
      ['apns-down', 1],
      ['apns-down', undefined],
    ]);
  });
});
