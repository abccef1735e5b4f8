// Per-notebook environments in the editor (SPEC 7): the status bar item of the active
// notebook's environment (`strata/environment`, kept current by `strata/environmentChanged`),
// "Sync Environment" and "Add Package..." (`strata/syncEnvironment`, `strata/addPackage`) with
// progress and uv's output (`strata/environmentLog`) in the Strata Server output channel, the
// `strata.addPackage` command of the `import_unresolved` quick fix (add, then re-run the
// cell), and the one offer per session to create a missing `.venv` when a notebook opens.
// The server decides everything about the environment; nothing here runs without being asked.
import * as path from 'path';
import * as vscode from 'vscode';
import { requireTrust } from './controller';
import { addPackageArgs, CREATE, CREATE_PROMPT, describeEnvironment, environmentActions, environmentPrompt, EnvironmentView, logLines, NOT_NOW, packageProblem } from './environmentView';
import { cellId, notebookMetadata } from './metadata';
import { serverDirectory } from './notebooks';
import { isStrataNotebook } from './opening';
import * as P from './protocol';
import { Runs, RunSummary } from './runs';
import { StrataServer } from './server';

const PROGRESS_MESSAGE_CHARS = 80;

export interface AddPackageOutcome {
  result: P.EnvironmentActionResult | undefined;
  /** The re-run of the quick fix's cell, when there was one. */
  rerun?: RunSummary;
}

