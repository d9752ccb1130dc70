import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type Catalog, type CatalogDocument, CatalogError, parseCatalog } from '@khata/domain';

/**
 * Reads the product catalog from disk (SPEC §5: data operators edit, `schemas/catalog/*.json`). Every
 * `.json` file in the directory except the `*.schema.json` files is a catalog file; files are read in
 * name order so that an error about a duplicate id always points at the same file. Any problem (a file
 * that is not JSON, a schema violation, a duplicate id) throws `CatalogError` naming the file and the
 * JSON pointer, and start-up stops there.
 */

/** The catalog shipped with Khata. */
export const DEFAULT_CATALOG_DIRECTORY = resolve(import.meta.dirname, '../../../schemas/catalog');

/** A hand-edited catalog is a few kilobytes; anything this large is a mistake, refused before reading. */
export const CATALOG_FILE_BYTES_MAX = 1024 * 1024;
/** Bounds the directory scan the same way. */
export const CATALOG_FILES_MAX = 100;

const SCHEMA_SUFFIX = '.schema.json';

export async function loadCatalog(directory: string = DEFAULT_CATALOG_DIRECTORY): Promise<Catalog> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    throw new CatalogError([
      { file: directory, path: '', message: `cannot read the catalog directory: ${reason(error)}` },
    ]);
  }
  const files = names
    .filter((name) => name.endsWith('.json') && !name.endsWith(SCHEMA_SUFFIX))
    .sort()
    .map((name) => join(directory, name));
  if (files.length === 0) {
    throw new CatalogError([{ file: directory, path: '', message: 'holds no catalog file (*.json)' }]);
  }
  if (files.length > CATALOG_FILES_MAX) {
    throw new CatalogError([
      { file: directory, path: '', message: `holds ${files.length} catalog files, more than ${CATALOG_FILES_MAX}` },
    ]);
  }
  const documents: CatalogDocument[] = [];
  for (const file of files) documents.push({ file, content: await readJson(file) });
  return parseCatalog(documents);
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > CATALOG_FILE_BYTES_MAX) {
      throw new CatalogError([{ file, path: '', message: `is ${size} bytes, more than ${CATALOG_FILE_BYTES_MAX}` }]);
    }
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof CatalogError) throw error;
    throw new CatalogError([{ file, path: '', message: `cannot be read: ${reason(error)}` }]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8 names the position as "at position N (line L column C)"; an early end of input it does not.
    const message = reason(error);
    const where = /line \d+/.test(message) ? '' : ` (the file ends at line ${text.split('\n').length})`;
    throw new CatalogError([{ file, path: '', message: `is not valid JSON: ${message}${where}` }]);
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
