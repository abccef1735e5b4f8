// "Show DAG": a webview drawing the notebook's cell graph (edges labelled with the variable
// that flows), each node coloured by its state; clicking a node reveals that cell. The graph
// comes from the server (`strata/dag`, which sees unsaved edits), else from `strata dag`.
// dagLayout.ts places everything with dagre here in the extension host (nodes, edges routed
// around nodes, labels that do not overlap, a box per variant group and per loop); the
// webview only draws. Active variant members are highlighted, inactive ones dimmed; a loop's
// node shows its iterations.
import { randomBytes } from 'crypto';
import * as vscode from 'vscode';
import { Cluster, drawnCells, layoutDag, loopBadge, PlacedEdge } from './dagLayout';
import { Engine } from './engine';
import { cellId, notebookMetadata } from './metadata';
import * as P from './protocol';
import { StrataServer } from './server';
import { NotebookStates } from './states';
import { describeCell } from './statusBar';

export interface GraphNode {
  id: string;
  state: string;
  status: string;
  tooltip: string;
  /** Top-left corner and size, in the drawing's coordinates. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** A loop's iterations ("12/40 iter", "iter 3/40" while it runs). */
  badge?: string;
  /** A variant member: `active`/`inactive` in a switch group, `sweep` otherwise. */
  member?: 'active' | 'inactive' | 'sweep';
}

export interface GraphMessage {
  type: 'graph';
  title: string;
  width: number;
  height: number;
  nodes: GraphNode[];
  edges: PlacedEdge[];
  clusters: Cluster[];
  error?: string;
}

export class DagViews implements vscode.Disposable {
  private readonly panels = new Map<string, DagPanel>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly server: StrataServer,
    private readonly engine: Engine,
    private readonly states: NotebookStates,
  ) {}

  show(notebook: vscode.NotebookDocument): DagPanel {
    const directory = notebookMetadata(notebook)?.directory ?? '';
    let panel = this.panels.get(directory);
    if (panel === undefined) {
      panel = new DagPanel(this.extensionUri, notebook, directory, this);
      this.panels.set(directory, panel);
      panel.onDidDispose(() => this.panels.delete(directory));
    }
    panel.reveal();
    return panel;
  }

  async graph(notebook: vscode.NotebookDocument, directory: string): Promise<GraphMessage> {
    let dag: P.DagResult;
    let error: string | undefined;
    try {
      dag = await this.server.request<P.DagResult>(P.Methods.dag, { notebook: directory });
    } catch (requestError) {
      try {
        dag = JSON.parse(await this.engine.cli(['dag', directory])) as P.DagResult;
      } catch (cliError) {
        dag = { nodes: [], edges: [], order: [] };
        error = `${String(requestError)}; ${String(cliError)}`;
      }
    }
    const code = new Set(notebook.getCells().filter((cell) => cell.kind === vscode.NotebookCellKind.Code).map((cell) => cellId(cell)));
    const edges = dag.edges.filter((edge) => code.has(edge.from) && code.has(edge.to));
    const layout = layoutDag(drawnCells(dag, (id) => code.has(id)), edges, dag.nodes);
    const info = new Map((dag.nodes ?? []).map((node) => [node.id, node]));
    const nodes = layout.nodes.map(({ id, x, y, width, height }): GraphNode => {
      const described = describeCell(this.states, directory, id);
      const node = info.get(id);
      const live = this.states.liveState(directory, id);
      const member = node?.group === undefined ? undefined : node.mode === 'sweep' ? 'sweep' : node.active ? 'active' : 'inactive';
      const badge = loopBadge(node?.loop, live?.loop, live?.running === true);
      return { id, state: described?.state ?? 'unknown', status: (described?.text ?? '').replace(/\$\([^)]*\)\s*/g, ''), tooltip: described?.tooltip ?? '', x, y, width, height, badge, member };
    });
    const title = notebookMetadata(notebook)?.name ?? directory;
    return { type: 'graph', title, width: layout.width, height: layout.height, nodes, edges: layout.edges, clusters: layout.clusters, error };
  }

  get stateEvents(): vscode.Event<string> {
    return this.states.onDidChange;
  }

  dispose(): void {
    this.panels.forEach((panel) => panel.dispose());
  }
}

export class DagPanel implements vscode.Disposable {
  private readonly panel: vscode.WebviewPanel;
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private isDisposed = false;
  private readonly disposed = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposed.event;
  private readonly rendered = new vscode.EventEmitter<number>();
  /** Fires with the node count each time the webview has drawn a graph (tests). */
  readonly onDidRender = this.rendered.event;

  constructor(
    extensionUri: vscode.Uri,
    private readonly notebook: vscode.NotebookDocument,
    private readonly directory: string,
    private readonly views: DagViews,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel('strata.dag', `DAG: ${notebookMetadata(notebook)?.name ?? directory}`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [media],
    });
    const nonce = randomBytes(16).toString('base64');
    const script = this.panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'dag.js'));
    const style = this.panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'dag.css'));
    this.panel.webview.html = `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${this.panel.webview.cspSource}; script-src 'nonce-${nonce}';">
<link rel="stylesheet" href="${style.toString()}"></head>
<body><div id="title"></div><div id="legend"></div><div id="graph"></div><div id="error"></div>
<script nonce="${nonce}" src="${script.toString()}"></script></body></html>`;
    this.subscriptions.push(
      this.panel.webview.onDidReceiveMessage((message: { type: string; cellId?: string; nodes?: number }) => {
        if (message.type === 'reveal' && message.cellId) void revealCell(this.notebook, message.cellId);
        if (message.type === 'ready') this.refresh();
        if (message.type === 'rendered') this.rendered.fire(message.nodes ?? 0);
      }),
      views.stateEvents((changed) => changed === directory && this.refresh()),
      vscode.workspace.onDidChangeNotebookDocument((event) => event.notebook === notebook && this.refresh()),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal(vscode.ViewColumn.Beside);
  }

  /** Redraw soon; bursts of edits and state changes collapse into one request. */
  refresh(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.views.graph(this.notebook, this.directory).then((graph) => this.panel.webview.postMessage(graph));
    }, 150);
  }

  dispose(): void {
    if (this.isDisposed) return;
    this.isDisposed = true;
    clearTimeout(this.timer);
    for (const subscription of this.subscriptions) subscription.dispose();
    this.disposed.fire();
    this.disposed.dispose();
    this.rendered.dispose();
    this.panel.dispose();
  }
}

export async function revealCell(notebook: vscode.NotebookDocument, id: string): Promise<void> {
  const index = notebook.getCells().findIndex((cell) => cellId(cell) === id);
  if (index < 0) return;
  const range = new vscode.NotebookRange(index, index + 1);
  const existing = vscode.window.visibleNotebookEditors.find((editor) => editor.notebook === notebook);
  const editor = await vscode.window.showNotebookDocument(notebook, { viewColumn: existing?.viewColumn, selections: [range], preserveFocus: false });
  editor.revealRange(range, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
}
