// Open Strata notebooks: their state from the server, and the outputs of cells whose
// current key is cached, replayed from the store when a notebook opens (nothing runs).
import * as path from 'path';
import * as vscode from 'vscode';
import { directoryOf, NOTEBOOK_TYPE } from './bundle';
import { cellId, notebookMetadata } from './metadata';
import { cachedOutputs, errorOutput, isCached, streamOutput } from './outputs';
import * as P from './protocol';
import { StrataServer } from './server';
import { NotebookStates } from './states';

const SELECTION_TIMEOUT_MS = 10_000;
export const EXTENSION_ID = 'strata.strata-notebooks';

/** One cell's outcome in a run made outside the editor (an agent's tool call), as the engine reports it. */
export interface RanCell {
  cell: string;
  status: string;
  cacheHit: boolean;
  /** The key it ran or was served under: its outputs are looked up by it, not by the text. */
  key?: string;
  durationMs?: number;
  error?: string;
  traceback?: string;
  reason?: string;
  stdout?: string;
  stderr?: string;
}

export interface RestoreOptions {
  /** Only these cells (default: every cell with a current cached result). */
  cellIds?: readonly string[];
  /** Replace outputs shown already, which a run outside the editor made stale. A cell
   * executing in the editor is left to its run. */
  replace?: boolean;
  /** How that run went per cell: a cache hit's badge, an executed cell's duration, a skip. */
  outcomes?: ReadonlyMap<string, RanCell>;
}

