/**
 * longTable draws a long table from template rows that cli-table3 draws (cli-table3 lays a table out in time
 * quadratic in its rows, and costs about 1.5 ms a result even in blocks): the text must be exactly the text of one
 * cli-table3 table, whatever the widths of the cells, spanning or not, wide, coloured or combining.
 */
import Table from 'cli-table3';
import { Chalk } from 'chalk';
import { describe, expect, it } from 'vitest';
import { strlen } from 'cli-table3/src/utils.js';
import { cellWidth, longTable, type TableCell } from '../../src/report/long-table.js';

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

describe('longTable against cli-table3, over many shapes of table', () => {
  /** Text of every kind a cell may hold: plain, coloured, wide (CJK, emoji), combining marks, keycaps, controls. */
  const PIECES = ['a', 'host', '#', '*', '7', ' ', '~', c.red('fail'), c.bold('hint'), '界', '😀', 'é', 'e\u0301', '1\ufe0f\u20e3', '\t', '\u001b[0m', 'ß'];

  function randomTable(seed: number): { head: string[]; rows: TableCell[][] } {
    let state = seed;
    const next = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2147483648;
      return Math.floor(state / 65536) % n;
    };
    const text = (max: number): string => Array.from({ length: next(max) }, () => PIECES[next(PIECES.length)]).join('');
    const columns = 2 + next(6);
    const head = Array.from({ length: columns }, (_, i) => c.bold(`H${i}${text(3)}`));
    const rows: TableCell[][] = [];
    const count = 26 + next(120);
    // Spanning rows all span the same columns (as the report's detail lines do): from 1 to the end.
    for (let i = 0; i < count; i += 1) {
      if (next(3) === 0) rows.push([text(4), { colSpan: columns - 1, content: text(30) }]);
      else rows.push(Array.from({ length: columns }, () => text(8)));
    }
    return { head, rows };
  }

  it.each(Array.from({ length: 12 }, (_, i) => i + 11))('random table %i: the same text as one cli-table3 table', (seed) => {
    const { head, rows } = randomTable(seed);
    const table = new Table({ head, style: { ...STYLE } });
    table.push(...rows);
    expect(longTable(head, rows, STYLE)).toBe(table.toString());
  });

  it('measures every kind of cell text as cli-table3 does', () => {
    const texts = [...PIECES, ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), PIECES.join(''), '', '\u009b31m'];
    for (const text of texts) expect(cellWidth(text), JSON.stringify(text)).toBe(strlen(text));
  });

  it('draws a 27-row table of known cells as expected', () => {
    const rows: TableCell[][] = [['first', { colSpan: 2, content: 'spans two' }]];
    for (let i = 0; i < 25; i += 1) rows.push([String(i % 10), 'b', 'c']);
    rows.push(['', { colSpan: 2, content: 'last' }]);
    // "spans two" needs 11 columns with its padding; S and T (3 each, and a border) are widened alike to 5 and 5.
    const expected = [
      '┌───────┬─────┬─────┐',
      '│ R     │ S   │ T   │',
      '├───────┼─────┴─────┤',
      '│ first │ spans two │',
      ...Array.from({ length: 25 }, (_, i) => `│ ${i % 10}     │ b   │ c   │`),
      '│       │ last      │',
      '└───────┴───────────┘',
    ];
    expect(longTable(['R', 'S', 'T'], rows, STYLE)).toBe(expected.join('\n'));
  });
});
