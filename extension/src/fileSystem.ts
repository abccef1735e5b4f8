// The `strata:` file system: each notebook directory appears as one virtual file
// (`<dir>/<dir name>.strata`) whose content is a bundle of the cell list and sources.
// VS Code then does what it does for any notebook file: dirty tracking, save, revert, hot
// exit backups, undo. Saving splits the bundle back into cell files (notebookSave.ts), so
// `git diff` shows one changed cell file per edited cell.
//
// Outside edits: notebook.toml and cells/ are watched through VS Code's file watcher (one
// implementation on every platform and in remote windows, honouring files.watcherExclude) and
// directly (directoryWatch.ts: VS Code's watcher can give up for good); a change is reported only when the bundle read from disk differs from the one VS Code last
// read or wrote. Comparing content, not timestamps, is what keeps our own writes from
// bouncing back as "changed on disk".
import { randomUUID } from 'crypto';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Bundle, bundleUri, BUNDLE_EXTENSION, directoryOf, formatBundle, parseBundle } from './bundle';
import { DirectoryWatch, directoriesUnder } from './directoryWatch';
import { CELLS_DIR, MANIFEST, NotebookFormatError, readNotebook } from './notebookDir';
import { NotebookWriter, saveNotebook } from './notebookSave';
import type { CachedCell } from './protocol';
import { isFrozen } from './runMode';

const SETTLE_MS = 30;
/** Reads whose cell ids are remembered for merging saves (one per open or reload). */
const MAX_LOADS = 500;

/** The cached results of a notebook's cells, if the server can answer now (else undefined). */
export type CachedResults = (directory: string) => Promise<CachedCell[] | undefined>;

