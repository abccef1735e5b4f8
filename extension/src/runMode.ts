// Run mode: a notebook whose directory holds `strata.lock` (written by `strata freeze`) is a
// snapshot. It opens read-only (the `strata:` file system reports its bundle as readonly, see
// fileSystem.ts), a status bar item says so, and "Strata: Copy to Workspace..." makes an
// editable copy under a new name. Running is refused too (runs.ts asks `refuseRunInRunMode`
// before every run): a run could replace the outputs the lock pins. The lock itself comes from
// the server (`strata/lock`); the extension only renders it.
import { existsSync, promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { notebookMetadata } from './metadata';
import { isStrataNotebook, openNotebookDirectory } from './opening';
import { StrataServer } from './server';

export const LOCK_FILE = 'strata.lock';
const LOCK_METHOD = 'strata/lock';
/** What the copy keeps of `.strata/`: the content-addressed store, so outputs stay cached. */
const STORE_DIR = path.join('.strata', 'artifacts');
/** Runtime files of a live store: locks and half-written blobs belong to the original. */
const STORE_RUNTIME = new Set(['gc.lock', 'leases', 'tmp']);

export interface LockedCell {
  key: string;
  environment: string;
  reads_mounts: boolean;
  outputs: Record<string, { digest: string; content_type: string }>;
}

export interface NotebookLock {
  version: number;
  notebook_id: string;
  frozen_at: string;
  environment: string;
  cells: Record<string, LockedCell>;
}

const COPY_ACTION = 'Copy to Workspace...';
const refusals = new vscode.EventEmitter<string>();
/** Fires with the directory of a frozen notebook whose run was refused. */
export const onDidRefuseRun = refusals.event;

export function runRefusedMessage(directory: string): string {
  return `Strata: ${path.basename(directory)} is frozen (${LOCK_FILE}) and open in Run mode: running it could change the outputs the lock pins, so it does not run. Use "${COPY_ACTION}" to run an editable copy.`;
}

/**
 * Run mode blocks running: true (and the user is told, with the way out) when `directory` is
 * frozen. Every run of the editor (controller, commands) asks before it starts.
 */
export function refuseRunInRunMode(directory: string): boolean {
  if (!isFrozen(directory)) return false;
  refusals.fire(directory);
  void vscode.window.showErrorMessage(runRefusedMessage(directory), COPY_ACTION).then((choice) => {
    if (choice === COPY_ACTION) void vscode.commands.executeCommand('strata.copyToWorkspace');
  });
  return true;
}

/** Whether a notebook directory is frozen; synchronous because `stat` asks on every read. */
export function isFrozen(directory: string): boolean {
  return existsSync(path.join(directory, LOCK_FILE));
}

/** "2026-12-02 03:13 UTC" from the lock's `frozen_at`; the raw text if it is not a date. */
export function frozenDate(frozenAt: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(frozenAt);
  return match ? `${match[1]} ${match[2]} UTC` : frozenAt;
}

export function runModeText(lock: Pick<NotebookLock, 'frozen_at'>): string {
  return `$(lock) Run mode (frozen ${frozenDate(lock.frozen_at)})`;
}

export function runModeTooltip(lock: NotebookLock): string {
  const cells = Object.keys(lock.cells).length;
  return [
    `Frozen by strata freeze on ${frozenDate(lock.frozen_at)}: ${cells} cell${cells === 1 ? '' : 's'} locked to their keys and output digests (environment ${lock.environment.slice(0, 12)}).`,
    'This notebook is read-only. Click to copy it to a new, editable notebook.',
  ].join('\n\n');
}

/**
 * Why NAME cannot be the copy's folder name beside the notebook (undefined: it can). `exists`
 * says whether the path is taken; kept a parameter so the rule is testable without a disk.
 */
export function copyNameProblem(name: string, exists: (candidate: string) => boolean, parent: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return 'Type a folder name for the copy.';
  if (/[\\/:*?"<>|]/.test(trimmed) || trimmed === '.' || trimmed === '..') return `"${trimmed}" is not a folder name: use letters, digits, "-" or "_", without "/".`;
  if (trimmed.startsWith('.')) return `"${trimmed}" would be a hidden folder: choose a name without a leading ".".`;
  const target = path.join(parent, trimmed);
  if (exists(target)) return `${target} already exists: choose another name (Copy to Workspace never overwrites).`;
  return undefined;
}

/** A free default name for the copy: `<name>-copy`, `<name>-copy-2`, ... */
export function defaultCopyName(directory: string, exists: (candidate: string) => boolean): string {
  const base = `${path.basename(directory)}-copy`;
  for (let n = 1; ; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (!exists(path.join(path.dirname(directory), name))) return name;
  }
}

/** Whether `source` (inside `directory`) goes into the copy: not the lock, and of `.strata/` only the store's data. */
export function copiedInCopy(directory: string, source: string): boolean {
  const relative = path.relative(directory, source);
  if (relative === '') return true;
  if (relative === LOCK_FILE) return false;
  const parts = relative.split(path.sep);
  if (parts[0] !== '.strata') return true;
  if (parts.length === 1) return true;
  if (parts.length === 2) return parts[1] === '.gitignore' || parts[1] === 'artifacts';
  return relative.startsWith(STORE_DIR + path.sep) && !STORE_RUNTIME.has(parts[2]);
}

/** Copies a frozen notebook to `<parent>/<name>` (never over an existing path) and returns the copy's directory. */
export async function copyNotebook(directory: string, name: string): Promise<string> {
  const parent = path.dirname(directory);
  const problem = copyNameProblem(name, existsSync, parent);
  if (problem !== undefined) throw new Error(problem);
  const target = path.join(parent, name.trim());
  await fs.cp(directory, target, { recursive: true, errorOnExist: true, force: false, filter: (source) => copiedInCopy(directory, source) });
  return target;
}

export class RunMode implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('strata.runMode', vscode.StatusBarAlignment.Left, 90);
  private readonly disposables: vscode.Disposable[] = [];
  private generation = 0;
  private shown = false;
  /** Fires with the directory of a frozen notebook whose run was refused. */
  readonly onDidRefuseRun = onDidRefuseRun;

  constructor(private readonly server: StrataServer) {
    this.item.name = 'Strata Run Mode';
    this.item.command = 'strata.copyToWorkspace';
    this.disposables.push(
      this.item,
      vscode.window.onDidChangeActiveNotebookEditor(() => void this.refresh()),
      server.onDidStart(() => void this.refresh()),
      vscode.commands.registerCommand('strata.copyToWorkspace', (target?: string) => this.copyToWorkspace(target)),
    );
    void this.refresh();
  }

  /** The lock of a frozen notebook (undefined: not frozen). */
  async lock(directory: string): Promise<NotebookLock | undefined> {
    if (!isFrozen(directory)) return undefined;
    return (await this.server.request<NotebookLock | null>(LOCK_METHOD, { notebook: directory })) ?? undefined;
  }

  /** Shows the item for the notebook in front when it is frozen; exposed for tests. */
  async refresh(): Promise<void> {
    const generation = ++this.generation;
    const directory = metadataDirectory(vscode.window.activeNotebookEditor?.notebook);
    if (directory === undefined || !isFrozen(directory)) {
      this.item.hide();
      this.shown = false;
      return;
    }
    // Shown at once from the file; the date and tooltip follow when the server answers.
    this.item.text = '$(lock) Run mode';
    this.item.tooltip = 'This notebook is frozen (strata.lock): read-only. Click to copy it to a new, editable notebook.';
    this.item.show();
    this.shown = true;
    const lock = await this.lock(directory).catch(() => undefined);
    if (lock === undefined || generation !== this.generation) return;
    this.item.text = runModeText(lock);
    this.item.tooltip = runModeTooltip(lock);
  }

  /** The item's text while it shows (tests). */
  get statusText(): string | undefined {
    return this.shown ? this.item.text : undefined;
  }

  /** Asks for a name (or takes `target`, for tests), copies and opens the copy. */
  async copyToWorkspace(target?: string): Promise<string | undefined> {
    const directory = metadataDirectory(vscode.window.activeNotebookEditor?.notebook);
    if (directory === undefined) {
      void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
      return undefined;
    }
    const parent = path.dirname(directory);
    const name = typeof target === 'string' ? target : await vscode.window.showInputBox({
      title: 'Copy to Workspace',
      prompt: `An editable copy (without ${LOCK_FILE}, with its cached outputs) is created in ${parent}`,
      value: defaultCopyName(directory, existsSync),
      validateInput: (value) => copyNameProblem(value, existsSync, parent),
    });
    if (!name) return undefined;
    let copy: string;
    try {
      // The store can be large: say what is happening while it copies.
      copy = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Strata: copying ${path.basename(directory)} to ${name.trim()}...` },
        () => copyNotebook(directory, name),
      );
    } catch (error) {
      void vscode.window.showErrorMessage(`Strata: could not copy the notebook: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
    await openNotebookDirectory(copy);
    return copy;
  }

  dispose(): void {
    this.disposables.forEach((disposable) => void disposable.dispose());
  }
}

function metadataDirectory(notebook: vscode.NotebookDocument | undefined): string | undefined {
  return isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
}
