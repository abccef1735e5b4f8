// The data viewer: a webview that pages through a stored table. Every page, sort and filter
// is a `strata/tablePage` request; the engine answers from DuckDB over the memory-mapped
// Arrow blob, at most 500 rows at a time, so the editor never holds the whole table.
// Cells that published a table get an "Open in Data Viewer" item in their status bar.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { cellId, notebookMetadata } from './metadata';
import { StrataServer } from './server';
import { NotebookStates } from './states';
import { VariableInfo, VariablesView } from './variablesView';

export const TABLE_PAGE_METHOD = 'strata/tablePage';
export const PAGE_SIZE = 100;

export interface TableTarget {
  directory: string;
  cellId: string;
  name: string;
  digest?: string;
}

export interface PageRequest {
  offset: number;
  limit: number;
  sort: { column: string; desc: boolean }[];
  filter?: string;
}

export interface TablePage {
  cellId: string;
  name: string;
  digest: string;
  type: string;
  columns: { name: string; type: string }[];
  rows: unknown[][];
  offset: number;
  total: number;
  filteredTotal: number;
}

export class DataViewers implements vscode.Disposable {
  private readonly panels = new Map<string, DataViewerPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly server: StrataServer,
  ) {}

  open(target: TableTarget): DataViewerPanel {
    const key = `${target.directory}\0${target.cellId}\0${target.name}`;
    let panel = this.panels.get(key);
    if (panel === undefined) {
      panel = new DataViewerPanel(this.extensionUri, this.server, target);
      this.panels.set(key, panel);
      panel.onDidDispose(() => this.panels.delete(key));
    }
    panel.reveal();
    return panel;
  }

  dispose(): void {
    this.panels.forEach((panel) => panel.dispose());
  }
}

