// The cell status bar: each code cell's state with its reason ("stale: upstream load_data
// changed"), "cached" for results served from the store, and "dispatching -> NAME" while a
// cell runs on a remote worker (as the engine placed it: a worker whose backend is not
// local). The hover lists every reason and, for a cell on a remote worker, its health.
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { forkStatusItem, loopProgressText } from './loops';
import { cellId, notebookMetadata } from './metadata';
import { describeReason, explainReason, NotebookStates } from './states';
import { variantStatusItem } from './variants';
import { cellWorkerHealth } from './workerHealth';

export class CellStatusBar implements vscode.NotebookCellStatusBarItemProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this.changed.event;

  constructor(private readonly states: NotebookStates) {
    states.onDidChange(() => this.changed.fire());
  }

  static register(states: NotebookStates): vscode.Disposable {
    return vscode.notebooks.registerNotebookCellStatusBarItemProvider(NOTEBOOK_TYPE, new CellStatusBar(states));
  }

  provideCellStatusBarItems(cell: vscode.NotebookCell): vscode.NotebookCellStatusBarItem[] {
    if (cell.kind !== vscode.NotebookCellKind.Code) return [];
    const directory = notebookMetadata(cell.notebook)?.directory;
    const id = cellId(cell);
    if (directory === undefined || id === undefined) return [];
    const item = describeCell(this.states, directory, id);
    if (item === undefined) return [];
    const result = new vscode.NotebookCellStatusBarItem(item.text, vscode.NotebookCellStatusBarAlignment.Left);
    result.tooltip = item.tooltip.replace(/[*`]/g, '');
    result.accessibilityInformation = { label: item.text.replace(/\$\([^)]*\)\s*/g, '') };
    // A variant member's group and choice, and a loop's fork (loops.ts, variants.ts).
    const extras = [variantStatusItem(this.states, directory, cell, id), forkStatusItem(cell)];
    return [result, ...extras.filter((extra) => extra !== undefined)];
  }
}

/** The status text and hover of one cell; exported for tests and the DAG view. */
export function describeCell(states: NotebookStates, directory: string, id: string): { text: string; tooltip: string; state: string } | undefined {
  const described = describeState(states, directory, id);
  const health = cellWorkerHealth(states, directory, states.state(directory, id));
  return described && health ? { ...described, tooltip: `${described.tooltip}\n\n${health}` } : described;
}

function describeState(states: NotebookStates, directory: string, id: string): { text: string; tooltip: string; state: string } | undefined {
  const live = states.liveState(directory, id);
  const state = states.state(directory, id);
  if (live?.running) {
    // The engine's placement: a cell on a declared worker of the local backend is not dispatched.
    const dispatched = live.worker !== undefined && live.backend !== undefined && live.backend !== 'local';
    const progress = live.loop ? ` · ${loopProgressText(live.loop)}` : '';
    const text = `${dispatched ? `$(sync~spin) dispatching -> ${live.worker}` : '$(sync~spin) running'}${progress}`;
    const where = live.worker ? ` on worker \`${live.worker}\`${live.backend ? ` (${live.backend})` : ''}` : '';
    return { text, tooltip: `Cell \`${id}\` is running${where}.`, state: 'running' };
  }
  if (state === undefined) return undefined;
  switch (state.state) {
    case 'ready':
      return live?.cached
        ? { text: '$(database) cached', tooltip: `Up to date: served from the cache without running.`, state: 'ready' }
        : { text: '$(check) ready', tooltip: 'Up to date: its current inputs and source are in the cache.', state: 'ready' };
    case 'stale': {
      const reasons = state.reasons ?? [];
      const first = reasons[0] ? `: ${describeReason(reasons[0])}` : '';
      const more = reasons.length > 1 ? ` (+${reasons.length - 1})` : '';
      const list = reasons.map((reason) => `- ${explainReason(reason)}`).join('\n');
      return { text: `$(warning) stale${first}${more}`, tooltip: `**Stale**: its last result no longer matches.\n\n${list}\n\nRun Stale re-runs it.`, state: 'stale' };
    }
    case 'never_run':
      return { text: '$(circle-outline) never run', tooltip: 'No result in the cache yet.', state: 'never_run' };
    case 'error':
      return { text: `$(error) error${state.message ? `: ${truncate(state.message)}` : ''}`, tooltip: state.message ?? 'The last run with this source and inputs failed.', state: 'error' };
    case 'running':
      return { text: '$(sync~spin) running', tooltip: 'Running.', state: 'running' };
  }
}

function truncate(text: string): string {
  const line = text.split('\n')[0];
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}
