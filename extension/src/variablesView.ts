// The Variables view (Explorer): for the notebook in front, each cell's published variables
// with type, shape or length, size and the cell's state, from `strata/variables` (the
// server reads them from the store: no cell process). Clicking a variable reveals the cell
// that produced it; a table opens in the data viewer. Refreshed when notebookState changes.
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { revealCell } from './dag';
import { notebookMetadata } from './metadata';
import { StrataServer } from './server';
import { NotebookStates } from './states';

export const VARIABLES_METHOD = 'strata/variables';

export interface VariableInfo {
  name: string;
  contentType: string;
  digest: string;
  size: number;
  type: string;
  table: boolean;
  shape?: number[];
  length?: number;
  columns?: { name: string; type: string }[];
  note?: string;
}

export interface CellVariables {
  cellId: string;
  state: string;
  key: string;
  /** False: the cell is stale and these are its last run's variables. */
  current: boolean;
  variables: VariableInfo[];
}

export interface VariablesResult {
  notebook: string;
  cells: CellVariables[];
}

type Node = { kind: 'cell'; cell: CellVariables } | { kind: 'variable'; cell: CellVariables; variable: VariableInfo };

/** "DataFrame 1,200×2", "list (4)", "str (5)": the short type a row shows. */
export function describeVariable(variable: VariableInfo): string {
  const type = variable.type.split('.').pop() ?? variable.type;
  if (variable.shape !== undefined && variable.shape.length !== 1) return `${type} ${variable.shape.map((n) => n.toLocaleString('en-US')).join('×')}`;
  const length = variable.length ?? variable.shape?.[0];
  return length === undefined ? type : `${type} (${length.toLocaleString('en-US')})`;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export class VariablesView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly loaded = new vscode.EventEmitter<VariablesResult>();
  /** Fires each time a listing arrived (tests). */
  readonly onDidLoad = this.loaded.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly cache = new Map<string, VariablesResult>();
  private readonly pending = new Map<string, Promise<VariablesResult | undefined>>();
  readonly view: vscode.TreeView<Node>;

  constructor(
    private readonly server: StrataServer,
    states: NotebookStates,
  ) {
    this.view = vscode.window.createTreeView('strata.variables', { treeDataProvider: this, showCollapseAll: true });
    this.subscriptions.push(
      this.view,
      vscode.window.onDidChangeActiveNotebookEditor(() => this.changed.fire(undefined)),
      states.onDidChange((directory) => {
        this.cache.delete(directory);
        if (directory === this.directory()) this.changed.fire(undefined);
      }),
    );
  }

  /** The directory of the Strata notebook in front, if any. */
  directory(): string | undefined {
    const notebook = this.notebook();
    return notebook === undefined ? undefined : notebookMetadata(notebook)?.directory;
  }

  private notebook(): vscode.NotebookDocument | undefined {
    const notebook = vscode.window.activeNotebookEditor?.notebook ?? vscode.window.visibleNotebookEditors[0]?.notebook;
    return notebook?.notebookType === NOTEBOOK_TYPE ? notebook : undefined;
  }

  /** The listing of a notebook (one request at a time per notebook, kept until its state changes). */
  async variables(directory: string): Promise<VariablesResult | undefined> {
    const cached = this.cache.get(directory);
    if (cached !== undefined) return cached;
    let request = this.pending.get(directory);
    if (request === undefined) {
      request = this.server
        .request<VariablesResult>(VARIABLES_METHOD, { notebook: directory })
        .then((result) => {
          this.cache.set(directory, result);
          this.loaded.fire(result);
          return result;
        })
        .catch(() => undefined)
        .finally(() => this.pending.delete(directory));
      this.pending.set(directory, request);
    }
    return request;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node?.kind === 'variable') return [];
    if (node?.kind === 'cell') return node.cell.variables.map((variable) => ({ kind: 'variable', cell: node.cell, variable }));
    const directory = this.directory();
    if (directory === undefined) return [];
    const result = await this.variables(directory);
    return (result?.cells ?? []).filter((cell) => cell.variables.length > 0).map((cell) => ({ kind: 'cell', cell }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'cell') {
      const item = new vscode.TreeItem(node.cell.cellId, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `cell:${node.cell.cellId}`;
      item.description = node.cell.current ? node.cell.state : `${node.cell.state} · last run`;
      item.iconPath = new vscode.ThemeIcon(node.cell.state === 'ready' ? 'pass' : node.cell.state === 'error' ? 'error' : 'history');
      item.contextValue = 'strata.variablesCell';
      item.command = { command: 'strata.revealVariable', title: 'Reveal Producer', arguments: [node.cell.cellId] };
      return item;
    }
    const { variable, cell } = node;
    const item = new vscode.TreeItem(variable.name, vscode.TreeItemCollapsibleState.None);
    item.id = `var:${cell.cellId}:${variable.name}`;
    item.description = `${describeVariable(variable)} · ${formatSize(variable.size)}`;
    item.iconPath = new vscode.ThemeIcon(variable.table ? 'table' : 'symbol-variable');
    item.contextValue = variable.table ? 'strata.variable.table' : 'strata.variable';
    item.tooltip = tooltip(cell, variable);
    item.command = { command: 'strata.revealVariable', title: 'Reveal Producer', arguments: [cell.cellId] };
    return item;
  }

  /** Ask the server again for the notebook in front. */
  refresh(): void {
    const directory = this.directory();
    if (directory !== undefined) this.cache.delete(directory);
    this.changed.fire(undefined);
  }

  /** Reveal and select the producing cell of the notebook in front. */
  async reveal(cellIdOrNode: string | Node): Promise<void> {
    const notebook = this.notebook();
    const id = typeof cellIdOrNode === 'string' ? cellIdOrNode : cellIdOrNode.cell.cellId;
    if (notebook !== undefined) await revealCell(notebook, id);
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.changed.dispose();
    this.loaded.dispose();
  }
}

function tooltip(cell: CellVariables, variable: VariableInfo): vscode.MarkdownString {
  const lines = [`**${variable.name}**: \`${variable.type}\` from cell \`${cell.cellId}\` (${cell.state}${cell.current ? '' : ', last run'})`, '', `${formatSize(variable.size)} stored as \`${variable.contentType}\``];
  if (variable.shape !== undefined) lines.push('', `shape ${variable.shape.map((n) => n.toLocaleString('en-US')).join(' × ')}`);
  if (variable.columns !== undefined && variable.columns.length > 0) {
    const shown = variable.columns.slice(0, 20).map((column) => `- \`${column.name}\`: ${column.type}`);
    if (variable.columns.length > 20) shown.push(`- … ${variable.columns.length - 20} more`);
    lines.push('', ...shown);
  }
  if (variable.note) lines.push('', variable.note);
  const text = new vscode.MarkdownString(lines.join('\n'));
  text.supportHtml = false;
  return text;
}
