// Ways into a notebook: clicking a notebook.toml (a launcher registered as its default
// editor, which opens the notebook and closes itself; "Reopen Editor With... > Text Editor"
// still edits the TOML), "Open as Strata Notebook" on a folder or notebook.toml, and
// "New Notebook".
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { bundleUri, NOTEBOOK_TYPE } from './bundle';
import { Engine } from './engine';
import { MANIFEST } from './notebookDir';

export const LAUNCHER_VIEW_TYPE = 'strata.manifestLauncher';

export async function openNotebookDirectory(directory: string, viewColumn?: vscode.ViewColumn): Promise<vscode.NotebookEditor> {
  const document = await vscode.workspace.openNotebookDocument(bundleUri(directory));
  return vscode.window.showNotebookDocument(document, { viewColumn, preview: false });
}

/** The notebook directory for a folder, a notebook.toml, or (no argument) the active editor. */
export async function notebookDirectoryOf(target: vscode.Uri | undefined): Promise<string | undefined> {
  const uri = target ?? vscode.window.activeTextEditor?.document.uri;
  if (uri === undefined || uri.scheme !== 'file') return undefined;
  const stat = await fs.stat(uri.fsPath).catch(() => undefined);
  const directory = stat?.isDirectory() ? uri.fsPath : path.basename(uri.fsPath) === MANIFEST ? path.dirname(uri.fsPath) : undefined;
  if (directory === undefined) return undefined;
  return (await fs.stat(path.join(directory, MANIFEST)).then(() => true, () => false)) ? directory : undefined;
}

export async function openNotebookCommand(target?: vscode.Uri): Promise<void> {
  let directory = await notebookDirectoryOf(target);
  if (directory === undefined && target === undefined) {
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Open as Strata Notebook' });
    directory = await notebookDirectoryOf(picked?.[0]);
  }
  if (directory === undefined) {
    void vscode.window.showErrorMessage(`Strata: ${target?.fsPath ?? 'that folder'} is not a Strata notebook (no ${MANIFEST}). Create one with "Strata: New Notebook".`);
    return;
  }
  await openNotebookDirectory(directory);
}

/** The default editor of notebook.toml: opens the notebook in its place. */
export class ManifestLauncher implements vscode.CustomTextEditorProvider {
  static register(): vscode.Disposable {
    return vscode.window.registerCustomEditorProvider(LAUNCHER_VIEW_TYPE, new ManifestLauncher());
  }

  async resolveCustomTextEditor(document: vscode.TextDocument, panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.html = '<!DOCTYPE html><html><body><p>Opening the Strata notebook...</p></body></html>';
    const directory = path.dirname(document.uri.fsPath);
    await openNotebookDirectory(directory, panel.viewColumn);
    const tabs = vscode.window.tabGroups.all.flatMap((group) => group.tabs);
    const launcher = tabs.find((tab) => tab.input instanceof vscode.TabInputCustom && tab.input.viewType === LAUNCHER_VIEW_TYPE && tab.input.uri.toString() === document.uri.toString());
    if (launcher !== undefined) await vscode.window.tabGroups.close(launcher);
  }
}

/** `strata new` in the first workspace folder (or at `target`, when a caller passes a path). */
export async function newNotebookCommand(engine: Engine, target?: string): Promise<void> {
  const parent = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const name = typeof target === 'string' ? target : await vscode.window.showInputBox({
    title: 'New Strata notebook',
    prompt: parent ? `A folder of this name is created in ${parent}` : 'Path of the new notebook folder',
    validateInput: (value) => (/^[^\\/:*?"<>|]+$/.test(value.trim()) || (!parent && value.trim()) ? undefined : 'Use a folder name'),
  });
  if (!name) return;
  const directory = path.resolve(parent ?? process.cwd(), name.trim());
  try {
    await engine.cli(['new', directory]);
  } catch (error) {
    void vscode.window.showErrorMessage(`Strata: could not create the notebook: ${error instanceof Error ? error.message : String(error)}`);
    return;
  }
  await openNotebookDirectory(directory);
}

/** Show the notebook's folder in the Explorer (or offer to open it when outside the workspace). */
export async function openNotebookFolderCommand(directory: string | undefined): Promise<void> {
  if (directory === undefined) return;
  const uri = vscode.Uri.file(directory);
  if (vscode.workspace.getWorkspaceFolder(uri) !== undefined) {
    await vscode.commands.executeCommand('revealInExplorer', uri);
    return;
  }
  const choice = await vscode.window.showInformationMessage(`${directory} is outside this workspace.`, 'Open Folder');
  if (choice) await vscode.commands.executeCommand('vscode.openFolder', uri, { forceNewWindow: true });
}

export function isStrataNotebook(notebook: vscode.NotebookDocument | undefined): notebook is vscode.NotebookDocument {
  return notebook?.notebookType === NOTEBOOK_TYPE;
}