export class Environments implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('strata.environment', vscode.StatusBarAlignment.Right, 98);
  private readonly known = new Map<string, P.EnvironmentInfo>();
  /** Notebooks offered a `.venv` this session: asked once, whatever the answer. */
  private readonly asked = new Set<string>();
  /** Per notebook, the sync/add in progress: the next one waits for it (one uv at a time). */
  private readonly busy = new Map<string, Promise<unknown>>();
  private unsupportedLogged = false;
  private readonly changed = new vscode.EventEmitter<string>();
  /** A notebook's environment is known or changed (tests wait on it). */
  readonly onDidChange = this.changed.event;
  private readonly offered = new vscode.EventEmitter<string>();
  /** The create-.venv offer was shown for a notebook (tests). */
  readonly onDidOffer = this.offered.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly server: StrataServer,
    private readonly runs: Runs,
  ) {
    this.item.name = 'Strata Environment';
    this.item.command = 'strata.environmentActions';
    this.subscriptions.push(
      server.onNotification(({ method, params }) => this.notified(method, params)),
      server.onDidStart(() => vscode.workspace.notebookDocuments.forEach((notebook) => void this.refresh(directoryOf(notebook)))),
      vscode.workspace.onDidOpenNotebookDocument((notebook) => void this.opened(notebook)),
      vscode.window.onDidChangeActiveNotebookEditor(() => this.activeChanged()),
      vscode.workspace.onDidGrantWorkspaceTrust(() => vscode.workspace.notebookDocuments.forEach((notebook) => void this.offer(directoryOf(notebook)))),
      vscode.commands.registerCommand('strata.syncEnvironment', (notebook?: unknown) => this.syncCommand(notebook)),
      vscode.commands.registerCommand('strata.addPackage', (args?: unknown) => this.addPackageCommand(args)),
      vscode.commands.registerCommand('strata.environmentActions', () => this.pickAction()),
    );
    vscode.workspace.notebookDocuments.forEach((notebook) => void this.opened(notebook));
    this.render();
  }

  /** The last known environment of a notebook directory. */
  info(directory: string): P.EnvironmentInfo | undefined {
    return this.known.get(directory);
  }

  /** What the status bar item shows now (tests read it); undefined while hidden. */
  get view(): EnvironmentView | undefined {
    const directory = activeDirectory();
    const env = directory === undefined ? undefined : this.known.get(directory);
    return env === undefined ? undefined : describeEnvironment(env);
  }

  /** Ask the server for a notebook's environment (undefined: not a notebook, or unsupported). */
  async refresh(directory: string | undefined): Promise<P.EnvironmentInfo | undefined> {
    if (directory === undefined) return undefined;
    try {
      const env = await this.server.request<P.EnvironmentInfo>(P.Methods.environment, { notebook: directory });
      this.update(env, directory);
      return env;
    } catch (error) {
      if (!this.unsupportedLogged) this.server.output.appendLine(`environment of ${directory}: ${errorText(error)}`);
      this.unsupportedLogged = true;
      return undefined;
    }
  }

  private notified(method: string, params: unknown): void {
    if (method === P.Methods.environmentChanged) {
      const env = params as P.EnvironmentInfo;
      this.update(env, serverDirectory(env.notebook));
    } else if (method === P.Methods.environmentLog) {
      const log = params as P.EnvironmentLog;
      for (const line of logLines(log.text)) this.server.output.appendLine(`[${path.basename(serverDirectory(log.notebook))}] ${line}`);
    }
  }

  private update(env: P.EnvironmentInfo, directory: string): void {
    this.known.set(directory, env);
    this.render();
    this.changed.fire(directory);
  }

  private async opened(notebook: vscode.NotebookDocument): Promise<void> {
    const directory = directoryOf(notebook);
    if (directory === undefined) return;
    await this.refresh(directory);
    await this.offer(directory);
  }

  private activeChanged(): void {
    this.render();
    const directory = activeDirectory();
    if (directory !== undefined && !this.known.has(directory)) void this.refresh(directory);
  }

  /** The once-per-session offer to create a notebook's missing `.venv` (trusted workspaces only). */
  private async offer(directory: string | undefined): Promise<void> {
    if (directory === undefined) return;
    const env = this.known.get(directory);
    if (environmentPrompt(env, { trusted: vscode.workspace.isTrusted, asked: this.asked.has(directory) }) !== 'create') return;
    this.asked.add(directory);
    this.offered.fire(directory);
    const choice = await vscode.window.showInformationMessage(`Strata (${path.basename(directory)}): ${CREATE_PROMPT}`, CREATE, NOT_NOW);
    if (choice === CREATE) await this.sync(directory);
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
    this.item.accessibilityInformation = { label: `Strata environment: ${view.text.replace(/\$\([^)]*\)\s*/g, '')}` };
    this.item.show();
  }

  private async pickAction(): Promise<void> {
    const directory = activeDirectory() ?? requireNotebook();
    if (directory === undefined) return;
    const actions = environmentActions(this.known.get(directory));
    const picked = await vscode.window.showQuickPick(actions, { title: `Environment of ${path.basename(directory)}` });
    if (picked?.id === 'sync') await this.sync(directory);
    else if (picked?.id === 'add') await this.addPackageCommand(undefined);
    else if (picked?.id === 'output') this.server.showOutput();
  }

  private async syncCommand(notebook: unknown): Promise<P.EnvironmentActionResult | undefined> {
    const directory = typeof notebook === 'string' ? serverDirectory(notebook) : (activeDirectory() ?? requireNotebook());
    return directory === undefined ? undefined : this.sync(directory);
  }

  /** "Strata: Sync Environment": create or update the notebook's `.venv` (uv sync). */
  sync(directory: string): Promise<P.EnvironmentActionResult | undefined> {
    if (!requireTrust()) return Promise.resolve(undefined);
    return this.act(directory, `syncing the environment of ${path.basename(directory)}`, P.Methods.syncEnvironment, { notebook: directory });
  }

  /**
   * "Strata: Add Package..." from the palette (asks for the distribution), or the quick fix
   * of `import_unresolved` with `{notebook, package, cellId}`: add, sync, re-run the cell.
   */
  async addPackageCommand(args: unknown): Promise<AddPackageOutcome> {
    const given = addPackageArgs(args);
    const directory = given ? serverDirectory(given.notebook) : (activeDirectory() ?? requireNotebook());
    if (directory === undefined || !requireTrust()) return { result: undefined };
    const requirement =
      given?.package ??
      (await vscode.window.showInputBox({
        title: `Add Package to ${path.basename(directory)}`,
        prompt: 'A distribution to add to the notebook’s pyproject.toml (uv add), then sync its .venv',
        placeHolder: 'tabulate, pandas>=2, httpx[http2]',
        validateInput: packageProblem,
      }));
    if (requirement === undefined) return { result: undefined };
    return this.addPackage(directory, requirement.trim(), given?.cellId);
  }

  async addPackage(directory: string, requirement: string, rerunCell?: string): Promise<AddPackageOutcome> {
    const result = await this.act(directory, `adding ${requirement} to ${path.basename(directory)}`, P.Methods.addPackage, { notebook: directory, package: requirement });
    if (!result?.ok || rerunCell === undefined) return { result };
    return { result, rerun: await this.rerun(directory, rerunCell) };
  }

  /** Run one uv action with progress, serialized per notebook; failures say so with "Show Output". */
  private act(directory: string, title: string, method: string, params: object): Promise<P.EnvironmentActionResult | undefined> {
    const previous = this.busy.get(directory) ?? Promise.resolve();
    const task = previous.catch(() => undefined).then(() => this.withProgress(directory, title, method, params));
    this.busy.set(directory, task);
    void task.finally(() => this.busy.get(directory) === task && this.busy.delete(directory)).catch(() => undefined);
    return task;
  }

  private async withProgress(directory: string, title: string, method: string, params: object): Promise<P.EnvironmentActionResult | undefined> {
    this.server.output.appendLine(`${title}`);
    const options = { location: vscode.ProgressLocation.Notification, title: `Strata: ${title}`, cancellable: false };
    let result: P.EnvironmentActionResult;
    try {
      result = await vscode.window.withProgress(options, async (progress) => {
        // The latest line of uv's output under the title; the whole log goes to the channel.
        const subscription = this.server.onNotification(({ method: name, params: log }) => {
          const entry = log as P.EnvironmentLog;
          const line = name === P.Methods.environmentLog && serverDirectory(entry.notebook) === directory ? logLines(entry.text).pop() : undefined;
          if (line) progress.report({ message: line.length > PROGRESS_MESSAGE_CHARS ? `${line.slice(0, PROGRESS_MESSAGE_CHARS)}…` : line });
        });
        try {
          return await this.server.request<P.EnvironmentActionResult>(method, params);
        } finally {
          subscription.dispose();
        }
      });
    } catch (error) {
      result = { ok: false, message: errorText(error) };
    }
    this.server.output.appendLine(`${title}: ${result.ok ? 'done' : 'failed'}${result.message ? `: ${result.message}` : ''}`);
    // The server pushes environmentChanged; asking again covers a change it did not report.
    await this.refresh(directory);
    if (result.ok) {
      vscode.window.setStatusBarMessage(`Strata: ${result.message || `${title}: done`}`, 5_000);
    } else {
      void vscode.window.showErrorMessage(`Strata: ${title} failed: ${result.message}`, 'Show Output').then((choice) => choice && this.server.showOutput());
    }
    return result;
  }

  private async rerun(directory: string, id: string): Promise<RunSummary | undefined> {
    for (const notebook of vscode.workspace.notebookDocuments) {
      if (directoryOf(notebook) !== directory) continue;
      const cell = notebook.getCells().find((candidate) => cellId(candidate) === id);
      if (cell !== undefined) return this.runs.start(notebook, 'cells', [id], [cell]);
    }
    this.server.output.appendLine(`re-running ${id}: no open notebook ${directory} has that cell`);
    return undefined;
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.item.dispose();
    this.changed.dispose();
    this.offered.dispose();
  }
}

function directoryOf(notebook: vscode.NotebookDocument): string | undefined {
  return isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
}

function activeDirectory(): string | undefined {
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  return notebook === undefined ? undefined : directoryOf(notebook);
}

function requireNotebook(): undefined {
  void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
  return undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
