// "Promote Cell to Module...": forwards to the engine's promote through `strata/promoteCell`.
// The engine moves the cell's functions and classes into a module, rewrites the cell file to
// import them and writes a skeleton test; the notebook picks the new cell source up from disk
// (fileSystem.ts watches cells/). A refusal (names that close over runtime values, a target
// outside the notebook, an existing file) is the engine's message, shown as is.
import * as path from 'path';
import * as vscode from 'vscode';
import { cellId, notebookMetadata } from './metadata';
import { isStrataNotebook } from './opening';
import { StrataServer } from './server';

const PROMOTE_METHOD = 'strata/promoteCell';
const PYTHON_LANGUAGE_IDS = new Set(['strata-python', 'python']);

export interface PromoteResult {
  cell: string;
  names: string[];
  module: string;
  test: string;
  cell_file: string;
}

export function defaultModulePath(id: string): string {
  return `lib/${id}.py`;
}

/** Why TEXT cannot be the module's path inside the notebook (undefined: it can); the engine checks the rest. */
export function modulePathProblem(text: string): string | undefined {
  const value = text.trim();
  if (!value) return 'Type the module path, e.g. lib/helpers.py.';
  if (path.isAbsolute(value)) return 'Use a path relative to the notebook folder, e.g. lib/helpers.py.';
  if (!value.endsWith('.py')) return 'The module must be a .py file.';
  if (value.split(/[\\/]/).includes('..')) return 'The module must stay inside the notebook folder (no "..").';
  const stem = path.basename(value, '.py');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(stem)) return `"${stem}" is not an importable module name: use letters, digits and "_", not starting with a digit.`;
  return undefined;
}

/** The success message: which names moved where, and the test file. */
export function promotedMessage(result: PromoteResult, directory: string): string {
  const relative = (file: string): string => (path.isAbsolute(file) ? path.relative(directory, file) : file);
  const names = result.names.map((name) => `\`${name}\``).join(', ');
  return `Strata: moved ${names} from cell ${result.cell} to ${relative(result.module)}; skeleton tests in ${relative(result.test)}.`;
}

function targetCell(cell: vscode.NotebookCell | undefined): vscode.NotebookCell | undefined {
  if (cell !== undefined) return cell;
  const editor = vscode.window.activeNotebookEditor;
  return editor && isStrataNotebook(editor.notebook) && editor.notebook.cellCount > 0 ? editor.notebook.cellAt(editor.selection.start) : undefined;
}

/** The command; `to` skips the input box (tests). Returns the result, or undefined if refused or cancelled. */
export async function promoteCellCommand(server: StrataServer, cell?: vscode.NotebookCell, to?: string): Promise<PromoteResult | undefined> {
  const target = targetCell(cell);
  const id = target ? cellId(target) : undefined;
  const directory = target ? notebookMetadata(target.notebook)?.directory : undefined;
  if (target === undefined || id === undefined || directory === undefined || !PYTHON_LANGUAGE_IDS.has(target.document.languageId)) {
    void vscode.window.showErrorMessage('Strata: Promote Cell to Module works on a Python cell of a Strata notebook.');
    return undefined;
  }
  if (target.notebook.isDirty) {
    // The engine rewrites the cell file on disk: unsaved edits would be lost or conflict.
    void vscode.window.showErrorMessage('Strata: save the notebook before promoting a cell (the promotion rewrites the cell file).');
    return undefined;
  }
  const module = to ?? (await vscode.window.showInputBox({
    title: `Promote cell ${id} to a module`,
    prompt: `Path of the new module, relative to ${directory}`,
    value: defaultModulePath(id),
    validateInput: modulePathProblem,
  }));
  if (!module) return undefined;
  let result: PromoteResult;
  try {
    result = await server.request<PromoteResult>(PROMOTE_METHOD, { notebook: directory, cell: id, to: module.trim() });
  } catch (error) {
    void vscode.window.showErrorMessage(`Strata: cannot promote cell ${id}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  const modulePath = path.isAbsolute(result.module) ? result.module : path.join(directory, result.module);
  await vscode.window.showTextDocument(vscode.Uri.file(modulePath), { preview: false, viewColumn: vscode.ViewColumn.Beside });
  void vscode.window.showInformationMessage(promotedMessage(result, directory));
  return result;
}

export function registerPromote(server: StrataServer): vscode.Disposable {
  return vscode.commands.registerCommand('strata.promoteCell', (cell?: vscode.NotebookCell, to?: string) => promoteCellCommand(server, cell, to));
}
