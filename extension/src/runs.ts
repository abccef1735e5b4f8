// One run = one `strata/run` request. It returns a run id at once; progress comes back as
// notifications tagged with that id, which this module turns into cell executions: queued
// -> started -> outputs/streams/errors -> finished. Updates of a run are applied strictly in
// arrival order through one promise chain, so a cell's outputs never interleave or land
// after its end.
import * as vscode from 'vscode';
import { cellId, notebookMetadata } from './metadata';
import { readManifestCells } from './notebookDir';
import { displayOutput, errorOutput, streamItem, streamOf, streamOutput } from './outputs';
import * as P from './protocol';
import { refuseRunInRunMode } from './runMode';
import { ServerNotification, StrataServer } from './server';
import { NotebookStates } from './states';

const SERVER_RELOAD_TIMEOUT_MS = 5_000;

export interface RunSummary {
  runId: string;
  notebook: string;
  success: boolean;
  /** Cells whose code ran, cells served from the cache, failed and skipped cells. */
  executed: string[];
  cached: string[];
  failed: string[];
  skipped: string[];
}

interface Run {
  id?: string;
  notebook: vscode.NotebookDocument;
  directory: string;
  executions: Map<string, vscode.NotebookCellExecution>;
  started: Set<string>;
  ended: Set<string>;
  cached: Set<string>;
  lastOutput: Map<string, vscode.NotebookCellOutput>;
  summary: RunSummary;
  queue: Promise<void>;
  cancelRequested: boolean;
  finish: (summary: RunSummary) => void;
}

