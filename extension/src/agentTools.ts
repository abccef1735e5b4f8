// The notebook as language model tools for Copilot's agent mode. package.json contributes one
// tool per engine tool (`strata_<name>`, generated from the engine's TOOL_SPECS by
// scripts/agent-tools-manifest.py, whose --check keeps them equal); each forwards to the
// language server's `strata/agentToolCall`, which calls the engine, the same API `strata mcp`
// serves. What a tool does, and which ones run code or destroy work, is the engine's.
//
// Here: the confirmation VS Code shows before a destructive call (and before any SQL is
// written: a SQL cell may write to a database), the workspace-trust gate on tools that run
// code, the root the tools act under (the workspace folder holding the notebook), saving an
// open notebook with unsaved edits before the agent changes or runs it (so it works on what
// the user sees, and VS Code reloads the agent's edit from disk instead of reporting a
// conflict), showing in the open notebook the outputs of the cells a call ran or served (as a
// run from the editor shows them), and a bound on what goes back into the model's context.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { languageOfId } from './languages';
import { cellId, notebookMetadata } from './metadata';
import { readNotebook } from './notebookDir';
import { OpenNotebooks, RanCell } from './notebooks';
import { isStrataNotebook } from './opening';
import { StrataServer } from './server';

export const AGENT_TOOLS_METHOD = 'strata/agentTools';
export const AGENT_TOOL_CALL_METHOD = 'strata/agentToolCall';
export const TOOL_PREFIX = 'strata_';
/** Characters of a tool result handed to the model (the engine bounds outputs already). */
export const MAX_RESULT_CHARS = 24_000;
const MANIFEST = 'notebook.toml';
/** Cell languages whose writing is confirmed: a SQL cell may change a database. */
const CONFIRMED_LANGUAGES = new Set(['sql']);
/** Tools that neither change nor run a notebook: no save before them. */
const READ_ONLY = new Set(['list_notebooks', 'get_notebook', 'get_cell', 'read_variable', 'get_dag', 'validate']);
/** How long a call waits for the open notebook to show its edit before forcing a reload. */
const SHOWN_TIMEOUT_MS = 5_000;

/** Tells the notebook file system that a notebook's files changed on disk (see fileSystem.refresh). */
export type DiskChanged = (directory: string) => Promise<void>;

/** One engine tool, as `strata/agentTools` answers. */
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  destructive: boolean;
  runsCode: boolean;
}

/** The engine's ToolResult JSON. */
export interface ToolResultJson {
  text: string;
  data?: unknown;
  isError?: boolean;
}

export type ToolInput = Record<string, unknown>;

/** What package.json's contributes.languageModelTools holds for one tool. */
export interface ToolContribution {
  name: string;
  inputSchema?: Record<string, unknown>;
}

export function engineName(contributed: string): string {
  return contributed.startsWith(TOOL_PREFIX) ? contributed.slice(TOOL_PREFIX.length) : contributed;
}

function title(name: string): string {
  const words = name.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function stringOf(input: ToolInput, key: string): string | undefined {
  const value = input[key];
  return typeof value === 'string' && value ? value : undefined;
}

/** "Run cell `load` in `quickstart`": what the chat shows while a tool runs. */
export function invocationMessage(name: string, input: ToolInput): string {
  const cell = stringOf(input, 'cell');
  const notebook = stringOf(input, 'notebook');
  return `${title(name)}${cell ? ` \`${cell}\`` : ''}${notebook ? ` in \`${notebook}\`` : ''}`;
}

/** Why a call needs the user's confirmation, or undefined when it does not. */
export function confirmationReason(spec: ToolSpec, input: ToolInput, languageOfCell?: string): string | undefined {
  const language = stringOf(input, 'language') ?? languageOfCell;
  const writesSql = language !== undefined && CONFIRMED_LANGUAGES.has(language) && (stringOf(input, 'source') !== undefined || spec.runsCode);
  if (spec.destructive) return spec.runsCode ? 'It runs code in the notebook.' : 'It changes the notebook in a way that cannot be undone from the agent.';
  if (writesSql) return 'It writes a SQL cell, which may change a database when it runs.';
  return undefined;
}

/** Why a call may not run here (tools that run code need a trusted workspace), or undefined. */
export function trustRefusal(spec: ToolSpec, trusted: boolean): string | undefined {
  if (!spec.runsCode || trusted) return undefined;
  return `Strata's ${spec.name} runs notebook code, which needs a trusted workspace. Nothing ran. Ask the user to trust this folder (Workspaces: Manage Workspace Trust), or use a tool that only reads or edits.`;
}

