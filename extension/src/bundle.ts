// The notebook "bundle": the one virtual file that the `strata:` file system shows for a
// notebook directory. VS Code's NotebookSerializer only ever sees bytes, never a URI, so
// everything the serializer needs (the directory, each cell's id, file and language) travels
// inside the bundle. Neither side of the bundle touches the disk: see fileSystem.ts.
import { realpathSync } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { CellLanguage, DEFAULT_LANGUAGE, isCellLanguage } from './languages';
import type { CachedCell } from './protocol';

export const SCHEME = 'strata';
export const NOTEBOOK_TYPE = 'strata-notebook';
export const BUNDLE_EXTENSION = '.strata';
const FORMAT = 'strata-bundle@1';

export interface BundleCell {
  id: string;
  /** Path under cells/; empty for a cell added in the editor that has no file yet. */
  file: string;
  language: CellLanguage;
  source: string;
  /** The manifest names a file that does not exist (shown as an empty cell). */
  missing?: boolean;
  /** The cached result of the cell's current source, when the server had one at read time:
   * the notebook opens with its outputs in place. Never written back. */
  cached?: CachedCell;
}

export interface Bundle {
  format: typeof FORMAT;
  directory: string;
  notebookId: string;
  name: string;
  cells: BundleCell[];
  /** Which read of the directory the editor's cells came from (fileSystem.ts): a save merges
   * with notebook.toml as it is now against the cells that read gave the editor. */
  load?: BundleLoad;
}

export interface BundleLoad {
  /** Names the read; the file system keeps the cell ids the editor has seen under it. */
  token: string;
  /** The cell ids of that read, for when the token is no longer known (hot exit). */
  ids: string[];
}

export function makeBundle(directory: string, notebookId: string, name: string, cells: BundleCell[]): Bundle {
  return { format: FORMAT, directory, notebookId, name, cells };
}

export function formatBundle(bundle: Bundle): string {
  return JSON.stringify(bundle, null, 1);
}

export function parseBundle(text: string): Bundle {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not a Strata notebook bundle: ${String(error)}`);
  }
  if (!isRecord(value) || value.format !== FORMAT || typeof value.directory !== 'string' || !Array.isArray(value.cells)) {
    throw new Error('not a Strata notebook bundle (open the notebook folder with "Open as Strata Notebook")');
  }
  const cells = value.cells.map((cell: unknown, index: number): BundleCell => {
    if (!isRecord(cell) || typeof cell.id !== 'string' || typeof cell.source !== 'string') {
      throw new Error(`bundle cell #${index + 1} has no id or source`);
    }
    const language = isCellLanguage(cell.language) ? cell.language : DEFAULT_LANGUAGE;
    const parsed: BundleCell = { id: cell.id, file: typeof cell.file === 'string' ? cell.file : '', language, source: cell.source };
    if (isRecord(cell.cached)) parsed.cached = cell.cached as unknown as CachedCell;
    return parsed;
  });
  const asText = (field: unknown): string => (typeof field === 'string' ? field : '');
  const bundle = makeBundle(value.directory, asText(value.notebookId), asText(value.name), cells);
  const load = parseLoad(value.load);
  if (load !== undefined) bundle.load = load;
  return bundle;
}

export function parseLoad(value: unknown): BundleLoad | undefined {
  if (!isRecord(value) || typeof value.token !== 'string' || !Array.isArray(value.ids)) return undefined;
  return { token: value.token, ids: value.ids.filter((id): id is string => typeof id === 'string') };
}

/** `strata:/abs/dir/<dir name>.strata`: the name makes the tab read like the notebook. The
 * directory is canonical (symlinks resolved) so each notebook has one URI, and the server,
 * which resolves paths the same way, names it identically. */
export function bundleUri(directory: string): vscode.Uri {
  let normalized = path.resolve(directory);
  try {
    normalized = realpathSync(normalized);
  } catch {
    // Not there (yet): opening reports it.
  }
  return vscode.Uri.from({ scheme: SCHEME, path: `${normalized}/${path.basename(normalized)}${BUNDLE_EXTENSION}` });
}

/** The notebook directory a bundle URI stands for, or undefined for any other `strata:` path. */
export function directoryOf(uri: vscode.Uri): string | undefined {
  if (uri.scheme !== SCHEME || !uri.path.endsWith(BUNDLE_EXTENSION)) return undefined;
  return path.dirname(uri.path);
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