export class DataViewerPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private readonly shown = new vscode.EventEmitter<TablePage>();
  /** Fires with each page the webview has drawn (tests). */
  readonly onDidShowPage = this.shown.event;
  /** The last page drawn. */
  lastPage: TablePage | undefined;
  private isDisposed = false;

  constructor(
    extensionUri: vscode.Uri,
    private readonly server: StrataServer,
    private readonly target: TableTarget,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel('strata.dataViewer', `${target.name} (${target.cellId})`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [media],
    });
    const nonce = randomBytes(16).toString('base64');
    const webview = this.panel.webview;
    const script = webview.asWebviewUri(vscode.Uri.joinPath(media, 'dataViewer.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(media, 'dataViewer.css'));
    webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${style.toString()}"></head>
<body><div id="bar"><span id="title"></span><input id="filter" type="search" placeholder="Filter: text in any text column, or a number" aria-label="Filter">
<button id="first" title="First page">«</button><button id="prev" title="Previous page">‹</button><span id="position"></span>
<button id="next" title="Next page">›</button><button id="last" title="Last page">»</button></div>
<div id="error"></div><div id="grid"></div>
<script nonce="${nonce}" src="${script.toString()}"></script></body></html>`;
    this.subscriptions.push(
      webview.onDidReceiveMessage((message: { type: string; request?: PageRequest; page?: TablePage }) => {
        if (message.type === 'page' && message.request !== undefined) void this.answer(message.request);
        if (message.type === 'shown' && message.page !== undefined) {
          this.lastPage = message.page;
          this.shown.fire(message.page);
        }
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  private async answer(request: PageRequest): Promise<void> {
    const { directory, cellId: cell, name } = this.target;
    try {
      const page = await this.server.request<TablePage>(TABLE_PAGE_METHOD, { notebook: directory, cellId: cell, name, ...request, limit: Math.min(request.limit, 500) });
      await this.panel.webview.postMessage({ type: 'page', page, request, title: `${name} · ${page.type} · cell ${cell}` });
    } catch (error) {
      await this.panel.webview.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error), request });
    }
  }

  reveal(): void {
    this.panel.reveal(vscode.ViewColumn.Beside);
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    for (const subscription of this.subscriptions) subscription.dispose();
    this.disposed.fire();
    this.disposed.dispose();
    this.shown.dispose();
    this.panel.dispose();
  }
}

/** "Open in Data Viewer" in the status bar of cells that published a table. */
export class TableCellItems implements vscode.NotebookCellStatusBarItemProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCellStatusBarItems = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly variables: VariablesView,
    states: NotebookStates,
  ) {
    this.subscriptions = [states.onDidChange(() => this.changed.fire()), variables.onDidLoad(() => this.changed.fire())];
  }

  async provideCellStatusBarItems(cell: vscode.NotebookCell): Promise<vscode.NotebookCellStatusBarItem[]> {
    const directory = notebookMetadata(cell.notebook)?.directory;
    const id = cellId(cell);
    if (directory === undefined || id === undefined || cell.kind !== vscode.NotebookCellKind.Code) return [];
    const listing = await this.variables.variables(directory);
    const tables = listing?.cells.find((entry) => entry.cellId === id && entry.current)?.variables.filter((v) => v.table) ?? [];
    if (tables.length === 0) return [];
    const item = new vscode.NotebookCellStatusBarItem('$(table) Open in Data Viewer', vscode.NotebookCellStatusBarAlignment.Right);
    item.tooltip = `Page, sort and filter ${tables.map((t) => t.name).join(', ')} (the engine queries the stored table)`;
    item.command = { command: 'strata.openDataViewer', title: 'Open in Data Viewer', arguments: [{ directory, cellId: id, names: tables.map((t) => t.name) }] };
    return [item];
  }

  dispose(): void {
    this.subscriptions.forEach((subscription) => void subscription.dispose());
    this.changed.dispose();
  }
}

/** Commands of the variables view and the data viewer. */
export function registerTableCommands(viewers: DataViewers, variables: VariablesView, states: NotebookStates): vscode.Disposable[] {
  return [
    vscode.notebooks.registerNotebookCellStatusBarItemProvider(NOTEBOOK_TYPE, new TableCellItems(variables, states)),
    vscode.commands.registerCommand('strata.revealVariable', (target: unknown) => variables.reveal(target as string)),
    vscode.commands.registerCommand('strata.openDataViewer', (target: unknown) => openDataViewer(viewers, variables, target)),
    vscode.commands.registerCommand('strata.refreshVariables', () => variables.refresh()),
  ];
}

/** From the view (a variable node), the cell status bar ({directory, cellId, names}) or the palette. */
async function openDataViewer(viewers: DataViewers, variables: VariablesView, target: unknown): Promise<DataViewerPanel | undefined> {
  const node = target as { cell?: { cellId: string }; variable?: VariableInfo; directory?: string; cellId?: string; names?: string[] } | undefined;
  const directory = node?.directory ?? variables.directory();
  if (directory === undefined) return undefined;
  if (node?.variable !== undefined && node.cell !== undefined) return viewers.open({ directory, cellId: node.cell.cellId, name: node.variable.name, digest: node.variable.digest });
  let cell = node?.cellId;
  let names = node?.names;
  if (cell === undefined || names === undefined) {
    const listing = await variables.variables(directory);
    const picks = (listing?.cells ?? []).flatMap((c) => c.variables.filter((v) => v.table).map((v) => ({ label: v.name, description: `cell ${c.cellId}`, cellId: c.cellId })));
    const chosen = picks.length === 1 ? picks[0] : await vscode.window.showQuickPick(picks, { placeHolder: 'Which table?' });
    if (chosen === undefined) return undefined;
    cell = chosen.cellId;
    names = [chosen.label];
  }
  const name = names.length === 1 ? names[0] : await vscode.window.showQuickPick(names, { placeHolder: `Which table of cell ${cell}?` });
  return name === undefined ? undefined : viewers.open({ directory, cellId: cell, name });
}
