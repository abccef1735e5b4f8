// Saving a bundle back to its directory. What is written, and where, follows the engine's
// rules because the engine writes it (engine.ts: python/write_cells.py for cell files, with
// path confinement and atomic writes; python/write_manifest.py for notebook.toml, with its
// round trip). This module only decides what changed, and for cells added in the editor
// their file names and `order` values.
import { Bundle, BundleCell } from './bundle';
import { presentation } from './languages';
import { ManifestCell, readCellFile, readManifestCells, toCellSource, toFileText } from './notebookDir';

export interface CellFileText {
  id: string;
  file: string;
  text: string;
}

/** The engine's writes a save needs. */
export interface NotebookWriter {
  /** Write cell files (paths under cells/); refuses any that resolves outside it. */
  writeCells(directory: string, cells: CellFileText[]): Promise<void>;
  /** notebook.toml's cell list, in notebook order. */
  writeManifest(directory: string, cells: ManifestCell[]): Promise<void>;
  /** Delete cell files (paths under cells/) of deleted cells. */
  removeCellFiles(directory: string, files: string[]): Promise<void>;
}

/** What a save did. */
export interface SaveResult {
  /** Ids of cells whose file was written. */
  written: string[];
  /** Ids of cells another process added since this editor loaded the notebook: kept in
   * notebook.toml although the editor does not show them (it should reload). */
  kept: string[];
}

/**
 * Write a bundle back to its directory: changed cell files first, then the manifest only
 * when the cell list changed (add, delete, move, language), then the files of deleted
 * cells, so a crash in between never leaves the manifest naming a file that is not there.
 *
 * `base` is the ids of the cells this editor loaded (or last saved). The cell list is a
 * three-way merge of it, the editor's cells and notebook.toml as it is now: a cell on disk
 * the editor never saw was added by another editor, an agent or the CLI, and is kept in
 * place with its file untouched; only cells the editor saw and removed are deleted. Without
 * a base (a bundle from elsewhere) the editor's list is the whole notebook.
 */
export async function saveNotebook(bundle: Bundle, writer: NotebookWriter, base?: ReadonlySet<string>): Promise<SaveResult> {
  const directory = bundle.directory;
  const before = (await readManifestCells(directory)).cells;
  const known = new Map(before.map((cell) => [cell.id, cell]));
  const usedFiles = new Set(before.map((cell) => cell.file));
  const ours = new Map<string, ManifestCell>();
  const changed: CellFileText[] = [];
  for (const cell of bundle.cells) {
    const existing = known.get(cell.id);
    const file = existing?.file ?? allocateFile(cell, usedFiles);
    usedFiles.add(file);
    // Compared as the editor shows it (final newline hidden), so an untouched file is never
    // rewritten; an unreadable one (missing, not UTF-8) only when the cell was given text.
    const onDisk = await readCellFile(directory, file);
    const unchanged = onDisk === undefined ? existing !== undefined && cell.source === '' : toCellSource(onDisk) === cell.source;
    if (!unchanged) changed.push({ id: cell.id, file, text: toFileText(cell.source) });
    ours.set(cell.id, { id: cell.id, file, language: cell.language, order: existing?.order ?? Number.NaN });
  }
  const merged = mergeCellIds(
    bundle.cells.map((cell) => cell.id),
    before.map((cell) => cell.id),
    base,
  );
  const after = merged.map((id) => ours.get(id) ?? known.get(id)!);
  const kept = merged.filter((id) => !ours.has(id));
  if (changed.length > 0) await writer.writeCells(directory, changed);
  if (isStructuralChange(before, after)) {
    const orders = assignOrders(after.map((cell) => cell.order));
    await writer.writeManifest(directory, after.map((cell, i) => ({ ...cell, order: orders[i] })));
    const stay = new Set(after.map((cell) => cell.id));
    const keptFiles = new Set(after.map((cell) => cell.file));
    const removed = before.filter((cell) => !stay.has(cell.id) && !keptFiles.has(cell.file)).map((cell) => cell.file);
    if (removed.length > 0) await writer.removeCellFiles(directory, removed);
  }
  return { written: changed.map((cell) => cell.id), kept };
}

/**
 * The saved cell sequence, in ids: the editor's cells in its order, plus each cell on disk
 * that is in neither the editor nor its base (someone else added it), placed right after its
 * nearest preceding disk neighbour that is kept (first when there is none). A disk cell in
 * the base but not in the editor was deleted in the editor and is left out. Without a base,
 * the editor's cells alone.
 */
export function mergeCellIds(editor: readonly string[], disk: readonly string[], base: ReadonlySet<string> | undefined): string[] {
  const result = [...editor];
  if (base === undefined) return result;
  const inEditor = new Set(editor);
  let anchor: string | undefined;
  for (const id of disk) {
    if (!inEditor.has(id) && !base.has(id)) {
      result.splice(anchor === undefined ? 0 : result.indexOf(anchor) + 1, 0, id);
      anchor = id;
    } else if (inEditor.has(id)) {
      anchor = id;
    }
  }
  return result;
}

function isStructuralChange(before: ManifestCell[], after: ManifestCell[]): boolean {
  const shape = (cells: ManifestCell[]): string => JSON.stringify(cells.map((c) => [c.id, c.file, c.language]));
  return shape(before) !== shape(after);
}

function allocateFile(cell: BundleCell, used: Set<string>): string {
  const safeId = cell.id.replace(/[^A-Za-z0-9_.-]/g, '_') || 'cell';
  const { suffix } = presentation(cell.language);
  let candidate = `${safeId}${suffix}`;
  for (let n = 2; used.has(candidate); n++) candidate = `${safeId}_${n}${suffix}`;
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
