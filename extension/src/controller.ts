// The notebook controller ("kernel"): VS Code's run buttons land here and become one
// `strata/run` request. Running all code cells is sent as mode `all` so the server plans it
// exactly like `strata run`; a selection is mode `cells` (the server adds what they need).
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { CODE_LANGUAGE_IDS } from './languages';
import { cellId } from './metadata';
import { Runs } from './runs';

export function createController(): vscode.NotebookController {
  const controller = vscode.notebooks.createNotebookController('strata', NOTEBOOK_TYPE, 'Strata');
  controller.supportedLanguages = [...CODE_LANGUAGE_IDS];
  controller.supportsExecutionOrder = true;
  controller.description = 'Runs cells through the Strata engine; unchanged work is served from the cache';
  return controller;
}

export function connectController(controller: vscode.NotebookController, runs: Runs): void {
  controller.executeHandler = async (cells, notebook) => {
    if (!requireTrust()) return;
    const code = cells.filter((cell) => cell.kind === vscode.NotebookCellKind.Code);
    const allCode = notebook.getCells().filter((cell) => cell.kind === vscode.NotebookCellKind.Code);
    const everything = code.length === allCode.length;
    const ids = code.map((cell) => cellId(cell)).filter((id): id is string => id !== undefined);
    await runs.start(notebook, everything ? 'all' : 'cells', everything ? undefined : ids, code);
  };
  controller.interruptHandler = (notebook) => runs.cancel(notebook);
}

/** SPEC 14: no cell code runs in an untrusted workspace. */
export function requireTrust(): boolean {
  if (vscode.workspace.isTrusted) return true;
  void vscode.window.showWarningMessage('Strata: running cells needs a trusted workspace. Notebooks still open and show cached outputs.', 'Manage Workspace Trust').then((choice) => {
    if (choice) void vscode.commands.executeCommand('workbench.trust.manage');
  });
  return false;
}
