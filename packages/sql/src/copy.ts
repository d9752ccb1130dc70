import { quoteIdentifier } from './client.ts';

/**
 * COPY's text format (PostgreSQL documentation, "COPY", File Formats → Text Format): one line per row, columns
 * separated by a tab, `\N` for NULL, and a backslash before a backslash, and as `\n`, `\r`, `\t` for the newline,
 * carriage return and tab a value contains. Each value is then read by its column's own input function, as a
 * literal in a statement would be.
 */
const SPECIAL = /[\\\n\r\t]/;
const SPECIAL_ALL = /[\\\n\r\t]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** One value in COPY's text format. Only scalars: a `json` or array column is written by a statement instead. */
export function copyValue(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  switch (typeof value) {
    case 'string':
      return SPECIAL.test(value) ? value.replace(SPECIAL_ALL, (character) => ESCAPES[character] ?? character) : value;
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`COPY value ${value} is not a finite number`);
      return String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 't' : 'f';
    default:
      if (value instanceof Date) {
        if (Number.isNaN(value.getTime())) throw new Error('COPY value is an invalid Date');
        return value.toISOString();
      }
      throw new Error(`COPY takes scalar values, not ${Object.prototype.toString.call(value)}`);
  }
}

/** The rows as COPY text, each row's values in the order of `columns`. */
export function copyText<Row extends object>(rows: readonly Row[], columns: readonly (keyof Row & string)[]): string {
  let text = '';
  for (const row of rows) {
    let line = '';
    for (let index = 0; index < columns.length; index += 1) {
      if (index > 0) line += '\t';
      line += copyValue(row[columns[index] as keyof Row]);
    }
    text += `${line}\n`;
  }
  return text;
}

/** `schema.table (column, …)`, quoted: the target of a COPY. */
export function copyTarget(schema: string, table: string, columns: readonly string[]): string {
  return `${quoteIdentifier(schema)}.${quoteIdentifier(table)} (${columns.map(quoteIdentifier).join(', ')})`;
}

/**
 * The columns of a table's row type, every one of them: `tableColumns<CallsTable>()('account_id', …)` does not
 * compile while a column is missing, so a COPY cannot leave one out silently (it would be written as its default).
 */
export function tableColumns<Row extends object>() {
  return <const Columns extends readonly (keyof Row & string)[]>(
    ...columns: Columns & ([Exclude<keyof Row, Columns[number]>] extends [never] ? unknown : never)
  ): Columns => columns;
}
