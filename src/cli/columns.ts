/**
 * The CLI's one way of printing aligned text: rows of cells in columns two spaces apart, each column
 * as wide as its widest cell (at least `minWidths`, so `inbox --follow` keeps its columns), the
 * columns in `right` aligned right (counts), the last one never padded.
 */
export function alignColumns(
  rows: string[][],
  opts: { indent?: string; right?: number[]; minWidths?: number[] } = {},
): { lines: string[]; widths: number[] } {
  const count = Math.max(0, ...rows.map((r) => r.length));
  const widths = Array.from({ length: count }, (_, i) =>
    Math.max(opts.minWidths?.[i] ?? 0, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const cell = (v: string, i: number, last: boolean) =>
    opts.right?.includes(i) ? v.padStart(widths[i]) : last ? v : v.padEnd(widths[i]);
  const lines = rows.map((cells) =>
    `${opts.indent ?? ''}${cells.map((v, i) => cell(v, i, i === cells.length - 1)).join('  ')}`.trimEnd(),
  );
  return { lines, widths };
}