/** A result bounded for the model's context, saying so when cut. */
export function bounded(text: string, limit = MAX_RESULT_CHARS): string {
  if (text.length <= limit) return text;
  return `${text.slice(0, limit)}\n… [${text.length - limit} more characters cut; ask for a single cell or variable]`;
}

function inside(directory: string, target: string): boolean {
  const relative = path.relative(directory, target);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * The directory the tools act under, and the input with its notebook relative to it: the
 * workspace folder holding the notebook (an absolute notebook path is made relative; a relative
 * one is looked for in each folder), else the first folder; with no folder open, the parent of
 * the active Strata notebook. Without a notebook, a tool that takes one gets the active notebook.
 */
export function resolveRoot(
  input: ToolInput,
  folders: readonly string[],
  activeNotebook: string | undefined,
  acceptsNotebook = true,
  exists: (file: string) => boolean = fs.existsSync,
): { root: string; input: ToolInput } | undefined {
  const notebook = stringOf(input, 'notebook');
  const candidates = folders.length > 0 ? folders : activeNotebook ? [path.dirname(activeNotebook)] : [];
  if (notebook !== undefined && path.isAbsolute(notebook)) {
    const root = candidates.find((folder) => inside(folder, notebook)) ?? path.dirname(notebook);
    return { root, input: { ...input, notebook: path.relative(root, notebook) || '.' } };
  }
  if (notebook !== undefined) {
    const root = candidates.find((folder) => exists(path.join(folder, notebook, MANIFEST)));
    if (root !== undefined) return { root, input };
  }
  const root = activeNotebook !== undefined ? (candidates.find((folder) => inside(folder, activeNotebook)) ?? candidates[0]) : candidates[0];
  if (root === undefined) return undefined;
  // "this notebook" in the chat is the one in front of the user.
  const active = notebook === undefined && acceptsNotebook && activeNotebook !== undefined && inside(root, activeNotebook);
  return { root, input: active ? { ...input, notebook: path.relative(root, activeNotebook) || '.' } : input };
}

function openNotebookOf(directory: string): vscode.NotebookDocument | undefined {
  return vscode.workspace.notebookDocuments.find((notebook) => isStrataNotebook(notebook) && notebookMetadata(notebook)?.directory === directory);
}

function activeNotebookDirectory(): string | undefined {
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  return notebook && isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
}

function acceptsNotebook(spec: ToolSpec): boolean {
  const properties = spec.inputSchema.properties;
  return typeof properties === 'object' && properties !== null && 'notebook' in properties;
}

/** Where a call acts: its root, its input with the notebook relative to it, and the notebook's directory if named. */
function place(spec: ToolSpec, input: ToolInput): { root: string; input: ToolInput; directory?: string } | undefined {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((folder) => folder.uri.scheme === 'file').map((folder) => folder.uri.fsPath);
  const placed = resolveRoot(input, folders, activeNotebookDirectory(), acceptsNotebook(spec));
  const notebook = placed && stringOf(placed.input, 'notebook');
  return placed && { ...placed, directory: notebook !== undefined ? path.resolve(placed.root, notebook) : undefined };
}

/** Whether the notebook shows the cells on disk (ids, order, text). */
async function showsDiskState(notebook: vscode.NotebookDocument, directory: string): Promise<boolean> {
  const disk = await readNotebook(directory).catch(() => undefined);
  if (disk === undefined) return true; // a broken manifest: nothing better to show
  const shown = notebook.getCells();
  return shown.length === disk.cells.length && disk.cells.every((cell, index) => cellId(shown[index]) === cell.id && shown[index].document.getText().trimEnd() === cell.source.trimEnd());
}

/**
 * Returns once the open notebook shows the agent's edit. The call wrote the files, so the
 * file system is told at once rather than left to a watcher; when two edits land while VS Code is still reloading the first, the second reload can be
 * coalesced away, so after a while an unchanged (not dirty) notebook is reloaded by reverting
 * it. Waiting also keeps the agent's next edit from racing the reload of this one.
 */
async function showDiskState(notebook: vscode.NotebookDocument, directory: string, diskChanged?: DiskChanged): Promise<void> {
  await diskChanged?.(directory);
  const check = (): Promise<boolean> => (notebook.isDirty ? Promise.resolve(true) : showsDiskState(notebook, directory));
  const shown = await new Promise<boolean>((resolve) => {
    const finish = (value: boolean): void => {
      clearTimeout(timer);
      listener.dispose();
      resolve(value);
    };
    const timer = setTimeout(() => finish(false), SHOWN_TIMEOUT_MS);
    const listener = vscode.workspace.onDidChangeNotebookDocument((event) => event.notebook === notebook && void check().then((ok) => ok && finish(true)));
    void check().then((ok) => ok && finish(true));
  });
  if (shown || notebook.isDirty) return;
  const editor = await vscode.window.showNotebookDocument(notebook, { preserveFocus: true });
  if (editor.notebook === notebook && !notebook.isDirty) await vscode.commands.executeCommand('workbench.action.files.revert');
}

function isRanCell(value: unknown): value is RanCell {
  const cell = value as Partial<RanCell> | null;
  return typeof cell === 'object' && cell !== null && typeof cell.cell === 'string' && typeof cell.status === 'string' && typeof cell.cacheHit === 'boolean';
}

/**
 * The cells a code-running call ran or served, from its result's data (`cells`: each cell's
 * outcome); undefined when the data does not say (then every cell is shown), [] when nothing
 * ran (a refused call).
 */
export function ranCells(result: ToolResultJson): RanCell[] | undefined {
  const cells = (result.data as { cells?: unknown } | undefined)?.cells;
  if (Array.isArray(cells) && cells.every(isRanCell)) return cells;
  return result.isError && result.data === undefined ? [] : undefined;
}

function errorResult(text: string): vscode.LanguageModelToolResult {
  return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(text)]);
}

