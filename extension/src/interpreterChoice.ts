// "Strata: Select Cell Environment...": which Python a notebook's cells run in. The cells'
// environment is not the server's: any environment the Python extension knows, the
// notebook's own `.venv`, the server's interpreter, or one browsed to. The choice is kept per
// notebook (workspaceState) and sent to the server (`strata/setInterpreter {notebook,
// executable}`), which starts the notebook's cell processes with it and makes it part of the
// environment fingerprint (strata_engine/envs/chosen.py). An interpreter the engine refuses
// (the cell harness cannot run there) leaves the choice unmade, and the user is told what to
// install: nothing is kept that the engine does not honour.
//
// The Python extension's API (the one `@vscode/python-extension` types) is reached through
// its exports; only the few members used here are declared below.
import * as vscode from 'vscode';
import { notebookMetadata } from './metadata';
import { isStrataNotebook } from './opening';
import { notebookVenvPython } from './paths';
import { runProcess } from './process';
import { StrataServer } from './server';

export const SET_INTERPRETER = 'strata/setInterpreter';
const STATE_KEY = 'strata.cellInterpreters';
const METHOD_NOT_FOUND = -32601;

// -- the Python extension's environments API (subset of @vscode/python-extension) ---------------
interface PyEnvironmentPath {
  readonly id: string;
  readonly path: string;
}
interface PyEnvironment extends PyEnvironmentPath {
  readonly executable: { readonly uri: vscode.Uri | undefined };
  readonly environment?: { readonly name?: string; readonly type?: string; readonly folderUri?: vscode.Uri } | undefined;
  readonly version?: { readonly major?: number; readonly minor?: number; readonly micro?: number } | undefined;
}
interface PyEnvironmentsApi {
  readonly known: readonly PyEnvironment[];
  getActiveEnvironmentPath(resource?: vscode.Uri): PyEnvironmentPath;
  resolveEnvironment(environment: PyEnvironment | PyEnvironmentPath | string): Promise<PyEnvironment | undefined>;
  readonly onDidChangeActiveEnvironmentPath: vscode.Event<{ readonly id: string; readonly path: string; readonly resource?: unknown }>;
  refreshEnvironments?(options?: { forceRefresh?: boolean }): Promise<void>;
}

async function pythonEnvironments(): Promise<PyEnvironmentsApi | undefined> {
  const extension = vscode.extensions.getExtension<{ environments?: PyEnvironmentsApi; ready?: Promise<void> }>('ms-python.python');
  if (extension === undefined) return undefined;
  try {
    const api = extension.isActive ? extension.exports : await extension.activate();
    await api.ready;
    return api.environments;
  } catch {
    return undefined;
  }
}

// -- what the pick offers (pure) -----------------------------------------------------------------
export type ChoiceKind = 'default' | 'follow' | 'pythonExtension' | 'notebookVenv' | 'server' | 'browse';

export interface EnvironmentPick extends vscode.QuickPickItem {
  choice: ChoiceKind;
  /** The interpreter (or, for a Python extension environment, its path or id to resolve). */
  target?: string;
}

export interface KnownEnvironment {
  id: string;
  path: string;
  executable?: string;
  name?: string;
  type?: string;
  version?: string;
}

export interface PickInput {
  /** The notebook's `.venv` interpreter, when it exists. */
  notebookVenv?: string;
  /** The Strata server's interpreter, when known. */
  serverPython?: string;
  /** The Python extension's environments; undefined when that extension is not installed. */
  known?: readonly KnownEnvironment[];
  /** The notebook's current choice (an executable, or FOLLOW). */
  current?: string;
}

export const FOLLOW = 'python-extension:active';

