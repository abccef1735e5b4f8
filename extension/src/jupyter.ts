// Jupyter in and out (SPEC 12): "Import Jupyter Notebook..." (palette, and an .ipynb's
// explorer context menu) and "Export Notebook..." forward to the language server
// (strata/importNotebook, strata/exportNotebook), which calls the same engine functions as
// `strata import` and `strata export`. The engine decides everything; this module picks
// files, shows what the import could not carry over, and opens the result.
import * as path from 'path';
import * as vscode from 'vscode';
import { notebookMetadata } from './metadata';
import { isStrataNotebook, notebookDirectoryOf, openNotebookDirectory } from './opening';
import { StrataServer } from './server';

export const JupyterMethods = {
  importNotebook: 'strata/importNotebook',
  exportNotebook: 'strata/exportNotebook',
} as const;

export interface ImportResult {
  source: string;
  directory: string;
  cells: number;
  magics: { cell: string; line: number; magic: string }[];
  outputsDropped: string[];
  attachmentsDropped: { cell: string; name: string }[];
  rawCells: string[];
  notes: string[];
}

export interface ExportResult {
  path: string;
  cells: number;
  notes: string[];
  files: string[];
}

export type ExportFormat = 'html' | 'md';

/** The server's message without the JSON-RPC wrapping ("Invalid params: ..."). */
function reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/^Invalid params:\s*/i, '');
}

export class Jupyter implements vscode.Disposable {
  private readonly output = vscode.window.createOutputChannel('Strata: Jupyter');

  constructor(private readonly server: StrataServer) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('strata.importJupyter', (uri?: vscode.Uri, target?: string) => this.importCommand(uri, target)),
      vscode.commands.registerCommand('strata.exportNotebook', (uri?: vscode.Uri, format?: ExportFormat, output?: string) => this.exportCommand(uri, format, output)),
      this,
    ];
  }

  /**
   * Import `uri` (else ask for an .ipynb) into `target` (else a folder named after it, beside
   * it; if that one is taken, ask for another) and open the new notebook. Tests pass both.
   */
  async importCommand(uri?: vscode.Uri, target?: string): Promise<ImportResult | undefined> {
    const source = uri ?? (await pickNotebookFile());
    if (source === undefined) return undefined;
    let result: ImportResult;
    try {
      result = await this.server.request<ImportResult>(JupyterMethods.importNotebook, { path: source.fsPath, target });
    } catch (error) {
      const message = reason(error);
      if (target === undefined && message.includes('already exists')) {
        const chosen = await pickTargetFolder(source);
        if (chosen !== undefined) return this.importCommand(source, chosen);
        return undefined;
      }
      void vscode.window.showErrorMessage(`Strata: cannot import ${path.basename(source.fsPath)}: ${message}`);
      return undefined;
    }
    this.log(`Imported ${result.source} into ${result.directory} (${result.cells} cells)`, result.notes);
    await openNotebookDirectory(result.directory);
    if (result.notes.length > 0) {
      const summary = `Strata: imported ${result.cells} cells; ${describeNotes(result)}.`;
      void vscode.window.showInformationMessage(summary, 'Show Details').then((choice) => choice && this.output.show(true));
    }
    return result;
  }

  /** Export the notebook at `uri` (a folder or notebook.toml; else the one in front). */
  async exportCommand(uri?: vscode.Uri, format?: ExportFormat, output?: string): Promise<ExportResult | undefined> {
    const directory = await exportDirectory(uri);
    if (directory === undefined) {
      void vscode.window.showInformationMessage('Strata: open a Strata notebook (or pick its folder) to export it.');
      return undefined;
    }
    const to = format ?? (await pickFormat());
    if (to === undefined) return undefined;
    const file = output ?? (await pickExportFile(directory, to));
    if (file === undefined) return undefined;
    let result: ExportResult;
    try {
      result = await this.server.request<ExportResult>(JupyterMethods.exportNotebook, { notebook: directory, to, output: file });
    } catch (error) {
      void vscode.window.showErrorMessage(`Strata: cannot export ${path.basename(directory)}: ${reason(error)}`);
      return undefined;
    }
    this.log(`Exported ${directory} to ${result.path} (${result.cells} cells; nothing was run)`, result.notes);
    if (format === undefined) {
      void vscode.window.showInformationMessage(`Strata: exported to ${path.basename(result.path)} (cached outputs only; nothing was run).`, 'Open').then((choice) => {
        if (choice === 'Open') void vscode.commands.executeCommand('vscode.open', vscode.Uri.file(result.path));
      });
    }
    return result;
  }

  private log(headline: string, notes: string[]): void {
    this.output.appendLine(headline);
    for (const note of notes) this.output.appendLine(`  ${note}`);
  }

  dispose(): void {
    this.output.dispose();
  }
}

/** "2 magics became comments, outputs of 3 cells dropped, 1 attachment dropped". */
export function describeNotes(result: Pick<ImportResult, 'magics' | 'outputsDropped' | 'attachmentsDropped' | 'rawCells'>): string {
  const parts: string[] = [];
  const count = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  if (result.magics.length > 0) parts.push(`${count(result.magics.length, 'magic', 'magics')} became comments (magic_unsupported warnings)`);
  if (result.outputsDropped.length > 0) parts.push(`outputs of ${count(result.outputsDropped.length, 'cell', 'cells')} dropped (run to recompute)`);
  if (result.attachmentsDropped.length > 0) parts.push(`${count(result.attachmentsDropped.length, 'attachment', 'attachments')} dropped`);
  if (result.rawCells.length > 0) parts.push(`${count(result.rawCells.length, 'raw cell', 'raw cells')} kept as text`);
  return parts.join(', ');
}

async function exportDirectory(uri: vscode.Uri | undefined): Promise<string | undefined> {
  if (uri !== undefined) return notebookDirectoryOf(uri);
  const notebook = vscode.window.activeNotebookEditor?.notebook;
  return isStrataNotebook(notebook) ? notebookMetadata(notebook)?.directory : undefined;
}

async function pickNotebookFile(): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectMany: false, filters: { 'Jupyter notebooks': ['ipynb'] }, openLabel: 'Import' });
  return picked?.[0];
}

async function pickTargetFolder(source: vscode.Uri): Promise<string | undefined> {
  const stem = path.basename(source.fsPath, path.extname(source.fsPath));
  const suggestion = vscode.Uri.file(path.join(path.dirname(source.fsPath), `${stem}-strata`));
  const picked = await vscode.window.showSaveDialog({ defaultUri: suggestion, saveLabel: 'Import Here', title: `${stem} already exists: choose a new folder for the Strata notebook` });
  return picked?.fsPath;
}

async function pickFormat(): Promise<ExportFormat | undefined> {
  const items: (vscode.QuickPickItem & { format: ExportFormat })[] = [
    { label: 'HTML', description: 'one self-contained page, images inline', format: 'html' },
    { label: 'Markdown', description: 'a .md file, images as files beside it', format: 'md' },
  ];
  return (await vscode.window.showQuickPick(items, { title: 'Export the notebook (cached outputs; nothing is run)' }))?.format;
}

async function pickExportFile(directory: string, to: ExportFormat): Promise<string | undefined> {
  const suggestion = vscode.Uri.file(`${directory.replace(/[\\/]+$/, '')}.${to}`);
  const filters: Record<string, string[]> = to === 'html' ? { HTML: ['html'] } : { Markdown: ['md'] };
  return (await vscode.window.showSaveDialog({ defaultUri: suggestion, filters, saveLabel: 'Export' }))?.fsPath;
}