export class Runs implements vscode.Disposable {
  private readonly active = new Map<string, Run>();
  private readonly pending = new Set<Run>();
  /** Notifications that arrived before their run's id did (the response can trail them). */
  private readonly early = new Map<string, ServerNotification[]>();
  private readonly executionOrder = new Map<string, number>();
  private readonly finished = new vscode.EventEmitter<RunSummary>();
  readonly onDidFinishRun = this.finished.event;
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly server: StrataServer,
    private readonly controller: vscode.NotebookController,
    private readonly states: NotebookStates,
  ) {
    this.subscription = server.onNotification((notification) => this.route(notification));
  }

  /** Start a run; `queued` cells show as pending until the server reaches them. */
  async start(notebook: vscode.NotebookDocument, mode: P.RunMode, cellIds: string[] | undefined, queued: readonly vscode.NotebookCell[]): Promise<RunSummary> {
    const directory = notebookMetadata(notebook)?.directory;
    if (directory === undefined) throw new Error('not a Strata notebook');
    // A frozen notebook (Run mode) never runs: a run could replace the outputs its lock pins.
    if (refuseRunInRunMode(directory)) return { runId: '', notebook: directory, success: false, executed: [], cached: [], failed: [], skipped: [] };
    let finish: (summary: RunSummary) => void = () => undefined;
    const done = new Promise<RunSummary>((resolve) => (finish = resolve));
    const run: Run = {
      notebook,
      directory,
      executions: new Map(),
      started: new Set(),
      ended: new Set(),
      cached: new Set(),
      lastOutput: new Map(),
      summary: { runId: '', notebook: directory, success: true, executed: [], cached: [], failed: [], skipped: [] },
      queue: Promise.resolve(),
      cancelRequested: false,
      finish,
    };
    for (const cell of queued) this.execution(run, cellId(cell));
    this.pending.add(run);
    let result: P.RunResult;
    try {
      await this.saveNewCells(notebook, directory);
      result = await this.server.request<P.RunResult>(P.Methods.run, { notebook: directory, cellIds, mode } satisfies P.RunParams);
    } catch (error) {
      this.pending.delete(run);
      await this.failRun(run, error instanceof Error ? error.message : String(error));
      return done;
    }
    this.pending.delete(run);
    run.id = result.runId;
    run.summary.runId = result.runId;
    this.active.set(result.runId, run);
    for (const notification of this.early.get(result.runId) ?? []) this.apply(run, notification);
    this.early.delete(result.runId);
    if (this.pending.size === 0) this.early.clear(); // whatever is left belongs to no run of ours
    if (run.cancelRequested) void this.sendCancel(run);
    return done;
  }

  /**
   * The engine runs what notebook.toml lists: cells added in the editor are saved first, and
   * the run waits (briefly) until the server has reloaded the manifest and reports them.
   */
  private async saveNewCells(notebook: vscode.NotebookDocument, directory: string): Promise<void> {
    const ids = notebook.getCells().filter((cell) => cell.kind === vscode.NotebookCellKind.Code).map((cell) => cellId(cell) ?? '');
    const onDisk = new Set((await readManifestCells(directory).catch(() => ({ cells: [] }))).cells.map((cell) => cell.id));
    if (ids.every((id) => onDisk.has(id))) return;
    await notebook.save();
    const known = (): boolean => {
      const reported = new Set(this.states.cells(directory).map((cell) => cell.id));
      return ids.every((id) => reported.has(id));
    };
    if (known()) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, SERVER_RELOAD_TIMEOUT_MS);
      const subscription = this.states.onDidChange((changed) => changed === directory && known() && done());
      function done(): void {
        clearTimeout(timer);
        subscription.dispose();
        resolve();
      }
    });
  }

  /** Interrupt every run of this notebook. */
  cancel(notebook: vscode.NotebookDocument): void {
    for (const run of [...this.active.values(), ...this.pending]) {
      if (run.notebook !== notebook) continue;
      run.cancelRequested = true;
      if (run.id !== undefined) void this.sendCancel(run);
    }
  }

  private async sendCancel(run: Run): Promise<void> {
    await this.server.request(P.Methods.cancel, { runId: run.id }).catch(() => undefined);
  }

  private route(notification: ServerNotification): void {
    const runId = (notification.params as { runId?: string } | undefined)?.runId;
    if (runId === undefined) return;
    const run = this.active.get(runId);
    if (run !== undefined) {
      this.apply(run, notification);
    } else if (this.pending.size > 0) {
      const list = this.early.get(runId) ?? [];
      list.push(notification);
      this.early.set(runId, list);
    }
  }

  private apply(run: Run, { method, params }: ServerNotification): void {
    // Markdown cells are never executed (the engine reports them as finished, trivially).
    const id = (params as { cellId?: string }).cellId;
    const target = id === undefined ? undefined : run.notebook.getCells().find((c) => cellId(c) === id);
    if (target?.kind === vscode.NotebookCellKind.Markup) return;
    run.queue = run.queue
      .then(() => this.handle(run, method, params))
      .catch((error: unknown) => this.server.output.appendLine(`run ${run.id}: ${method}: ${String(error)}`));
  }

  private async handle(run: Run, method: string, params: unknown): Promise<void> {
    switch (method) {
      case P.Methods.cellStarted: {
        const event = params as P.CellStarted;
        await this.started(run, event.cellId);
        this.states.setLive(run.directory, event.cellId, { running: true, worker: event.worker, backend: event.backend, cached: false, loop: undefined });
        return;
      }
      case P.Methods.cellProgress: {
        const event = params as P.CellProgress;
        this.states.setLive(run.directory, event.cellId, { loop: { iteration: event.iteration, maxIter: event.maxIter, stopped: event.stopped } });
        return;
      }
      case P.Methods.cellCacheHit: {
        const event = params as P.CellCacheHit;
        run.cached.add(event.cellId);
        await this.started(run, event.cellId);
        this.states.setLive(run.directory, event.cellId, { cached: true });
        return;
      }
      case P.Methods.cellOutput: {
        const event = params as P.CellOutput;
        const execution = await this.started(run, event.cellId);
        run.lastOutput.delete(event.cellId);
        await execution?.appendOutput(displayOutput(event.output, run.cached.has(event.cellId)));
        return;
      }
      case P.Methods.cellStream:
        return this.stream(run, params as P.CellStream);
      case P.Methods.cellError: {
        const event = params as P.CellError;
        const execution = await this.started(run, event.cellId);
        run.lastOutput.delete(event.cellId);
        await execution?.appendOutput(errorOutput(event.error ?? 'failed', event.traceback ?? undefined));
        return;
      }
      case P.Methods.cellFinished:
        return this.cellFinished(run, params as P.CellFinished);
      case P.Methods.runFinished:
        return this.runFinished(run, params as P.RunFinished);
    }
  }

  private async stream(run: Run, event: P.CellStream): Promise<void> {
    const execution = await this.started(run, event.cellId);
    if (execution === undefined) return;
    // Consecutive chunks of one stream extend one output, as a terminal would show them.
    const last = run.lastOutput.get(event.cellId);
    if (last !== undefined && streamOf(last) === event.stream) {
      await execution.appendOutputItems(streamItem(event.stream, event.text), last);
      return;
    }
    const output = streamOutput(event.stream, event.text, run.cached.has(event.cellId));
    run.lastOutput.set(event.cellId, output);
    await execution.appendOutput(output);
  }

  private async cellFinished(run: Run, event: P.CellFinished): Promise<void> {
    const cached = event.cacheHit ?? run.cached.has(event.cellId);
    const list = event.status === 'error' ? run.summary.failed : event.status === 'skipped' ? run.summary.skipped : cached ? run.summary.cached : run.summary.executed;
    list.push(event.cellId);
    if (event.status === 'error') run.summary.success = false;
    const execution = await this.started(run, event.cellId);
    if (event.status === 'skipped') await execution?.replaceOutput(streamOutput('stderr', `skipped: ${event.reason ?? 'upstream failed'}\n`, false));
    execution?.end(event.status === 'ok' ? true : event.status === 'error' ? false : undefined, Date.now());
    run.executions.delete(event.cellId);
    run.ended.add(event.cellId);
    this.states.setLive(run.directory, event.cellId, { running: false, worker: undefined, backend: undefined, cached, durationMs: event.durationMs });
  }

  private async runFinished(run: Run, event: P.RunFinished): Promise<void> {
    if (event.error !== undefined && run.started.size === 0) {
      // The run could not start at all (a cycle, an unknown cell): say why on its cells.
      await this.failRun(run, event.error);
      return;
    }
    // Cells that were queued but not reached (cancelled, or not part of the plan) end quietly.
    for (const [id, execution] of run.executions) {
      execution.end(run.started.has(id) ? false : undefined, Date.now());
      this.states.setLive(run.directory, id, { running: false, worker: undefined, backend: undefined });
    }
    run.executions.clear();
    if (event.success === false) run.summary.success = false;
    this.finishRun(run);
  }

  private finishRun(run: Run): void {
    if (run.id !== undefined) this.active.delete(run.id);
    run.finish(run.summary);
    this.finished.fire(run.summary);
  }

  private async failRun(run: Run, message: string): Promise<void> {
    if (run.executions.size === 0) void vscode.window.showErrorMessage(`Strata: ${message}`);
    for (const execution of run.executions.values()) {
      execution.start(Date.now());
      await execution.replaceOutput(errorOutput(message));
      execution.end(false, Date.now());
    }
    run.executions.clear();
    run.summary.success = false;
    this.finishRun(run);
  }

  /** The cell's execution, started (clearing old outputs) on first use in this run. */
  private async started(run: Run, id: string): Promise<vscode.NotebookCellExecution | undefined> {
    const execution = this.execution(run, id);
    if (execution === undefined || run.started.has(id)) return execution;
    run.started.add(id);
    const key = run.notebook.uri.toString();
    const order = (this.executionOrder.get(key) ?? 0) + 1;
    this.executionOrder.set(key, order);
    execution.executionOrder = order;
    execution.start(Date.now());
    await execution.clearOutput();
    return execution;
  }

  private execution(run: Run, id: string | undefined): vscode.NotebookCellExecution | undefined {
    if (id === undefined || run.ended.has(id)) return undefined;
    const existing = run.executions.get(id);
    if (existing !== undefined) return existing;
    const cell = run.notebook.getCells().find((candidate) => cellId(candidate) === id);
    if (cell === undefined) return undefined;
    try {
      const execution = this.controller.createNotebookCellExecution(cell);
      run.executions.set(id, execution);
      return execution;
    } catch (error) {
      // Already executing in another run: that run keeps showing it.
      this.server.output.appendLine(`cell ${id}: ${String(error)}`);
      return undefined;
    }
  }

  dispose(): void {
    this.subscription.dispose();
    this.finished.dispose();
  }
}
