// What the editor knows about each cell's state, keyed by notebook directory and cell id.
// The server decides staleness (strata/notebookState); runs add what is happening now
// (running, dispatched to a worker) and whether the last result came from the cache.
// This module only stores and describes; it computes nothing about notebooks.
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { notebookMetadata } from './metadata';
import { CellState, NotebookState, StaleReason, WorkerHealthReport } from './protocol';

export interface LiveCell {
  running?: boolean;
  /** Set while the cell executes: the worker the engine placed it on, and its backend. */
  worker?: string;
  backend?: string;
  /** The cell's current outputs were served from the cache. */
  cached?: boolean;
  durationMs?: number;
  /** A `@loop` cell's last `strata/cellProgress` (kept after the run: what it stored). */
  loop?: LoopProgress;
}

export interface LoopProgress {
  /** 0-based index of the last iteration stored. */
  iteration: number;
  maxIter: number;
  stopped: boolean;
}

export class NotebookStates implements vscode.Disposable {
  private readonly states = new Map<string, Map<string, CellState>>();
  private readonly live = new Map<string, Map<string, LiveCell>>();
  private readonly health = new Map<string, WorkerHealthReport>();
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the notebook directory whose cells changed state. */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    // `strata.hasStale` enables Run Stale for the notebook in front.
    this.subscriptions.push(
      vscode.window.onDidChangeActiveNotebookEditor(() => this.updateContextKey()),
      this.onDidChange(() => this.updateContextKey()),
    );
  }

  update(state: NotebookState, directory: string): void {
    this.states.set(directory, new Map(state.cells.map((cell) => [cell.id, cell])));
    this.changed.fire(directory);
  }

  setLive(directory: string, cellId: string, change: LiveCell): void {
    let cells = this.live.get(directory);
    if (cells === undefined) this.live.set(directory, (cells = new Map<string, LiveCell>()));
    cells.set(cellId, { ...cells.get(cellId), ...change });
    this.changed.fire(directory);
  }

  /** The last `strata/workerHealth` of a notebook. */
  updateHealth(report: WorkerHealthReport, directory: string): void {
    this.health.set(directory, report);
    this.changed.fire(directory);
  }

  workerHealth(directory: string): WorkerHealthReport | undefined {
    return this.health.get(directory);
  }

  state(directory: string, cellId: string): CellState | undefined {
    return this.states.get(directory)?.get(cellId);
  }

  liveState(directory: string, cellId: string): LiveCell | undefined {
    return this.live.get(directory)?.get(cellId);
  }

  cells(directory: string): CellState[] {
    return [...(this.states.get(directory)?.values() ?? [])];
  }

  /** Cells Run Stale would run (stale or never run), as last reported by the server. */
  staleCells(directory: string): string[] {
    return this.cells(directory)
      .filter((cell) => cell.state === 'stale' || cell.state === 'never_run')
      .map((cell) => cell.id);
  }

  forget(directory: string): void {
    this.states.delete(directory);
    this.live.delete(directory);
    this.health.delete(directory);
  }

  private updateContextKey(): void {
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    const directory = notebook?.notebookType === NOTEBOOK_TYPE ? notebookMetadata(notebook)?.directory : undefined;
    const hasStale = directory !== undefined && this.staleCells(directory).length > 0;
    void vscode.commands.executeCommand('setContext', 'strata.hasStale', hasStale);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.changed.dispose();
  }
}

/** "upstream load_data changed", "source changed", ... for one staleness reason. */
export function describeReason(reason: StaleReason): string {
  switch (reason.reason) {
    case 'upstream_changed':
      return `upstream ${reason.cell ?? '?'} changed`;
    case 'after_changed':
      return `@after ${reason.cell ?? '?'} changed`;
    case 'source_changed':
      return 'source changed';
    case 'env_changed':
      return 'environment changed';
    case 'mount_changed':
      return reason.variable ? `${reason.variable} changed` : 'mount changed';
    case 'data_changed':
      return reason.variable ? `data changed (${reason.variable})` : 'data changed';
    case 'evicted':
      return 'evicted from the cache';
    default:
      return reason.reason.replace(/_/g, ' ');
  }
}

/** The longer form for hovers: names the variable that changed. */
export function explainReason(reason: StaleReason): string {
  const base = describeReason(reason);
  return reason.variable ? `${base} (variable \`${reason.variable}\`)` : base;
}
