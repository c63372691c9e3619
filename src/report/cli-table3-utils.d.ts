/** cli-table3's own measure of a cell's text (colour codes stripped, wide characters counted twice); see long-table.ts. */
declare module 'cli-table3/src/utils.js' {
  export function strlen(text: string): number;
}
