// The health of the active notebook's remote workers in the status bar ("$(server) gpu ✓
// cluster ✗"), from `strata/workerHealth`: the server probes them (the engine decides what
// healthy means); this module only shows the last answer and asks for a new one on demand.
// Hidden while every code cell of the notebook runs on this machine.
import * as vscode from 'vscode';
import { notebookMetadata } from './metadata';
import { serverDirectory } from './notebooks';
import { isStrataNotebook } from './opening';
import { CellState, CheckWorkerHealthResult, Methods, WorkerHealth, WorkerHealthReport } from './protocol';
import { StrataServer } from './server';
import { NotebookStates } from './states';

const ANSWER_TIMEOUT_MS = 15_000;
const MARK: Record<WorkerHealth['status'], string> = { healthy: '✓', unhealthy: '✗', unknown: '?' };

export interface WorkersView {
  text: string;
  tooltip: string;
  /** A worker some cell runs on is not healthy. */
  warning: boolean;
}

/** Workers (by name, in notebook order) that the cells run on, other than this machine. */
export function remoteWorkers(cells: CellState[]): string[] {
  const names: string[] = [];
  for (const cell of cells) {
    if (cell.worker !== undefined && cell.backend !== 'local' && !names.includes(cell.worker)) names.push(cell.worker);
  }
  return names;
}

/** The status bar item for a notebook, or undefined to hide it. */
export function describeWorkers(cells: CellState[], report: WorkerHealthReport | undefined): WorkersView | undefined {
  const used = remoteWorkers(cells);
  if (used.length === 0) return undefined;
  const known = new Map((report?.workers ?? []).map((worker) => [worker.name, worker]));
  const marks = used.map((name) => {
    const health = known.get(name);
    if (health !== undefined) return `${name} ${MARK[health.status]}`;
    return report === undefined ? `${name} …` : `${name} ✗`; // not declared in [[workers]]
  });
  const warning = used.some((name) => known.get(name)?.status !== 'healthy' && report !== undefined);
  const lines = [`Strata workers${report ? ` (checked ${new Date(report.checkedAt * 1000).toLocaleTimeString()})` : ': checking...'}`];
  for (const worker of report?.workers ?? []) {
    lines.push(`${MARK[worker.status]} ${describeWorker(worker)}${used.includes(worker.name) ? '' : ' (no cell runs on it)'}`);
  }
  for (const name of used) {
    if (report !== undefined && !known.has(name)) lines.push(`✗ ${name}: not declared in [[workers]] of notebook.toml`);
  }
  lines.push('', 'Click to check again.');
  return { text: `$(server) ${marks.join('  ')}`, tooltip: lines.join('\n'), warning };
}

/** One worker on one line: "gpu (executor, http://h:8790/health): healthy, version 0.1.0, protocol v1". */
export function describeWorker(worker: WorkerHealth): string {
  const where = worker.target ? `${worker.backend}, ${worker.target}` : worker.backend;
  const facts: string[] = [worker.status];
  if (worker.version) facts.push(worker.backend === 'executor' ? `version ${worker.version}` : worker.version);
  if (worker.protocols?.length) facts.push(`protocol ${worker.protocols.join(', ')}`);
  if (worker.workers !== undefined) facts.push(`${worker.workers} worker${worker.workers === 1 ? '' : 's'}`);
  const error = worker.status !== 'healthy' && worker.error ? `: ${worker.error}` : '';
  return `${worker.name} (${where}): ${facts.join(', ')}${error}`;
}

/** The health line for a cell's tooltip, when the cell sits on a remote worker. */
export function cellWorkerHealth(states: NotebookStates, directory: string, cell: CellState | undefined): string | undefined {
  if (cell?.worker === undefined || cell.backend === 'local') return undefined;
  const report = states.workerHealth(directory);
  const worker = report?.workers.find((candidate) => candidate.name === cell.worker);
  if (worker !== undefined) return `Worker ${describeWorker(worker)}`;
  return report === undefined ? `Worker ${cell.worker}: health not checked yet` : undefined;
}

export class WorkerHealthItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('strata.workers', vscode.StatusBarAlignment.Right, 99);
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly server: StrataServer,
    private readonly states: NotebookStates,
  ) {
    this.item.name = 'Strata Workers';
    this.item.command = 'strata.checkWorkerHealth';
    this.subscriptions.push(
      server.onNotification(({ method, params }) => {
        if (method !== Methods.workerHealth) return;
        const report = params as WorkerHealthReport;
        states.updateHealth(report, serverDirectory(report.notebook));
      }),
      states.onDidChange(() => this.render()),
      vscode.window.onDidChangeActiveNotebookEditor(() => this.render()),
      vscode.commands.registerCommand('strata.checkWorkerHealth', () => this.check()),
    );
    this.render();
  }

  /** What the item shows now (tests read it). */
  get view(): WorkersView | undefined {
    const directory = activeDirectory();
    return directory === undefined ? undefined : describeWorkers(this.states.cells(directory), this.states.workerHealth(directory));
  }

  private render(): void {
    const view = this.view;
    if (view === undefined) {
      this.item.hide();
      return;
    }
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  /** "Strata: Check Worker Health": probe now; resolves with the answer (undefined: none). */
  async check(): Promise<WorkerHealthReport | undefined> {
    const directory = activeDirectory();
    if (directory === undefined) {
      void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
      return undefined;
    }
    const answer = this.nextReport(directory);
    const result = await this.server.request<CheckWorkerHealthResult>(Methods.checkWorkerHealth, { notebook: directory });
    if (!result.checking) {
      answer.cancel();
      void vscode.window.showInformationMessage('Strata: this notebook declares no remote workers; its cells run on this machine.');
      return undefined;
    }
    const report = await answer.promise;
    if (report === undefined) void vscode.window.showWarningMessage('Strata: the worker health check did not answer in time.');
    return report;
  }

  private nextReport(directory: string): { promise: Promise<WorkerHealthReport | undefined>; cancel: () => void } {
    let finish: (report: WorkerHealthReport | undefined) => void = () => undefined;
    const promise = new Promise<WorkerHealthReport | undefined>((resolve) => {
      const timer = setTimeout(() => finish(undefined), ANSWER_TIMEOUT_MS);
      const subscription = this.server.onNotification(({ method, params }) => {
        const report = params as WorkerHealthReport;
        if (method === Methods.workerHealth && serverDirectory(report.notebook) === directory) finish(report);
      });
      finish = (report) => {
        clearTimeout(timer);
        subscription.dispose();
        resolve(report);
      };
    });
    return { promise, cancel: () => finish(undefined) };
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.item.dispose();
  }
}

function activeDirectory(): string | undefined {
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  if (!isStrataNotebook(notebook)) return undefined;
  return notebookMetadata(notebook)?.directory;
}