/** The entries of the pick, in order: default, own .venv, server, Python extension's, Browse. */
export function environmentPicks(input: PickInput): EnvironmentPick[] {
  const mark = (target: string | undefined): string | undefined => (target !== undefined && target === input.current ? 'current' : undefined);
  const picks: EnvironmentPick[] = [
    { choice: 'default', label: '$(circle-slash) Default', description: input.current === undefined ? 'current' : undefined, detail: "The notebook's own .venv when it has one, else the server's interpreter" },
  ];
  if (input.notebookVenv) picks.push({ choice: 'notebookVenv', label: "$(folder) Notebook's .venv", description: mark(input.notebookVenv), detail: input.notebookVenv, target: input.notebookVenv });
  if (input.serverPython) picks.push({ choice: 'server', label: "$(server-process) Strata server's interpreter", description: mark(input.serverPython), detail: input.serverPython, target: input.serverPython });
  if (input.known !== undefined) {
    picks.push({ choice: 'follow', label: "$(sync) Python extension's selected interpreter", description: mark(FOLLOW), detail: 'Follows the interpreter selected in the Python extension', target: FOLLOW });
    const seen = new Set(picks.map((pick) => pick.target));
    for (const env of input.known) {
      const target = env.executable ?? env.path;
      if (seen.has(target)) continue;
      seen.add(target);
      const label = [env.name || env.type || 'Python', env.version].filter(Boolean).join(' ');
      picks.push({ choice: 'pythonExtension', label: `$(python) ${label}`, description: mark(target) ?? env.type, detail: target, target: env.executable ?? env.id });
    }
  }
  picks.push({ choice: 'browse', label: '$(file-directory) Browse...', detail: 'Choose a Python interpreter on disk' });
  return picks;
}

function knownOf(env: PyEnvironment): KnownEnvironment {
  const v = env.version;
  const version = v?.major !== undefined ? [v.major, v.minor, v.micro].filter((part) => part !== undefined && part >= 0).join('.') : undefined;
  return { id: env.id, path: env.path, executable: env.executable.uri?.fsPath, name: env.environment?.name, type: env.environment?.type, version };
}

// -- asking the interpreter ---------------------------------------------------------------------
export interface InterpreterFacts {
  executable: string;
  version: string;
}

