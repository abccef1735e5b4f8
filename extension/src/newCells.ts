// "Add SQL Cell", "Add Prompt Cell" and "Add R Cell" (notebook toolbar): a code cell of that
// kind, below the selected cell, opened for editing with a starter annotation block. The
// cell's kind is its VS Code language (languages.ts), so saving writes `language = "sql"` /
// `"prompt"` / `"r"` and the kind's file suffix like any other added cell (notebookSave.ts).
import { promises as fs } from 'fs';
import * as path from 'path';
import type * as SmolToml from 'smol-toml' with { 'resolution-mode': 'import' };
import * as vscode from 'vscode';
import { isRecord } from './bundle';
import { CellLanguage, presentation } from './languages';
import { notebookMetadata } from './metadata';
import { MANIFEST } from './notebookDir';
import { isStrataNotebook } from './opening';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as typeof SmolToml;

type NewCellKind = Extract<CellLanguage, 'sql' | 'prompt' | 'r'>;

interface Starter {
  /** The cell's text. */
  text: string;
  /** The line selected once the cell opens: typing replaces it. */
  selectLine: number;
}

/**
 * The names of `[connections.<name>]` in notebook.toml, in file order; [] when it cannot be
 * read (the annotation's completion and diagnostics then help the user on).
 */
export async function connectionNames(directory: string): Promise<string[]> {
  try {
    const document = parseToml(await fs.readFile(path.join(directory, MANIFEST), 'utf8'));
    return isRecord(document.connections) ? Object.keys(document.connections).filter((name) => isRecord((document.connections as Record<string, unknown>)[name])) : [];
  } catch {
    return [];
  }
}

/** What a new cell of `kind` starts with. */
export function starter(kind: NewCellKind, connections: readonly string[]): Starter {
  if (kind === 'sql') {
    // The first connection, as the SPEC 11 quick fix for a missing one would pick it.
    return { text: `# @sql connection=${connections[0] ?? ''}\n# @name result\nSELECT 1`, selectLine: 2 };
  }
  if (kind === 'r') {
    // R reads upstream Python values by name (DataFrames arrive as data.frames).
    return { text: '# @name summary\nsummary <- 1', selectLine: 1 };
  }
  // No placeholder in the starter: an unknown name would be flagged before the user typed.
  return { text: '# @name answer\nWrite the prompt here.', selectLine: 1 };
}

/** Insert a cell of `kind` below the selection (or at the end) and open it for editing. */
export async function addCell(kind: NewCellKind): Promise<vscode.NotebookCell | undefined> {
  const editor = vscode.window.activeNotebookEditor;
  if (editor === undefined || !isStrataNotebook(editor.notebook)) {
    void vscode.window.showInformationMessage('Strata: open a Strata notebook first.');
    return undefined;
  }
  const notebook = editor.notebook;
  const directory = notebookMetadata(notebook)?.directory ?? '';
  const { text, selectLine } = starter(kind, kind === 'sql' ? await connectionNames(directory) : []);
  const index = editor.selections.length > 0 ? editor.selection.end : notebook.cellCount;
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, text, presentation(kind).languageId)])]);
  if (!(await vscode.workspace.applyEdit(edit))) return undefined;
  const cell = notebook.cellAt(index);
  editor.selection = new vscode.NotebookRange(index, index + 1);
  editor.revealRange(editor.selection, vscode.NotebookEditorRevealType.InCenterIfOutsideViewport);
  await focusLine(cell, selectLine);
  return cell;
}

/** Open the cell's editor with `line` selected (best effort: the cell exists either way). */
async function focusLine(cell: vscode.NotebookCell, line: number): Promise<void> {
  try {
    const textEditor = await vscode.window.showTextDocument(cell.document);
    const end = cell.document.lineAt(Math.min(line, cell.document.lineCount - 1)).range;
    textEditor.selection = new vscode.Selection(end.start, end.end);
  } catch {
    // A notebook that is not visible (e.g. closed meanwhile) has no cell editor to focus.
  }
}
