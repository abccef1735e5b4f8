// Shared by the integration suites: fresh copies of the samples (in git, so a test can ask
// `git diff` what a save wrote), the extension's API, and waiting for conditions on events
// (never sleeping).
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { StrataApi } from '../../extension';
import { cellId, notebookMetadata } from '../../metadata';

export const EXTENSION_ID = 'strata.strata-notebooks';

export async function strataApi(): Promise<StrataApi> {
  const extension = vscode.extensions.getExtension<StrataApi>(EXTENSION_ID);
  if (extension === undefined) throw new Error(`${EXTENSION_ID} is not installed`);
  return extension.activate();
}

export const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
let copies = 0;

/** A git-tracked copy of samples/NAME (without its .strata store) in the test workspace. */
export function freshCopy(sample: string): string {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspace === undefined) throw new Error('the tests need a workspace folder');
  const target = path.join(workspace, `${sample}-${process.pid}-${++copies}`);
  // Editable: no store, and no strata.lock (a frozen sample would open read-only).
  const skip = (source: string) => source.includes(`${path.sep}.strata`) || path.basename(source) === 'strata.lock';
  fs.cpSync(path.join(repoRoot, 'samples', sample), target, { recursive: true, filter: (source) => !skip(source) });
  git(target, 'init', '-q');
  git(target, 'add', '-A');
  git(target, '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'sample');
  return fs.realpathSync(target);
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' });
}

/** `strata ARGS` with the same interpreter as the server; parsed JSON stdout. */
export function strataJson<T>(...args: string[]): T {
  const python = process.env.STRATA_SERVER_PYTHON;
  if (!python) throw new Error('STRATA_SERVER_PYTHON is not set');
  return JSON.parse(execFileSync(python, ['-m', 'strata_engine.cli', ...args], { encoding: 'utf8' })) as T;
}

export interface StatusJson {
  cells: { id: string; state: string; reasons: { reason: string; cell?: string }[] }[];
}

export async function openNotebook(directory: string): Promise<vscode.NotebookEditor> {
  await vscode.commands.executeCommand('strata.openNotebook', vscode.Uri.file(directory));
  const editor = vscode.window.activeNotebookEditor;
  if (editor === undefined || notebookMetadata(editor.notebook)?.directory !== directory) throw new Error(`${directory} did not open as the active notebook`);
  return editor;
}

export function cell(notebook: vscode.NotebookDocument, id: string): vscode.NotebookCell {
  const found = notebook.getCells().find((candidate) => cellId(candidate) === id);
  if (found === undefined) throw new Error(`no cell ${id}`);
  return found;
}

export function codeCellIds(notebook: vscode.NotebookDocument): string[] {
  return notebook
    .getCells()
    .filter((c) => c.kind === vscode.NotebookCellKind.Code)
    .map((c) => cellId(c) ?? '');
}

/**
 * Resolves with the first truthy value of `check`, re-checked whenever one of `events` fires
 * (and, as a safety net for changes no event reports, every 200 ms); rejects after `timeoutMs`
 * with `what` and the last value seen.
 */
export function waitFor<T>(what: string, check: () => T | undefined | null | false, events: vscode.Event<unknown>[] = [], timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const subscriptions: vscode.Disposable[] = [];
    let last: unknown;
    const finish = (error: Error | undefined, value?: T): void => {
      clearTimeout(timer);
      clearInterval(poll);
      subscriptions.forEach((subscription) => void subscription.dispose());
      if (error) reject(error);
      else resolve(value as T);
    };
    const test = (): void => {
      try {
        const value = check();
        last = value;
        if (value) finish(undefined, value);
      } catch (error) {
        last = error;
      }
    };
    const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what} (last: ${String(last)})`)), timeoutMs);
    const poll = setInterval(test, 200);
    for (const event of events) subscriptions.push(event(test));
    test();
  });
}

/** The text of every output item of a cell, keyed by mime type. */
export function outputTexts(target: vscode.NotebookCell): Record<string, string[]> {
  const result: Record<string, string[]> = {};
  for (const output of target.outputs) {
    for (const item of output.items) {
      (result[item.mime] ??= []).push(Buffer.from(item.data).toString('utf8'));
    }
  }
  return result;
}

/** Suites leave no editors behind (each open notebook keeps listeners alive). */
export async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

export async function replaceCellText(target: vscode.NotebookCell, text: string): Promise<void> {
  const document = target.document;
  const edit = new vscode.WorkspaceEdit();
  edit.replace(document.uri, new vscode.Range(0, 0, document.lineCount, 0), text);
  if (!(await vscode.workspace.applyEdit(edit))) throw new Error('edit not applied');
}
