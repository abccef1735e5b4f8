// Bundle bytes <-> NotebookData. The bundle carries the directory and every cell's id, so the
// serializer needs no URI; the id goes into cell metadata (`strata.id`), where the language
// server also looks for it. Outputs are transient: running a cell never dirties the notebook.
import * as vscode from 'vscode';
import { Bundle, BundleCell, formatBundle, makeBundle, parseBundle, parseLoad } from './bundle';
import { CellLanguage, languageOfId, presentation } from './languages';
import { cellId, newCellId, NotebookMetadata } from './metadata';
import { cachedOutputs } from './outputs';

export const SERIALIZER_OPTIONS: vscode.NotebookDocumentContentOptions = {
  transientOutputs: true,
  transientCellMetadata: {},
  transientDocumentMetadata: {},
};

export class StrataSerializer implements vscode.NotebookSerializer {
  deserializeNotebook(content: Uint8Array): vscode.NotebookData {
    const bundle = parseBundle(Buffer.from(content).toString('utf8'));
    const cells = bundle.cells.map((cell) => {
      const { languageId, markup } = presentation(cell.language);
      const kind = markup ? vscode.NotebookCellKind.Markup : vscode.NotebookCellKind.Code;
      const data = new vscode.NotebookCellData(kind, cell.source, languageId);
      data.metadata = { strata: { id: cell.id } };
      if (cell.cached !== undefined && kind === vscode.NotebookCellKind.Code) {
        data.outputs = cachedOutputs(cell.cached);
        data.executionSummary = { success: cell.cached.status === 'ok' };
      }
      return data;
    });
    const data = new vscode.NotebookData(cells);
    const metadata: NotebookMetadata = { directory: bundle.directory, notebookId: bundle.notebookId, name: bundle.name };
    // Not in `strata` (the language server reads that): which read this is, for the save's merge.
    data.metadata = bundle.load === undefined ? { strata: metadata } : { strata: metadata, strataLoad: bundle.load };
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
      // A markup cell is markdown whatever VS Code calls its language.
      const language: CellLanguage = cell.kind === vscode.NotebookCellKind.Markup ? 'markdown' : languageOfId(cell.languageId);
      return { id, file: '', language, source: cell.value };
    });
    const bundle: Bundle = makeBundle(metadata.directory, metadata.notebookId, metadata.name, cells);
    const load = parseLoad(data.metadata?.strataLoad);
    if (load !== undefined) bundle.load = load;
    return Buffer.from(formatBundle(bundle), 'utf8');
  }
}