/** The engine's tools as VS Code language model tools, forwarding to the language server. */
export class AgentTools implements vscode.Disposable {
  private specs: Promise<Map<string, ToolSpec>> | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly server: StrataServer,
    contributions: readonly ToolContribution[],
    private readonly notebooks?: OpenNotebooks,
    private readonly diskChanged?: DiskChanged,
  ) {
    for (const contribution of contributions) {
      const name = engineName(contribution.name);
      this.subscriptions.push(
        vscode.lm.registerTool<ToolInput>(contribution.name, {
          prepareInvocation: (options) => this.prepare(name, options.input ?? {}),
          invoke: (options, token) => this.invoke(name, options.input ?? {}, token),
        }),
      );
    }
    // A restarted server may be a newer engine: ask for its tools again.
    this.subscriptions.push(server.onDidStart(() => (this.specs = undefined)));
  }

  /** The engine's tools by name (asked once per server start). */
  spec(name: string): Promise<ToolSpec | undefined> {
    this.specs ??= this.server.request<ToolSpec[]>(AGENT_TOOLS_METHOD, {}).then(
      (specs) => new Map(specs.map((spec) => [spec.name, spec])),
      (error: unknown) => {
        this.specs = undefined;
        throw error;
      },
    );
    return this.specs.then((specs) => specs.get(name));
  }

  async prepare(name: string, input: ToolInput): Promise<vscode.PreparedToolInvocation> {
    const spec = await this.spec(name);
    const message = invocationMessage(name, input);
    if (spec === undefined) return { invocationMessage: message };
    const reason = confirmationReason(spec, input, this.languageOfCell(spec, input));
    if (reason === undefined) return { invocationMessage: message };
    const details = new vscode.MarkdownString(`The agent asks to **${message}**. ${reason}`);
    const source = stringOf(input, 'source');
    if (source !== undefined) details.appendCodeblock(bounded(source, 2_000), stringOf(input, 'language') ?? '');
    return { invocationMessage: message, confirmationMessages: { title: `Strata: ${title(name)}?`, message: details } };
  }

  async invoke(name: string, input: ToolInput, token?: vscode.CancellationToken): Promise<vscode.LanguageModelToolResult> {
    const spec = await this.spec(name);
    if (spec === undefined) return errorResult(`Strata has no tool "${name}" (the server's engine may be older than the extension).`);
    const refused = trustRefusal(spec, vscode.workspace.isTrusted);
    if (refused !== undefined) return errorResult(refused);
    const placed = place(spec, input);
    if (placed === undefined) return errorResult('Strata: no workspace folder or Strata notebook is open, so there is no notebook to act on.');
    const open = placed.directory !== undefined ? openNotebookOf(placed.directory) : undefined;
    if (open?.isDirty && !READ_ONLY.has(name)) await open.save();
    if (token?.isCancellationRequested) return errorResult('Cancelled before Strata did anything.');
    const result = await this.server.request<ToolResultJson>(AGENT_TOOL_CALL_METHOD, { root: placed.root, tool: name, arguments: placed.input, allowRun: vscode.workspace.isTrusted });
    if (open !== undefined && placed.directory !== undefined && !READ_ONLY.has(name)) await showDiskState(open, placed.directory, this.diskChanged);
    if (open !== undefined && spec.runsCode) await this.showOutputs(open, result);
    return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(bounded(result.text))]);
  }

  /** The outputs of the cells a run ran or served, replacing what the open notebook showed. */
  private async showOutputs(notebook: vscode.NotebookDocument, result: ToolResultJson): Promise<void> {
    const ran = ranCells(result);
    const outcomes = ran && new Map(ran.map((cell) => [cell.cell, cell]));
    try {
      await this.notebooks?.restore(notebook, { cellIds: outcomes && [...outcomes.keys()], replace: true, outcomes });
    } catch (error) {
      // The run happened and its result goes to the model; only showing it failed.
      this.server.output.appendLine(`showing the outputs of an agent's run: ${String(error)}`);
    }
  }

  /** The language of the cell a call targets, when its notebook is open (a SQL cell's edit is confirmed). */
  private languageOfCell(spec: ToolSpec, input: ToolInput): string | undefined {
    const id = stringOf(input, 'cell');
    const directory = id !== undefined ? place(spec, input)?.directory : undefined;
    const cell = directory !== undefined ? openNotebookOf(directory)?.getCells().find((candidate) => cellId(candidate) === id) : undefined;
    return cell ? languageOfId(cell.document.languageId) : undefined;
  }

  dispose(): void {
    this.subscriptions.forEach((subscription) => void subscription.dispose());
  }
}

/** Registers every tool package.json contributes. */
export function registerAgentTools(context: vscode.ExtensionContext, server: StrataServer, notebooks?: OpenNotebooks, diskChanged?: DiskChanged): AgentTools {
  const contributes = (context.extension.packageJSON as { contributes?: { languageModelTools?: ToolContribution[] } }).contributes;
  return new AgentTools(server, contributes?.languageModelTools ?? [], notebooks, diskChanged);
}