export class StrataFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;
  /** Per directory: the bundle text VS Code last read or wrote. */
  private readonly known = new Map<string, string>();
  private readonly writing = new Set<string>();
  private readonly watchers = new Map<string, { users: number; watchers: vscode.Disposable[]; timer?: NodeJS.Timeout }>();
  private readonly saved = new vscode.EventEmitter<{ directory: string; cellIds: string[] }>();
  /** Fired after a save wrote cell files (tests and the status bar listen). */
  readonly onDidSave = this.saved.event;
  /** Per read (bundle `load.token`): the cell ids the editor holding it has seen. */
  private readonly seen = new Map<string, ReadonlySet<string>>();
  /** Directories whose last save kept cells the editor does not show: reload it once saved. */
  private readonly reloadAfterSave = new Set<string>();
  /** Per directory: bumped to make VS Code see the bundle as changed (see stat). */
  private readonly generation = new Map<string, number>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly writer: NotebookWriter,
    private readonly cachedResults: CachedResults,
  ) {
    this.subscriptions.push(vscode.workspace.onDidSaveNotebookDocument((notebook) => this.reloadIfMerged(notebook.uri)));
  }

  // -- reading -------------------------------------------------------------------------------
  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const directory = directoryOf(uri);
    if (directory === undefined) {
      const stat = await fs.stat(uri.path).catch(() => undefined);
      if (stat?.isDirectory()) return { type: vscode.FileType.Directory, ctime: stat.ctimeMs, mtime: stat.mtimeMs, size: 0 };
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    // mtime/size stand for the manifest and cells/ so VS Code's "file changed on disk" checks
    // see edits to any cell file, including deletions (which change cells/'s mtime). Not the
    // directory's own mtime: the engine creating .strata/ there is no change to the notebook.
    const parts = [path.join(directory, MANIFEST), path.join(directory, CELLS_DIR)];
    const entries = await fs.readdir(path.join(directory, CELLS_DIR)).catch(() => [] as string[]);
    parts.push(...entries.map((entry) => path.join(directory, CELLS_DIR, entry)));
    const stats = await Promise.all(parts.map((part) => fs.stat(part).catch(() => undefined)));
    if (stats[0] === undefined) throw vscode.FileSystemError.FileNotFound(uri);
    const present = stats.filter((stat) => stat !== undefined);
    return {
      type: vscode.FileType.File,
      // A frozen notebook (strata.lock) opens read-only: VS Code honours this per file.
      permissions: isFrozen(directory) ? vscode.FilePermission.Readonly : undefined,
      ctime: stats[0].ctimeMs,
      mtime: Math.max(...present.map((stat) => stat.mtimeMs)),
      size: present.reduce((sum, stat) => sum + (stat.isFile() ? stat.size : 0), 0) + (this.generation.get(directory) ?? 0),
    };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    const hasManifest = await fs.stat(path.join(uri.path, MANIFEST)).then(() => true, () => false);
    return hasManifest ? [[`${path.basename(uri.path)}${BUNDLE_EXTENSION}`, vscode.FileType.File]] : [];
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const directory = this.directory(uri);
    const [bundle, cached] = await Promise.all([this.readBundle(directory, uri), this.cachedResults(directory).catch(() => undefined)]);
    this.known.set(directory, formatBundle(bundle));
    const load = { token: randomUUID(), ids: bundle.cells.map((cell) => cell.id) };
    this.remember(load.token, load.ids);
    // Outputs ride along so the notebook opens with them; they are not part of the content.
    const byId = new Map((cached ?? []).map((cell) => [cell.cellId, cell]));
    const withOutputs = { ...bundle, load, cells: bundle.cells.map((cell) => ({ ...cell, cached: byId.get(cell.id) })) };
    return Buffer.from(formatBundle(withOutputs), 'utf8');
  }

  private async readBundle(directory: string, uri: vscode.Uri): Promise<Bundle> {
    try {
      return await readNotebook(directory);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw vscode.FileSystemError.FileNotFound(uri);
      if (error instanceof NotebookFormatError) throw vscode.FileSystemError.Unavailable(error.message);
      throw error;
    }
  }

  // -- writing -------------------------------------------------------------------------------
  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const directory = this.directory(uri);
    if (isFrozen(directory)) throw vscode.FileSystemError.NoPermissions(`${directory} is frozen (strata.lock): use "Strata: Copy to Workspace..." to edit a copy`);
    const bundle = { ...parseBundle(Buffer.from(content).toString('utf8')), directory };
    this.writing.add(directory);
    try {
      const { load } = bundle;
      const seen = load === undefined ? undefined : (this.seen.get(load.token) ?? new Set(load.ids));
      const result = await saveNotebook(bundle, this.writer, seen);
      // The editor has now seen exactly its own cells; the ones kept for others it sees on reload.
      if (load !== undefined) this.remember(load.token, bundle.cells.map((cell) => cell.id));
      if (result.kept.length > 0) this.reloadAfterSave.add(directory);
      this.known.set(directory, formatBundle(await this.readBundle(directory, uri)));
      this.saved.fire({ directory, cellIds: result.written });
    } catch (error) {
      if (error instanceof vscode.FileSystemError) throw error;
      throw vscode.FileSystemError.Unavailable(error instanceof Error ? error.message : String(error));
    } finally {
      this.writing.delete(directory);
    }
  }

  private remember(token: string, ids: readonly string[]): void {
    this.seen.delete(token);
    this.seen.set(token, new Set(ids));
    if (this.seen.size > MAX_LOADS) this.seen.delete(this.seen.keys().next().value!);
  }

  /**
   * After a save that kept another process's cells, VS Code holds the editor's cells as saved
   * and its last stat as current, so it would not reload: a new generation changes the stat
   * (its size), and the change event then makes VS Code read the bundle again.
   */
  private reloadIfMerged(uri: vscode.Uri): void {
    const directory = directoryOf(uri);
    if (directory === undefined || !this.reloadAfterSave.delete(directory)) return;
    this.generation.set(directory, (this.generation.get(directory) ?? 0) + 1);
    this.changed.fire([{ type: vscode.FileChangeType.Changed, uri: bundleUri(directory) }]);
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }
  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  // -- watching ------------------------------------------------------------------------------
  watch(uri: vscode.Uri): vscode.Disposable {
    const directory = directoryOf(uri);
    if (directory === undefined) return new vscode.Disposable(() => undefined);
    let entry = this.watchers.get(directory);
    if (entry === undefined) {
      entry = { users: 0, watchers: watchNotebookFiles(directory, () => this.schedule(directory)) };
      this.watchers.set(directory, entry);
    }
    entry.users++;
    return new vscode.Disposable(() => {
      const current = this.watchers.get(directory);
      if (current === undefined || --current.users > 0) return;
      current.watchers.forEach((watcher) => void watcher.dispose());
      clearTimeout(current.timer);
      this.watchers.delete(directory);
    });
  }

  /**
   * Compares the disk with what VS Code shows now, for a caller that just wrote a notebook's
   * files itself (an agent's edit) and need not wait for a watcher to notice.
   */
  refresh(directory: string): Promise<void> {
    return this.check(directory);
  }

  private schedule(directory: string): void {
    const entry = this.watchers.get(directory);
    if (entry === undefined) return;
    // Editors and git write several files in a burst: look once it settles.
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => void this.check(directory), SETTLE_MS);
  }

  private async check(directory: string): Promise<void> {
    if (this.writing.has(directory)) return;
    let text: string;
    try {
      text = formatBundle(await readNotebook(directory));
    } catch {
      return; // a half-written or broken manifest: wait for the next event
    }
    if (this.writing.has(directory) || text === this.known.get(directory)) return;
    this.known.set(directory, text);
    this.changed.fire([{ type: vscode.FileChangeType.Changed, uri: bundleUri(directory) }]);
  }

  private directory(uri: vscode.Uri): string {
    const directory = directoryOf(uri);
    if (directory === undefined) throw vscode.FileSystemError.FileNotFound(uri);
    return directory;
  }

  dispose(): void {
    for (const entry of this.watchers.values()) {
      entry.watchers.forEach((watcher) => void watcher.dispose());
      clearTimeout(entry.timer);
    }
    this.watchers.clear();
    this.subscriptions.forEach((subscription) => void subscription.dispose());
    this.changed.dispose();
    this.saved.dispose();
  }
}

/**
 * Watches a notebook's manifest and cell files. Two patterns rather than one recursive watch
 * of the directory: that would also watch `.strata/`, whose store churns on every run. cells/
 * is watched recursively (a cell file may sit in a subfolder); a cells/ created later shows up
 * through notebook.toml, which lists its cells. The direct watch sees the notebook directory's
 * own entries (notebook.toml, cells/) and every directory under cells/.
 */
function watchNotebookFiles(directory: string, onEvent: () => void): vscode.Disposable[] {
  const base = vscode.Uri.file(directory);
  const patterns = [new vscode.RelativePattern(base, MANIFEST), new vscode.RelativePattern(vscode.Uri.joinPath(base, CELLS_DIR), '**')];
  const disposables: vscode.Disposable[] = [];
  for (const pattern of patterns) {
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    disposables.push(watcher, watcher.onDidChange(onEvent), watcher.onDidCreate(onEvent), watcher.onDidDelete(onEvent));
  }
  const cells = path.join(directory, CELLS_DIR);
  const relevant = (file: string | undefined, watched: string): boolean =>
    watched !== directory || file === undefined || [MANIFEST, CELLS_DIR].includes(path.basename(file));
  disposables.push(new DirectoryWatch(() => [directory, ...directoriesUnder(cells)], (file, watched) => relevant(file, watched) && onEvent()));
  return disposables;
}
