// Reading a notebook directory into a bundle, and writing a bundle back as cell files.
// Only the cell list of notebook.toml is read here (SPEC 2: id, file, language, order);
// the manifest itself is written by the engine (manifest.ts), so its round-trip rules live
// in one place.
import { promises as fs } from 'fs';
import * as path from 'path';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import { Bundle, BundleCell, CELL_LANGUAGES, CellLanguage, isRecord, makeBundle } from './bundle';

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

/** What a structural save asks the engine to write (cells in notebook order). */
export type ManifestWriter = (directory: string, cells: ManifestCell[]) => Promise<void>;

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
  const raw = Array.isArray(document.cells) ? document.cells : [];
  const cells = raw
    .map((entry: unknown, position: number) => ({ cell: toManifestCell(entry, position), position }))
    .filter((item): item is { cell: ManifestCell; position: number } => item.cell !== undefined)
    // The engine's order: `order`, ties broken by position in the manifest.
    .sort((a, b) => a.cell.order - b.cell.order || a.position - b.position)
    .map((item) => item.cell);
  const notebookId = typeof document.notebook_id === 'string' && document.notebook_id ? document.notebook_id : path.basename(directory);
  const name = typeof document.name === 'string' ? document.name : path.basename(directory);
  return { notebookId, name, cells };
}

function toManifestCell(entry: unknown, position: number): ManifestCell | undefined {
  if (!isRecord(entry) || typeof entry.id !== 'string') return undefined;
  const language = CELL_LANGUAGES.includes(entry.language as CellLanguage) ? (entry.language as CellLanguage) : 'python';
  return {
    id: entry.id,
    file: typeof entry.file === 'string' ? entry.file : `${entry.id}.py`,
    language,
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
function toFileText(source: string): string {
  return source === '' || source.endsWith('\n') ? source : `${source}\n`;
}

/** The cell file's path if it stays inside cells/ (symlinks resolved), like the engine's rule. */
export async function resolveCellPath(directory: string, file: string): Promise<string | undefined> {
  if (!file || path.isAbsolute(file) || file.split(/[\\/]/).includes('..')) return undefined;
  const cellsDir = await fs.realpath(path.join(directory, CELLS_DIR)).catch(() => path.join(directory, CELLS_DIR));
  const candidate = path.join(cellsDir, file);
  const real = await fs.realpath(candidate).catch(() => candidate);
  return real.startsWith(cellsDir + path.sep) ? real : undefined;
}

async function readCellFile(directory: string, file: string): Promise<string | undefined> {
  const target = await resolveCellPath(directory, file);
  if (target === undefined) return undefined;
  return fs.readFile(target, 'utf8').catch(() => undefined);
}

/**
 * Write a bundle back to its directory: changed cell files first (atomically), then the
 * manifest through the engine only when the cell list changed (add, delete, move, language),
 * then the files of deleted cells. Returns the ids of cells whose file was written.
 */
export async function writeNotebook(bundle: Bundle, writeManifest: ManifestWriter): Promise<string[]> {
  const directory = bundle.directory;
  const before = (await readManifestCells(directory)).cells;
  const known = new Map(before.map((cell) => [cell.id, cell]));
  const usedFiles = new Set(before.map((cell) => cell.file));
  const after: ManifestCell[] = [];
  const written: string[] = [];
  for (const cell of bundle.cells) {
    const existing = known.get(cell.id);
    const file = existing?.file ?? allocateFile(cell, usedFiles);
    usedFiles.add(file);
    const target = await resolveCellPath(directory, file);
    if (target === undefined) throw new NotebookFormatError(`cell ${cell.id}: refusing to write ${file} outside cells/`);
    const onDisk = await fs.readFile(target, 'utf8').catch(() => undefined);
    const unchanged = onDisk === undefined ? existing !== undefined && cell.source === '' : toCellSource(onDisk) === cell.source;
    if (!unchanged) {
      await atomicWrite(target, toFileText(cell.source));
      written.push(cell.id);
    }
    after.push({ id: cell.id, file, language: cell.language, order: existing?.order ?? Number.NaN });
  }
  if (isStructuralChange(before, after)) {
    const orders = assignOrders(after.map((cell) => cell.order));
    await writeManifest(directory, after.map((cell, i) => ({ ...cell, order: orders[i] })));
    const kept = new Set(after.map((cell) => cell.file));
    for (const removed of before.filter((cell) => !after.some((c) => c.id === cell.id) && !kept.has(cell.file))) {
      const target = await resolveCellPath(directory, removed.file);
      if (target !== undefined) await fs.rm(target, { force: true });
    }
  }
  return written;
}

function isStructuralChange(before: ManifestCell[], after: ManifestCell[]): boolean {
  const shape = (cells: ManifestCell[]): string => JSON.stringify(cells.map((c) => [c.id, c.file, c.language]));
  return shape(before) !== shape(after);
}

const EXTENSIONS: Record<CellLanguage, string> = { python: '.py', sql: '.sql', prompt: '.prompt', markdown: '.md', r: '.R' };

function allocateFile(cell: BundleCell, used: Set<string>): string {
  const safeId = cell.id.replace(/[^A-Za-z0-9_.-]/g, '_') || 'cell';
  const extension = EXTENSIONS[cell.language];
  let candidate = `${safeId}${extension}`;
  for (let n = 2; used.has(candidate); n++) candidate = `${safeId}_${n}${extension}`;
  return candidate;
}

/**
 * Orders for cells in their new sequence, given each cell's old order (NaN for new cells).
 * The longest run of old orders that is still increasing is kept, so moving one cell or
 * inserting one rewrites only that cell's `order` in notebook.toml; the others get values
 * between their kept neighbours.
 */
export function assignOrders(old: number[]): number[] {
  const keep = longestIncreasing(old);
  const result = old.map((value, i) => (keep.has(i) ? value : Number.NaN));
  let i = 0;
  while (i < result.length) {
    if (!Number.isNaN(result[i])) {
      i++;
      continue;
    }
    let j = i;
    while (j < result.length && Number.isNaN(result[j])) j++;
    const low = i > 0 ? result[i - 1] : undefined;
    const high = j < result.length ? result[j] : undefined;
    const gap = j - i;
    for (let k = 1; k <= gap; k++) {
      result[i + k - 1] =
        low === undefined && high === undefined ? k
        : low === undefined ? high! - (gap - k + 1)
        : high === undefined ? low + k
        : low + ((high - low) * k) / (gap + 1);
    }
    i = j;
  }
  return result;
}

function longestIncreasing(values: number[]): Set<number> {
  // O(n^2) is plenty for notebooks; indices of one longest strictly increasing subsequence.
  const length = values.map(() => 0);
  const previous = values.map(() => -1);
  let best = -1;
  values.forEach((value, i) => {
    if (Number.isNaN(value)) return;
    length[i] = 1;
    for (let j = 0; j < i; j++) {
      if (!Number.isNaN(values[j]) && values[j] < value && length[j] + 1 > length[i]) {
        length[i] = length[j] + 1;
        previous[i] = j;
      }
    }
    if (best < 0 || length[i] > length[best]) best = i;
  });
  const kept = new Set<number>();
  for (let i = best; i >= 0; i = previous[i]) kept.add(i);
  return kept;
}

/** Temp file + rename in the same directory, keeping the file's mode. */
export async function atomicWrite(target: string, text: string): Promise<void> {
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const mode = await fs.stat(target).then((stat) => stat.mode, () => undefined);
  await fs.mkdir(path.dirname(target), { recursive: true });
  try {
    await fs.writeFile(temp, text, { encoding: 'utf8', mode });
    await fs.rename(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}
