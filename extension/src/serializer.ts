// Bundle bytes <-> NotebookData. The bundle carries the directory and every cell's id, so the
// serializer needs no URI; the id goes into cell metadata (`strata.id`), where the language
// server also looks for it. Outputs are transient: running a cell never dirties the notebook.
import * as vscode from 'vscode';
import { Bundle, BundleCell, CellLanguage, formatBundle, makeBundle, parseBundle } from './bundle';
import { cellId, newCellId, NotebookMetadata } from './metadata';
import { cachedOutputs } from './outputs';

/** VS Code language ids of cell languages. Python cells get an id of our own so Python
 * tooling that analyses notebooks (Pylance, Jupyter) does not report cross-cell names. */
const LANGUAGE_IDS: Record<CellLanguage, string> = {
  python: 'strata-python',
  sql: 'sql',
  prompt: 'strata-prompt',
  markdown: 'markdown',
  r: 'r',
};
const FROM_LANGUAGE_ID: Record<string, CellLanguage> = {
  'strata-python': 'python',
  python: 'python',
  sql: 'sql',
  'strata-prompt': 'prompt',
  r: 'r',
  markdown: 'markdown',
};
export const CODE_LANGUAGE_IDS = ['strata-python', 'sql', 'strata-prompt', 'r'];

export const SERIALIZER_OPTIONS: vscode.NotebookDocumentContentOptions = {
  transientOutputs: true,
  transientCellMetadata: {},
  transientDocumentMetadata: {},
};

export function cellLanguageId(language: CellLanguage): string {
  return LANGUAGE_IDS[language];
}

export class StrataSerializer implements vscode.NotebookSerializer {
  deserializeNotebook(content: Uint8Array): vscode.NotebookData {
    const bundle = parseBundle(Buffer.from(content).toString('utf8'));
    const cells = bundle.cells.map((cell) => {
      const kind = cell.language === 'markdown' ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
      const data = new vscode.NotebookCellData(kind, cell.source, LANGUAGE_IDS[cell.language]);
      data.metadata = { strata: { id: cell.id } };
      if (cell.cached !== undefined && kind === vscode.NotebookCellKind.Code) {
        data.outputs = cachedOutputs(cell.cached);
        data.executionSummary = { success: cell.cached.status === 'ok' };
      }
      return data;
    });
    const data = new vscode.NotebookData(cells);
    const metadata: NotebookMetadata = { directory: bundle.directory, notebookId: bundle.notebookId, name: bundle.name };
    data.metadata = { strata: metadata };
    return data;
  }

  serializeNotebook(data: vscode.NotebookData): Uint8Array {
    const metadata = data.metadata?.strata as NotebookMetadata | undefined;
    if (metadata === undefined) throw new Error('this notebook has no Strata directory; reopen it with "Open as Strata Notebook"');
    const taken = new Set<string>();
    const cells = data.cells.map((cell): BundleCell => {
      // Ids are normally assigned as cells are added (cellIds.ts); this covers anything else.
      let id = cellId(cell);
      if (id === undefined || taken.has(id)) id = newCellId(taken);
      taken.add(id);
      const language: CellLanguage =
        cell.kind === vscode.NotebookCellKind.Markup ? 'markdown' : (FROM_LANGUAGE_ID[cell.languageId] ?? 'python');
      return { id, file: '', language, source: cell.value };
    });
    const bundle: Bundle = makeBundle(metadata.directory, metadata.notebookId, metadata.name, cells);
    return Buffer.from(formatBundle(bundle), 'utf8');
  }
}
