// Reading a notebook directory into a bundle. This is the one place the extension applies
// SPEC 1-2 rules itself, because a notebook must open before the server is installed (the
// first start installs it): the cell list of notebook.toml in order, default file name and
// language, the first of duplicate ids, and cell files confined to cells/. Every write goes
// through the engine (notebookSave.ts). tests/fixtures/manifests holds the golden cases this
// reader and the engine's loader are both checked against.
import { promises as fs } from 'fs';
import * as path from 'path';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import { Bundle, BundleCell, isRecord, makeBundle } from './bundle';
import { CellLanguage, DEFAULT_LANGUAGE, isCellLanguage } from './languages';

// smol-toml ships CommonJS under its "require" export; the types are declared as ESM only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml, TomlError } = require('smol-toml') as typeof SmolToml;

export const MANIFEST = 'notebook.toml';
export const CELLS_DIR = 'cells';

export interface ManifestCell {
  id: string;
  file: string;
  language: CellLanguage;
  order: number;
}

export class NotebookFormatError extends Error {}

export async function readManifestCells(directory: string): Promise<{ notebookId: string; name: string; cells: ManifestCell[] }> {
  const manifestPath = path.join(directory, MANIFEST);
  const text = await fs.readFile(manifestPath, 'utf8');
  let document: Record<string, unknown>;
  try {
    document = parseToml(text);
  } catch (error) {
    const where = error instanceof TomlError ? `${manifestPath}:${error.line}:${error.column}` : manifestPath;
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new NotebookFormatError(`${where}: cannot parse notebook.toml (${detail}); fix the TOML and the notebook reloads`);
  }
  const raw = document.cells ?? [];
  if (!Array.isArray(raw)) throw new NotebookFormatError(`${manifestPath}: \`cells\` must be an array of tables ([[cells]]); fix it and the notebook reloads`);
  const seen = new Set<string>();
  const cells: { cell: ManifestCell; position: number }[] = [];
  raw.forEach((entry: unknown, position: number) => {
    const cell = toManifestCell(entry, position);
    // The engine keeps the first entry of an id and reports the others: the editor must
    // show the cells the server knows, or ids would map to the wrong files.
    if (cell === undefined || seen.has(cell.id)) return;
    seen.add(cell.id);
    cells.push({ cell, position });
  });
  cells.sort((a, b) => a.cell.order - b.cell.order || a.position - b.position);
  const notebookId = typeof document.notebook_id === 'string' && document.notebook_id ? document.notebook_id : path.basename(directory);
  const name = typeof document.name === 'string' ? document.name : path.basename(directory);
  return { notebookId, name, cells: cells.map((item) => item.cell) };
}

function toManifestCell(entry: unknown, position: number): ManifestCell | undefined {
  if (!isRecord(entry) || typeof entry.id !== 'string') return undefined;
  return {
    id: entry.id,
    file: typeof entry.file === 'string' ? entry.file : `${entry.id}.py`,
    language: isCellLanguage(entry.language) ? entry.language : DEFAULT_LANGUAGE,
    order: typeof entry.order === 'number' ? entry.order : position,
  };
}

/** The whole notebook as a bundle (sources with one trailing newline removed, see below). */
export async function readNotebook(directory: string): Promise<Bundle> {
  const manifest = await readManifestCells(directory);
  const cells = await Promise.all(
    manifest.cells.map(async (cell): Promise<BundleCell> => {
      const text = await readCellFile(directory, cell.file);
      return text === undefined
        ? { id: cell.id, file: cell.file, language: cell.language, source: '', missing: true }
        : { id: cell.id, file: cell.file, language: cell.language, source: toCellSource(text) };
    }),
  );
  return makeBundle(directory, manifest.notebookId, manifest.name, cells);
}

// A cell editor shows a file's final newline as an empty last line; cells hide it and
// saving puts it back, so an unedited file is never rewritten.
export function toCellSource(fileText: string): string {
  return fileText.replace(/\r?\n$/, '');
}
export function toFileText(source: string): string {
  return source === '' || source.endsWith('\n') ? source : `${source}\n`;
}

/** The cell file's path if it stays inside cells/ and cells/ inside the notebook (symlinks
 * resolved), like the engine's rule. */
async function resolveCellPath(directory: string, file: string): Promise<string | undefined> {
  if (!file || file.includes('\0') || path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) return undefined;
  const root = await fs.realpath(directory).catch(() => directory);
  const cellsDir = await fs.realpath(path.join(directory, CELLS_DIR)).catch(() => path.join(directory, CELLS_DIR));
  if (!cellsDir.startsWith(root + path.sep)) return undefined;
  const candidate = path.join(cellsDir, file);
  const real = await fs.realpath(candidate).catch(() => candidate);
  return real.startsWith(cellsDir + path.sep) ? real : undefined;
}

// Fatal: a file that is not UTF-8 would come back corrupted from an editor that decoded it
// with replacement characters. The BOM is kept so saving writes it back.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A cell file's text; undefined when it is outside cells/, missing, not a regular file (a
 * FIFO would block the read forever) or not UTF-8, the cases the engine reports. */
export async function readCellFile(directory: string, file: string): Promise<string | undefined> {
  const target = await resolveCellPath(directory, file);
  if (target === undefined || !(await fs.stat(target).then((stat) => stat.isFile(), () => false))) return undefined;
  const data = await fs.readFile(target).catch(() => undefined);
  if (data === undefined) return undefined;
  try {
    return UTF8.decode(data);
  } catch {
    return undefined;
  }
}