export class OpenNotebooks implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly selected = new Set<vscode.NotebookDocument>();
  private readonly selectionWaiters = new Map<vscode.NotebookDocument, () => void>();
  private readonly restored = new vscode.EventEmitter<{ notebook: vscode.NotebookDocument; cellIds: string[] }>();
  /** Fired once cached outputs of a newly opened notebook are shown (tests, benchmark). */
  readonly onDidRestoreOutputs = this.restored.event;

  constructor(
    private readonly server: StrataServer,
    private readonly controller: vscode.NotebookController,
    private readonly states: NotebookStates,
  ) {
    this.subscriptions.push(
      server.onNotification(({ method, params }) => {
        if (method !== P.Methods.notebookState) return;
        const state = params as P.NotebookState;
        states.update(state, serverDirectory(state.notebook));
      }),
      controller.onDidChangeSelectedNotebooks(({ notebook, selected }) => {
        if (selected) {
          this.selected.add(notebook);
          this.selectionWaiters.get(notebook)?.();
        } else {
          this.selected.delete(notebook);
        }
      }),
      vscode.workspace.onDidOpenNotebookDocument((notebook) => this.opened(notebook)),
      vscode.window.onDidChangeVisibleNotebookEditors((editors) => editors.forEach((editor) => void this.selectController(editor))),
      vscode.workspace.onDidCloseNotebookDocument((notebook) => this.closed(notebook)),
    );
    vscode.workspace.notebookDocuments.forEach((notebook) => this.opened(notebook));
    vscode.window.visibleNotebookEditors.forEach((editor) => void this.selectController(editor));
  }

  /** Affinity alone leaves "Select Kernel" showing until the first run; restoring outputs
   * needs the controller now, so select it for every Strata notebook editor that shows up. */
  private async selectController(editor: vscode.NotebookEditor): Promise<void> {
    if (editor.notebook.notebookType !== NOTEBOOK_TYPE || this.selected.has(editor.notebook)) return;
    await vscode.commands.executeCommand('notebook.selectKernel', { notebookEditor: editor, id: this.controller.id, extension: EXTENSION_ID });
  }

  private opened(notebook: vscode.NotebookDocument): void {
    if (notebook.notebookType !== NOTEBOOK_TYPE) return;
    // Our controller is the only one for this notebook type: make it the default.
    this.controller.updateNotebookAffinity(notebook, vscode.NotebookControllerAffinity.Preferred);
    this.restore(notebook).catch((error: unknown) => this.server.output.appendLine(`restoring outputs: ${String(error)}`));
  }

  private closed(notebook: vscode.NotebookDocument): void {
    this.selected.delete(notebook);
    const directory = notebookMetadata(notebook)?.directory;
    const stillOpen = vscode.workspace.notebookDocuments.some((other) => other !== notebook && notebookMetadata(other)?.directory === directory);
    if (directory !== undefined && !stillOpen) this.states.forget(directory);
  }

  /** Show the cached outputs of every cell that is up to date (`strata/cachedOutputs`); with
   * `replace`, the outputs of a run made outside the editor, as an editor run shows them. */
  async restore(notebook: vscode.NotebookDocument, options: RestoreOptions = {}): Promise<string[]> {
    const directory = notebookMetadata(notebook)?.directory;
    if (directory === undefined || options.cellIds?.length === 0) return [];
    // An agent's run names its keys: the server may not have the editor's new text yet.
    const keys = Object.fromEntries([...(options.outcomes?.values() ?? [])].filter((o) => o.key !== undefined).map((o) => [o.cell, o.key]));
    const result = await this.server.request<P.CachedOutputsResult>(P.Methods.cachedOutputs, { notebook: directory, cellIds: options.cellIds ?? [], keys });
    // An agent's call must not wait on a notebook no editor shows (its controller is never selected).
    if (!(options.replace ? this.selected.has(notebook) : await this.controllerSelected(notebook))) return [];
    const cached = new Map(result.cells.map((entry) => [entry.cellId, entry]));
    // All cells at once: each replaceOutput is a round trip to the window.
    const shown = await Promise.all((options.cellIds ?? [...cached.keys()]).map((id) => this.show(notebook, directory, id, cached.get(id), options)));
    const ids = shown.filter((id): id is string => id !== undefined);
    if (!options.replace) this.restored.fire({ notebook, cellIds: ids });
    return ids;
  }

  private async show(notebook: vscode.NotebookDocument, directory: string, id: string, cached: P.CachedCell | undefined, options: RestoreOptions): Promise<string | undefined> {
    const cell = notebook.getCells().find((candidate) => cellId(candidate) === id);
    const outcome = options.outcomes?.get(id);
    const outputs = outcome?.status !== 'skipped' && cached !== undefined ? cachedOutputs(cached, outcome?.cacheHit ?? true) : outcome && outcomeOutputs(outcome);
    if (cell === undefined || cell.kind !== vscode.NotebookCellKind.Code || outputs === undefined) return undefined;
    if (!options.replace && (cell.outputs.length > 0 || cell.executionSummary?.success !== undefined)) {
      // Shown already: the notebook opened with them (fileSystem.ts puts them in the bundle).
      if (cell.outputs.some((output) => isCached(output))) this.states.setLive(directory, id, { cached: true, durationMs: cached?.durationMs });
      return undefined;
    }
    let execution: vscode.NotebookCellExecution;
    try {
      execution = this.controller.createNotebookCellExecution(cell);
    } catch {
      return undefined; // it is running right now
    }
    const durationMs = outcome?.durationMs ?? cached?.durationMs;
    const status = outcome?.status ?? cached?.status;
    // A run's cell shows when it ended and how long it took, as an editor run does.
    const end = outcome !== undefined ? Date.now() : undefined;
    execution.start(end !== undefined ? end - (durationMs ?? 0) : undefined);
    await execution.replaceOutput(outputs);
    execution.end(status === 'ok' ? true : status === 'error' ? false : undefined, end);
    this.states.setLive(directory, id, { cached: outcome?.cacheHit ?? true, durationMs });
    return id;
  }

  private controllerSelected(notebook: vscode.NotebookDocument): Promise<boolean> {
    if (this.selected.has(notebook)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), SELECTION_TIMEOUT_MS);
      const done = (value: boolean): void => {
        clearTimeout(timer);
        this.selectionWaiters.delete(notebook);
        resolve(value);
      };
      this.selectionWaiters.set(notebook, () => done(true));
    });
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.restored.dispose();
  }
}

/** What a run's cell without a current cached result shows: a skip, or a failure. An ok cell
 * without one was edited during the run; its outputs are left as they are. */
function outcomeOutputs(outcome: RanCell): vscode.NotebookCellOutput[] | undefined {
  if (outcome.status === 'skipped') return [streamOutput('stderr', `skipped: ${outcome.reason ?? 'upstream failed'}\n`, false)];
  if (outcome.status !== 'error') return undefined;
  const streams = (['stdout', 'stderr'] as const).flatMap((stream) => (outcome[stream] ? [streamOutput(stream, outcome[stream], false)] : []));
  return [...streams, errorOutput(outcome.error ?? 'failed', outcome.traceback)];
}

/** Notebooks are named by directory in the protocol; accept a notebook URI as well. */
export function serverDirectory(notebook: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(notebook) && !path.isAbsolute(notebook)) {
    const uri = vscode.Uri.parse(notebook);
    return directoryOf(uri) ?? uri.fsPath;
  }
  return notebook;
}
