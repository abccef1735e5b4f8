// Every cell needs a stable id (it names the cell in notebook.toml, in the cache and in the
// language server). Cells added in the editor, pasted or duplicated get a fresh id at once,
// as a metadata edit, so the id the serializer writes is the one the editor keeps.
import * as vscode from 'vscode';
import { NOTEBOOK_TYPE } from './bundle';
import { cellId, newCellId } from './metadata';

export function assignCellIds(): vscode.Disposable {
  return vscode.workspace.onDidChangeNotebookDocument((event) => {
    if (event.notebook.notebookType !== NOTEBOOK_TYPE || event.contentChanges.every((c) => c.addedCells.length === 0)) return;
    void fixIds(event.notebook);
  });
}

async function fixIds(notebook: vscode.NotebookDocument): Promise<void> {
  const taken = new Set<string>();
  const edits: vscode.NotebookEdit[] = [];
  for (const cell of notebook.getCells()) {
    const id = cellId(cell);
    if (id !== undefined && !taken.has(id)) {
      taken.add(id);
      continue;
    }
    const fresh = newCellId(taken);
    taken.add(fresh);
    const strata = { ...((cell.metadata.strata as object | undefined) ?? {}), id: fresh };
    edits.push(vscode.NotebookEdit.updateCellMetadata(cell.index, { ...cell.metadata, strata }));
  }
  if (edits.length === 0) return;
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, edits);
  await vscode.workspace.applyEdit(edit);
}
