// Starting, restarting and talking to the Strata language server (`python -m strata_lsp`).
// Diagnostics, quick fixes and hovers need nothing here: vscode-languageclient wires them
// up for cell documents. The `strata/...` notifications are re-emitted as one event stream
// for the controller and the status bar.
import * as path from 'path';
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, State, TransportKind } from 'vscode-languageclient/node';
import { NOTEBOOK_TYPE } from './bundle';
import { CODE_LANGUAGE_IDS } from './languages';
import { CachedCell, CachedOutputsResult, Methods } from './protocol';
import { resolveServerEnvironment, ServerEnvironment, SetupError } from './python';
import { notebookTextMiddleware, TEXT_DOCUMENT_SELECTOR } from './textDocuments';

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

export interface ServerNotification {
  method: string;
  params: unknown;
}

const CACHED_RESULTS_WAIT_MS = 1_500;

const NOTIFICATIONS = [
  Methods.cellStarted,
  Methods.cellCacheHit,
  Methods.cellOutput,
  Methods.cellStream,
  Methods.cellProgress,
  Methods.cellError,
  Methods.cellFinished,
  Methods.runFinished,
  Methods.notebookState,
  Methods.workerHealth,
  Methods.environmentChanged,
  Methods.environmentLog,
];

/** `strata.workerHealthInterval`: seconds between health probes of remote workers (0: only on open, edit and demand). */
function workerHealthSeconds(): number {
  const value = vscode.workspace.getConfiguration('strata').get<number>('workerHealthInterval', 15);
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 15;
}

export class StrataServer implements vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('Strata Server', { log: true });
  private readonly trace = vscode.window.createOutputChannel('Strata Server Trace', { log: true });
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private readonly notifications = new vscode.EventEmitter<ServerNotification>();
  readonly onNotification = this.notifications.event;
  private readonly started = new vscode.EventEmitter<void>();
  /** Fired each time a (re)started server is ready: open notebooks re-ask for their state. */
  readonly onDidStart = this.started.event;
  environment: ServerEnvironment | undefined;
  /** When the running server finished starting (Date.now()). */
  startedAt: number | undefined;
  private currentState: ServerState = 'stopped';
  private readonly stateChanged = new vscode.EventEmitter<ServerState>();
  readonly onDidChangeState = this.stateChanged.event;

  constructor(private readonly context: vscode.ExtensionContext) {}

  get state(): ServerState {
    return this.currentState;
  }

  private setState(state: ServerState): void {
    this.currentState = state;
    this.stateChanged.fire(state);
  }

  /** The running client, starting (and on first use installing) the server if needed. */
  ensureStarted(): Promise<LanguageClient> {
    this.starting ??= this.start().catch((error: unknown) => {
      this.starting = undefined; // the next request retries
      this.setState('failed');
      void this.reportFailure(error);
      throw error;
    });
    return this.starting;
  }

  /** The running language client (for Show Diagnostics: server info and process). */
  get languageClient(): LanguageClient | undefined {
    return this.client;
  }

  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  private async start(): Promise<LanguageClient> {
    this.setState('starting');
    const environment = await resolveServerEnvironment(this.context, this.output);
    this.environment = environment;
    // Terminals opened in this window find `strata` (the CLI of the same engine).
    this.context.environmentVariableCollection.prepend('PATH', environment.binDir + path.delimiter);
    this.context.environmentVariableCollection.description = 'Puts the Strata CLI (`strata`) on PATH';
    const serverOptions: ServerOptions = {
      command: environment.python,
      args: ['-m', 'strata_lsp'],
      transport: TransportKind.stdio,
      options: { env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    };
    const clientOptions: LanguageClientOptions = {
      // Notebook cells, plus cell files and notebook.toml opened as text (textDocuments.ts).
      documentSelector: [...CODE_LANGUAGE_IDS.map((language) => ({ notebook: { notebookType: NOTEBOOK_TYPE }, language })), ...TEXT_DOCUMENT_SELECTOR],
      middleware: notebookTextMiddleware(),
      outputChannel: this.output,
      traceOutputChannel: this.trace,
      // pythonWarmUp: jedi loads what Python completion needs before the first request.
      initializationOptions: { workerHealthSeconds: workerHealthSeconds(), pythonWarmUp: true },
    };
    const client = new LanguageClient('strata', 'Strata', serverOptions, clientOptions);
    for (const method of NOTIFICATIONS) {
      client.onNotification(method, (params: unknown) => this.notifications.fire({ method, params }));
    }
    this.output.appendLine(`starting ${environment.python} -m strata_lsp`);
    client.onDidChangeState(({ newState }) => this.setState(newState === State.Running ? 'running' : newState === State.Starting ? 'starting' : 'stopped'));
    await client.start();
    this.client = client;
    this.startedAt = Date.now();
    this.setState('running');
    this.started.fire();
    return client;
  }

  async request<R>(method: string, params: unknown): Promise<R> {
    const client = await this.ensureStarted();
    return client.sendRequest<R>(method, params);
  }

  /**
   * The cached results of a notebook's cells if the server is up (the file system asks while
   * VS Code reads a notebook, which must not wait for a server that is still installing).
   */
  async cachedResults(directory: string): Promise<CachedCell[] | undefined> {
    if (!this.isRunning || this.client === undefined) return undefined;
    const request = this.client.sendRequest<CachedOutputsResult>(Methods.cachedOutputs, { notebook: directory, cellIds: [] });
    // A busy server must not hold the notebook up: without an answer soon, the notebook opens
    // bare and its outputs are restored when the answer comes (notebooks.ts).
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), CACHED_RESULTS_WAIT_MS)));
    try {
      return (await Promise.race([request, late]))?.cells;
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    const previous = this.starting;
    this.starting = undefined;
    this.client = undefined;
    const client = await previous?.catch(() => undefined);
    await client?.stop().catch((error: unknown) => this.output.appendLine(`stopping the server: ${String(error)}`));
    await this.ensureStarted();
  }

  showOutput(): void {
    this.output.show(true);
  }

  private async reportFailure(error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    this.output.appendLine(`server not started: ${message}`);
    const actions = ['Show Output', 'Retry'];
    if (error instanceof SetupError && error.setting) actions.unshift('Open Settings');
    const choice = await vscode.window.showErrorMessage(`Strata: ${message}`, ...actions);
    if (choice === 'Open Settings' && error instanceof SetupError) {
      await vscode.commands.executeCommand('workbench.action.openSettings', error.setting);
    } else if (choice === 'Show Output') {
      this.showOutput();
    } else if (choice === 'Retry') {
      await this.ensureStarted().catch(() => undefined);
    }
  }

  async dispose(): Promise<void> {
    const client = await this.starting?.catch(() => undefined);
    await client?.stop().catch(() => undefined);
    this.notifications.dispose();
    this.started.dispose();
    this.stateChanged.dispose();
    this.output.dispose();
    this.trace.dispose();
  }
}
