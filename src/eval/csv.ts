/**
 * CSV formatting (RFC 4180) for result and figure data files.
 * @module
 */

/** A CSV cell: numbers are written with six significant digits; null and NaN leave it empty. */
export type CsvCell = string | number | null;

/** Formats a number with at most six significant digits, without exponent for usual ranges. */
export function formatCsvNumber(value: number): string {
  if (!Number.isFinite(value)) return "";
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

function formatCell(cell: CsvCell): string {
  if (cell === null) return "";
  if (typeof cell === "number") return formatCsvNumber(cell);
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/**
 * Formats a header and rows as CSV text with a trailing newline.
 *
 * @example
 * ```ts
 * formatCsv(["model", "ms"], [["vgg19", 1.25]]); // "model,ms\nvgg19,1.25\n"
 * ```
 * @throws {RangeError} if a row's length differs from the header's.
 */
export function formatCsv(
  header: readonly string[],
  rows: readonly (readonly CsvCell[])[],
): string {
  const lines = [header.map(formatCell).join(",")];
  for (const [i, row] of rows.entries()) {
    if (row.length !== header.length) {
      throw new RangeError(
        `CSV row ${i} has ${row.length} cells but the header has ${header.length}`,
      );
    }
    lines.push(row.map(formatCell).join(","));
  }
  return lines.join("\n") + "\n";
}
