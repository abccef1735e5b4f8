// What the extension keeps in notebook and cell metadata, where the language server reads it
// too: the notebook's directory (`strata.directory`) and each cell's id (`strata.id`).
import * as vscode from 'vscode';
import { isRecord } from './bundle';

export interface NotebookMetadata {
  directory: string;
  notebookId: string;
  name: string;
}

export function notebookMetadata(notebook: vscode.NotebookDocument): NotebookMetadata | undefined {
  const value: unknown = notebook.metadata.strata;
  return isRecord(value) && typeof value.directory === 'string' ? (value as unknown as NotebookMetadata) : undefined;
}

export function cellId(cell: vscode.NotebookCell | vscode.NotebookCellData): string | undefined {
  const value: unknown = cell.metadata?.strata;
  return isRecord(value) && typeof value.id === 'string' ? value.id : undefined;
}

export function newCellId(taken: ReadonlySet<string>): string {
  for (;;) {
    const id = `cell_${Math.random().toString(36).slice(2, 8)}`;
    if (!taken.has(id)) return id;
  }
}
