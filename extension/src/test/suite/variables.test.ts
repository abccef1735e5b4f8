// The variables view and the data viewer on samples/quickstart: after Run All the view lists
// each cell's published variables (read from the store by the server), clicking one reveals
// its producer, and a DataFrame opens in the data viewer, whose pages, sort and filter come
// from the engine.
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { StrataApi } from '../../extension';
import { TableCellItems, type DataViewerPanel, type TablePage } from '../../dataViewer';
import { cellId } from '../../metadata';
import type { RunSummary } from '../../runs';
import { describeVariable, formatSize, type CellVariables } from '../../variablesView';
import { cell, closeAll, freshCopy, openNotebook, waitFor } from './helpers';

const CODE_CELLS = ['load_data', 'clean', 'daily', 'by_region', 'plot', 'summary'];

suite('Variables view and data viewer (samples/quickstart)', () => {
  suiteTeardown(closeAll);

  let api: StrataApi;
  let directory: string;
  let notebook: vscode.NotebookDocument;

  suiteSetup(async () => {
    api = (await vscode.extensions.getExtension<StrataApi>('strata.strata-notebooks')?.activate()) as StrataApi;
    directory = freshCopy('quickstart');
    notebook = (await openNotebook(directory)).notebook;
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.ok(summary.success, JSON.stringify(summary));
    await waitFor('every cell ready', () => CODE_CELLS.every((id) => api.states.state(directory, id)?.state === 'ready'), [api.states.onDidChange]);
  });

  test('the view lists each cell with its variables, types, shapes and sizes', async () => {
    // Every cell is ready: the listing asked now reflects the finished run.
    const cells = await api.variables.getChildren();
    const ids = cells.map((node) => (node.kind === 'cell' ? node.cell.cellId : ''));
    assert.deepStrictEqual(ids.slice(0, 2), ['load_data', 'clean']);
    const load = cells[0];
    const item = api.variables.getTreeItem(load);
    assert.strictEqual(item.label, 'load_data');
    assert.strictEqual(item.description, 'ready');
    const children = await api.variables.getChildren(load);
    const sales = children.find((node) => node.kind === 'variable' && node.variable.name === 'sales');
    assert.ok(sales !== undefined && sales.kind === 'variable', 'load_data publishes sales');
    assert.strictEqual(sales.variable.type, 'pandas.DataFrame');
    assert.deepStrictEqual(sales.variable.shape, [5000, 5]);
    const row = api.variables.getTreeItem(sales);
    assert.strictEqual(row.description, `DataFrame 5,000×5 · ${formatSize(sales.variable.size)}`);
    assert.strictEqual(row.contextValue, 'strata.variable.table');
    assert.deepStrictEqual(row.command?.arguments, ['load_data']);
  });

  test('clicking a variable reveals and selects its producer cell', async () => {
    await vscode.window.showNotebookDocument(notebook, { selections: [new vscode.NotebookRange(0, 1)] });
    await vscode.commands.executeCommand('strata.revealVariable', 'by_region');
    const editor = vscode.window.activeNotebookEditor;
    assert.ok(editor !== undefined);
    const selected = editor.notebook.cellAt(editor.selection.start);
    assert.strictEqual(cellId(selected), 'by_region');
  });

  test('a DataFrame opens in the data viewer on page 1; sort and filter run in the engine', async () => {
    const listing = await api.variables.variables(directory);
    const load = listing?.cells.find((c: CellVariables) => c.cellId === 'load_data');
    const sales = load?.variables.find((v) => v.name === 'sales');
    assert.ok(load !== undefined && sales !== undefined);
    assert.strictEqual(describeVariable(sales), 'DataFrame 5,000×5');
    const panel = await vscode.commands.executeCommand<DataViewerPanel>('strata.openDataViewer', { cell: load, variable: sales });
    const page = await waitFor<TablePage>('page 1 drawn', () => panel.lastPage, [panel.onDidShowPage]);
    assert.deepStrictEqual(
      page.columns.map((c) => c.name),
      ['date', 'region', 'product', 'units', 'unit_price'],
    );
    assert.strictEqual(page.offset, 0);
    assert.strictEqual(page.rows.length, 100);
    assert.strictEqual(page.total, 5000);
    assert.strictEqual(page.filteredTotal, 5000);

    // The same request the webview makes when a header is clicked and text is typed.
    const sorted = await api.server.request<TablePage>('strata/tablePage', { notebook: directory, cellId: 'load_data', name: 'sales', offset: 0, limit: 5, sort: [{ column: 'units', desc: true }], filter: 'NORTH' });
    assert.ok(sorted.filteredTotal > 0 && sorted.filteredTotal < 5000);
    assert.ok(sorted.rows.every((r) => r[1] === 'north' && r[3] === 19));
    panel.dispose();
  });

  test('a cell that published a table offers Open in Data Viewer in its status bar', async () => {
    const items = new TableCellItems(api.variables, api.states);
    try {
      const loadItems = await items.provideCellStatusBarItems(cell(notebook, 'load_data'));
      assert.strictEqual(loadItems.length, 1);
      assert.strictEqual(loadItems[0].text, '$(table) Open in Data Viewer');
      assert.strictEqual(loadItems[0].command && typeof loadItems[0].command !== 'string' ? loadItems[0].command.command : '', 'strata.openDataViewer');
      assert.deepStrictEqual(await items.provideCellStatusBarItems(cell(notebook, 'summary')), []);
    } finally {
      items.dispose();
    }
  });
});
