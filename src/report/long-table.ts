/**
 * cli-table3 in linear time. While laying a table out, cli-table3 checks every cell against every row above it
 * (layout-manager's fillInTable): a table of 1,000 passing targets took 0.6 s, one of 1,200 failing results 8.6 s.
 * A long table is drawn here in blocks of BLOCK_ROWS rows that share the column widths of the whole table and are
 * joined where their borders meet: the same text as one cli-table3 table, in time linear in its rows.
 */
import Table from 'cli-table3';
// The width cli-table3 gives a cell's text: using its own measure keeps the widths exactly its widths.
import { strlen } from 'cli-table3/src/utils.js';

/** A cell: text, or text spanning several columns. */
export type TableCell = string | { colSpan: number; content: string };

const BLOCK_ROWS = 25;

/** `rows` under `head`, as `new Table({ head, style })` filled with them would draw it (no row spans). */
export function longTable(head: string[], rows: TableCell[][], style: Table.TableConstructorOptions['style']): string {
  const whole = (): string => {
    const table = new Table({ head, style: { ...style } });
    table.push(...rows);
    return table.toString();
  };
  if (rows.length <= BLOCK_ROWS) return whole();
  const colWidths = wholeTableWidths(head, rows, style);
  if (!colWidths) return whole();
  const lines: string[] = [];
  for (let start = 0; start < rows.length; start += BLOCK_ROWS) {
    const first = start === 0;
    const last = start + BLOCK_ROWS >= rows.length;
    const block = new Table({ ...(first && { head }), style: { ...style }, colWidths: [...colWidths] });
    block.push(...rows.slice(start, start + BLOCK_ROWS));
    const drawn = block.toString().split('\n');
    // A block's top border is where the block above continues; its bottom border, where the next one does.
    lines.push(...drawn.slice(first ? 0 : 1, last ? drawn.length : -1));
  }
  return lines.join('\n');
}

/**
 * The column widths cli-table3 would give the whole table, computed by cli-table3 itself on a small table with the
 * same outcome: the widest plain cell of each column, in one row, and the spanning cells that widen the columns.
 * cli-table3 widens columns for spanning cells from the last to the first, each only while it is wider than the
 * columns it spans; once a spanning cell has been fitted, a later-fitted one of the same place and span that is no
 * wider changes nothing, so only the record-breaking ones (counting from the end) are kept. Undefined when spanning
 * cells of different places or spans mix (no table of ours has them): then the table is drawn whole.
 */
function wholeTableWidths(head: string[], rows: TableCell[][], style: Table.TableConstructorOptions['style']): number[] | undefined {
  const widest: Array<{ width: number; content: string }> = head.map((content) => ({ width: strlen(content), content }));
  const spanning: Array<{ row: TableCell[]; width: number }> = [];
  let place: string | undefined;
  for (const row of rows) {
    let x = 0;
    for (const cell of row) {
      const span = typeof cell === 'string' ? 1 : cell.colSpan;
      const content = typeof cell === 'string' ? cell : cell.content;
      const width = strlen(content);
      if (span > 1) {
        if (place !== undefined && place !== `${x}/${span}`) return undefined;
        place = `${x}/${span}`;
        spanning.push({ row, width });
      } else if (width > (widest[x]?.width ?? -1)) {
        widest[x] = { width, content };
      }
      x += span;
    }
  }
  const kept: TableCell[][] = [];
  let fitted = -1;
  for (let i = spanning.length - 1; i >= 0; i -= 1) {
    const { row, width } = spanning[i]!;
    if (width > fitted) {
      kept.unshift(row);
      fitted = width;
    }
  }
  const sample = new Table({ head, style: { ...style } });
  sample.push(Array.from(widest, (cell) => cell?.content ?? ''), ...kept);
  sample.toString();
  // toString() leaves the widths it computed in the table's options.
  return sample.options.colWidths.map((width) => width ?? 0);
}