/** What an interpreter says about itself (`sys.executable`: the real path, on any platform). */
export async function describeInterpreter(executable: string): Promise<InterpreterFacts> {
  const script = 'import json, sys; print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0]}))';
  const result = await runProcess(executable, ['-c', script]).catch((error: Error) => ({ code: -1, stdout: '', stderr: error.message }));
  if (result.code !== 0) throw new Error(`${executable} does not run as Python: ${(result.stderr || result.stdout).trim().split('\n').pop() ?? ''}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as InterpreterFacts;
}

// -- the command ----------------------------------------------------------------------------------
/** The answer of `strata/setInterpreter` (docs/lsp-protocol.md). */
interface SetInterpreterResult {
  ok: boolean;
  message: string;
  /** The interpreter's own `sys.executable`, when one was chosen. */
  executable?: string;
}

export interface SelectOutcome {
  applied: boolean;
  /** The interpreter the notebook's cells now run in (undefined: the default). */
  executable?: string;
  message: string;
}

export class InterpreterChoices implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly server: StrataServer,
  ) {
    // A restarted server knows nothing of earlier choices: send them again.
    this.disposables.push(
      server.onDidStart(() => void this.resendAll()),
      vscode.workspace.onDidOpenNotebookDocument((notebook) => {
        const directory = isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
        if (directory !== undefined && this.choice(directory) !== undefined && server.isRunning) void this.resend(directory);
      }),
    );
    void pythonEnvironments().then((api) => {
      if (api !== undefined) this.disposables.push(api.onDidChangeActiveEnvironmentPath(() => void this.resendAll(true)));
    });
  }

  /** The stored choice of a notebook: an executable, FOLLOW, or undefined (the default). */
  choice(directory: string): string | undefined {
    return this.stored()[directory];
  }

  private stored(): Record<string, string> {
    return this.context.workspaceState.get<Record<string, string>>(STATE_KEY, {});
  }

  private async store(directory: string, choice: string | undefined): Promise<void> {
    const all = { ...this.stored() };
    if (choice === undefined) delete all[directory];
    else all[directory] = choice;
    await this.context.workspaceState.update(STATE_KEY, all);
  }

  /**
   * The command. `target` (tests, other commands) skips the pick: an interpreter path, FOLLOW,
   * or '' for the default.
   */
  async select(target?: string): Promise<SelectOutcome | undefined> {
    const notebook = vscode.window.activeNotebookEditor?.notebook;
    const directory = isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
    if (directory === undefined) {
      void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
      return undefined;
    }
    const choice = target ?? (await this.pick(directory));
    if (choice === undefined) return undefined;
    const outcome = await this.apply(directory, choice === '' ? undefined : choice).catch((error: unknown) => ({ applied: false, message: error instanceof Error ? error.message : String(error) }));
    if (outcome.applied) void vscode.window.showInformationMessage(`Strata: ${outcome.message}`);
    else void vscode.window.showWarningMessage(`Strata: ${outcome.message}`);
    return outcome;
  }

  private async pick(directory: string): Promise<string | undefined> {
    const api = await pythonEnvironments();
    const venv = notebookVenvPython(directory);
    const hasVenv = await vscode.workspace.fs.stat(vscode.Uri.file(venv)).then(() => true, () => false);
    const picks = environmentPicks({
      notebookVenv: hasVenv ? venv : undefined,
      serverPython: this.server.environment?.python,
      known: api?.known.map(knownOf),
      current: this.choice(directory),
    });
    const picked = await vscode.window.showQuickPick(picks, { title: 'Python environment for this notebook’s cells', matchOnDetail: true });
    if (picked === undefined) return undefined;
    if (picked.choice === 'default') return '';
    if (picked.choice !== 'browse') return picked.target;
    const files = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, openLabel: 'Use this interpreter', title: 'Python interpreter' });
    return files?.[0]?.fsPath;
  }

  /** Resolves `choice` to an interpreter, sends it to the server, and keeps it when accepted. */
  private async apply(directory: string, choice: string | undefined, quiet = false): Promise<SelectOutcome> {
    const executable = choice === undefined ? undefined : (await describeInterpreter(await this.resolve(choice))).executable;
    let answer: SetInterpreterResult;
    try {
      answer = await this.server.request<SetInterpreterResult>(SET_INTERPRETER, { notebook: directory, executable: executable ?? null });
    } catch (error) {
      if ((error as { code?: number }).code === METHOD_NOT_FOUND) {
        return { applied: false, message: `this Strata server cannot run cells in another interpreter (it does not take ${SET_INTERPRETER}); the notebook's cells keep their default environment.` };
      }
      throw error;
    }
    // The engine refuses an interpreter the cell harness cannot run in, saying what to install.
    if (!answer.ok) return { applied: false, message: `${answer.message}. The notebook keeps its previous environment.` };
    if (!quiet) await this.store(directory, choice);
    return { applied: true, executable: answer.executable ?? executable, message: answer.message };
  }

  /** An interpreter path for a choice: FOLLOW and Python extension ids go through its resolveEnvironment. */
  private async resolve(choice: string): Promise<string> {
    const api = await pythonEnvironments();
    if (choice === FOLLOW) {
      if (api === undefined) throw new Error('the Python extension is not installed, so there is no selected interpreter to follow');
      const active = await api.resolveEnvironment(api.getActiveEnvironmentPath());
      const path = active?.executable.uri?.fsPath;
      if (path === undefined) throw new Error('the Python extension has no interpreter selected');
      return path;
    }
    if (api !== undefined && !(await vscode.workspace.fs.stat(vscode.Uri.file(choice)).then(() => true, () => false))) {
      const resolved = await api.resolveEnvironment(choice);
      if (resolved?.executable.uri) return resolved.executable.uri.fsPath;
    }
    return choice;
  }

  /** Sends the stored choices of open notebooks again (after a restart, or the Python extension's selection changed). */
  private async resendAll(followersOnly = false): Promise<void> {
    const open = new Set(vscode.workspace.notebookDocuments.filter(isStrataNotebook).map((notebook) => notebookMetadata(notebook)?.directory));
    for (const [directory, choice] of Object.entries(this.stored())) {
      if (open.has(directory) && (!followersOnly || choice === FOLLOW)) await this.resend(directory);
    }
  }

  private async resend(directory: string): Promise<void> {
    const outcome = await this.apply(directory, this.choice(directory), true).catch((error: unknown) => ({ applied: false, message: String(error) }));
    if (!outcome.applied) this.server.output.appendLine(`cell interpreter of ${directory} not applied: ${outcome.message}`);
  }

  dispose(): void {
    this.disposables.forEach((disposable) => void disposable.dispose());
  }
}
