/**
 * longTable draws a long table in blocks (cli-table3 lays a table out in time quadratic in its rows): the text
 * must be exactly the text of one cli-table3 table, whatever the widths of the cells, spanning or not.
 */
import Table from 'cli-table3';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { longTable, type TableCell } from '../../src/report/long-table.js';

const STYLE = { head: [], border: [], compact: true };
const c = new Chalk({ level: 1 });

function oneTable(head: string[], rows: TableCell[][]): string {
  const table = new Table({ head, style: { ...STYLE } });
  table.push(...rows);
  return table.toString();
}

/** A deterministic mix: short and long hosts, detail lines of every width (some wider than the columns they span). */
function rowsOf(count: number, seed: number): TableCell[][] {
  let state = seed;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return Math.floor(state / 65536) % n;
  };
  const rows: TableCell[][] = [];
  for (let i = 0; i < count; i += 1) {
    rows.push([`r${next(30)}`, `h${i}.${'x'.repeat(next(25))}.test`, '4', String(next(65536)), 'tcp', c.red('fail'), `${next(9000)} ms`]);
    for (let j = next(4); j > 0; j -= 1) rows.push(['', { colSpan: 6, content: `${c.bold('hint')}: ${'word '.repeat(next(40))}界` }]);
  }
  return rows;
}

describe('longTable', () => {
  const head = ['Rule', 'Host', 'IP', 'Port', 'Check', 'Result', 'Time'].map((h) => c.bold(h));

  it.each([1, 2])('draws 250 results with detail lines exactly as one cli-table3 table (seed %i)', (seed) => {
    const rows = rowsOf(250, seed);
    expect(rows.length).toBeGreaterThan(350);
    expect(longTable(head, rows, STYLE)).toBe(oneTable(head, rows));
  });

  it('draws a long table whose last spanning line is the widest, and one with no spanning line, exactly as cli-table3 does', () => {
    const rows = rowsOf(200, 7);
    rows.push(['', { colSpan: 6, content: 'y'.repeat(150) }]);
    expect(longTable(head, rows, STYLE)).toBe(oneTable(head, rows));
    const plain = rowsOf(200, 8).filter((row) => row.length === 7);
    expect(longTable(head, plain, STYLE)).toBe(oneTable(head, plain));
  });
});
