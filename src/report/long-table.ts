/**
 * cli-table3 in linear time, and in microseconds a row. While laying a table out, cli-table3 checks every cell
 * against every row above it (layout-manager's fillInTable): a table of 1,000 passing targets took 0.6 s, one of
 * 1,200 failing results 8.6 s. Drawn in blocks of 25 rows it was linear, but still about 1.5 ms a result: every cell
 * is an object that merges the table's options, and every width is measured with regular expressions built anew.
 * So a long table is drawn here as cli-table3 draws it, from what cli-table3 itself draws: the column widths of the
 * whole table (wholeTableWidths), then one table holding the head and one template row of each shape (which columns
 * its cells span), each template cell holding a marker; a row is its template with each marker replaced by the
 * cell's text and as many of the spaces after it as the text is wide. The text is byte for byte that of one
 * cli-table3 table (test/report/long-table.test.ts holds it so); anything the templates cannot stand for (a line
 * break in a cell, a row that does not fill the columns) is drawn by cli-table3 whole.
 */
import Table from 'cli-table3';
// The width cli-table3 gives a cell's text: using its own measure keeps the widths exactly its widths.
import { strlen } from 'cli-table3/src/utils.js';

/** A cell: text, or text spanning several columns. */
export type TableCell = string | { colSpan: number; content: string };

/** Tables up to this many rows are drawn by cli-table3 whole (cheap enough, and nothing to get wrong). */
const SHORT_ROWS = 25;

/** Stands for a cell's text in a template row: a control character, so cli-table3 gives it no width. */
const MARKER = '\u0000';

/** cli-table3's colour codes (utils.js codeRegex), which take no width. */
const COLOUR_CODES = /\u001b\[(?:\d*;){0,5}\d*m/g;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * strlen's answer, without strlen's cost where it is plain: text that is printable ASCII once colour codes are
 * stripped is one column a character (no wide character, emoji, control or combining mark); anything else is
 * measured by strlen itself.
 */
export function cellWidth(text: string): number {
  const plain = text.includes('\u001b') ? text.replace(COLOUR_CODES, '') : text;
  return PRINTABLE_ASCII.test(plain) ? plain.length : strlen(text);
}

function contentOf(cell: TableCell): string {
  return typeof cell === 'string' ? cell : cell.content;
}

function spanOf(cell: TableCell): number {
  return typeof cell === 'string' ? 1 : cell.colSpan;
}

/** `rows` under `head`, as `new Table({ head, style })` filled with them would draw it (no row spans). */
export function longTable(head: string[], rows: TableCell[][], style: Table.TableConstructorOptions['style']): string {
  const whole = (): string => {
    const table = new Table({ head, style: { ...style } });
    table.push(...rows);
    return table.toString();
  };
  if (rows.length <= SHORT_ROWS) return whole();
  const widths = rows.map((row) => row.map((cell) => cellWidth(contentOf(cell))));
  const colWidths = wholeTableWidths(head, rows, widths, style);
  if (!colWidths) return whole();

  // One template row per shape, in the order the shapes first appear.
  const shapes = new Map<string, number>();
  const templateRows: TableCell[][] = [];
  const shapeOf: number[] = [];
  for (const row of rows) {
    let columns = 0;
    let spans = false;
    for (const cell of row) {
      const content = contentOf(cell);
      if (content.includes('\n') || content.includes(MARKER)) return whole();
      columns += spanOf(cell);
      spans ||= spanOf(cell) > 1;
    }
    if (columns !== head.length) return whole();
    const key = spans ? row.map(spanOf).join(',') : String(row.length);
    let shape = shapes.get(key);
    if (shape === undefined) {
      shape = templateRows.length;
      shapes.set(key, shape);
      templateRows.push(row.map((cell) => (typeof cell === 'string' ? MARKER : { colSpan: cell.colSpan, content: MARKER })));
    }
    shapeOf.push(shape);
  }
  // The first template is the first row's shape, which draws the line under the head; the last row's shape comes
  // again at the end, as the bottom border is drawn under it.
  const frame = new Table({ head, style: { ...style }, colWidths: [...colWidths] });
  frame.push(...templateRows, templateRows[shapeOf[shapeOf.length - 1]!]!);
  const drawn = frame.toString().split('\n');
  // The head and its borders, one line per template row (single-line rows, compact), the last again, the bottom.
  const top = drawn.slice(0, drawn.length - templateRows.length - 2);
  const templates = drawn.slice(drawn.length - templateRows.length - 2, -2).map((line) => {
    const parts = line.split(MARKER);
    // The template's cells are padded for text of no width: a cell's text takes the place of as many of its spaces.
    return { parts, spaces: parts.map((part) => /^ */.exec(part)![0].length) };
  });
  const lines = [...top];
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i]!;
    const rowWidths = widths[i]!;
    const { parts, spaces } = templates[shapeOf[i]!]!;
    if (parts.length !== row.length + 1) return whole();
    let line = parts[0]!;
    for (let j = 0; j < row.length; j += 1) {
      const width = rowWidths[j]!;
      if (width > spaces[j + 1]!) return whole();
      line += contentOf(row[j]!) + parts[j + 1]!.slice(width);
    }
    lines.push(line);
  }
  lines.push(drawn[drawn.length - 1]!);
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
function wholeTableWidths(
  head: string[],
  rows: TableCell[][],
  widths: number[][],
  style: Table.TableConstructorOptions['style'],
): number[] | undefined {
  const widest: Array<{ width: number; content: string }> = head.map((content) => ({ width: strlen(content), content }));
  const spanning: Array<{ row: TableCell[]; width: number }> = [];
  // Where the spanning cells are: their column and span.
  let place: { x: number; span: number } | undefined;
  for (let i = 0; i < rows.length; i += 1) {
    const row = rows[i]!;
    let x = 0;
    for (let j = 0; j < row.length; j += 1) {
      const cell = row[j]!;
      const span = spanOf(cell);
      const width = widths[i]![j]!;
      if (span > 1) {
        if (place !== undefined && (place.x !== x || place.span !== span)) return undefined;
        place ??= { x, span };
        spanning.push({ row, width });
      } else if (width > (widest[x]?.width ?? -1)) {
        widest[x] = { width, content: contentOf(cell) };
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
