// Structural edits (add, delete a cell) write notebook.toml through the engine; a failing
// cell shows its error with the traceback.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { cellId } from '../../metadata';
import { closeAll, freshCopy, git, openNotebook, waitFor } from './helpers';

const ERROR_MIME = 'application/vnd.code.notebook.error';

/** The cell list of notebook.toml as a reader sees it, whatever style the writer used. */
function manifestCells(directory: string): { id: string; file: string; language: string; order: number }[] {
  const text = fs.readFileSync(path.join(directory, 'notebook.toml'), 'utf8');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const toml = require('smol-toml') as { parse(text: string): { cells: { id: string; file: string; language: string; order: number }[] } };
  return [...toml.parse(text).cells].sort((a, b) => a.order - b.order).map(({ id, file, language, order }) => ({ id, file, language, order }));
}

async function insertCell(notebook: vscode.NotebookDocument, index: number, source: string): Promise<vscode.NotebookCell> {
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, 'strata-python')])]);
  assert.ok(await vscode.workspace.applyEdit(edit));
  return waitFor('the new cell to get an id', () => (cellId(notebook.cellAt(index)) ? notebook.cellAt(index) : undefined), [vscode.workspace.onDidChangeNotebookDocument]);
}

suite('Structural edits', () => {
  suiteTeardown(closeAll);

  test('adding a cell writes its file and one notebook.toml entry', async () => {
    const directory = freshCopy('quickstart');
    const notebook = (await openNotebook(directory)).notebook;
    const added = await insertCell(notebook, 4, 'extra = len(orders)\nextra');
    const id = cellId(added)!;
    assert.match(id, /^cell_[a-z0-9]+$/);
    assert.ok(await notebook.save());
    assert.strictEqual(git(directory, 'status', '--porcelain'), ` M notebook.toml\n?? cells/${id}.py\n`);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', `${id}.py`), 'utf8'), 'extra = len(orders)\nextra\n');
    // The new entry sits between its neighbours (order 4.0 and 5.0); the others keep theirs.
    const cells = manifestCells(directory);
    assert.deepStrictEqual(
      cells.map((c) => [c.id, c.file, c.language, c.order]),
      [
        ['intro', 'intro.md', 'markdown', 1],
        ['load_data', 'load_data.py', 'python', 2],
        ['clean', 'clean.py', 'python', 3],
        ['daily', 'daily.py', 'python', 4],
        [id, `${id}.py`, 'python', 4.5],
        ['by_region', 'by_region.py', 'python', 5],
        ['plot', 'plot.py', 'python', 6],
        ['summary', 'summary.py', 'python', 7],
      ],
    );
  });

  test('deleting a cell removes its entry and its file', async () => {
    const directory = freshCopy('quickstart');
    const notebook = (await openNotebook(directory)).notebook;
    const index = notebook.getCells().findIndex((c) => cellId(c) === 'plot');
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(index, index + 1))]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(await notebook.save());
    assert.strictEqual(git(directory, 'status', '--porcelain'), ' D cells/plot.py\n M notebook.toml\n');
    assert.deepStrictEqual(
      manifestCells(directory).map((c) => c.id),
      ['intro', 'load_data', 'clean', 'daily', 'by_region', 'summary'],
    );
  });

  test('moving a cell changes only its order in notebook.toml', async () => {
    const directory = freshCopy('quickstart');
    const editor = await openNotebook(directory);
    const notebook = editor.notebook;
    const plot = notebook.getCells().findIndex((c) => cellId(c) === 'plot');
    editor.selection = new vscode.NotebookRange(plot, plot + 1);
    await vscode.commands.executeCommand('notebook.cell.moveUp');
    assert.deepStrictEqual(
      notebook.getCells().map((c) => cellId(c)),
      ['intro', 'load_data', 'clean', 'daily', 'plot', 'by_region', 'summary'],
    );
    assert.ok(await notebook.save());
    assert.strictEqual(git(directory, 'status', '--porcelain'), ' M notebook.toml\n');
    const cells = manifestCells(directory);
    assert.deepStrictEqual(cells.map((c) => c.id), ['intro', 'load_data', 'clean', 'daily', 'plot', 'by_region', 'summary']);
    const before: Record<string, number> = { intro: 1, load_data: 2, clean: 3, daily: 4, by_region: 5, plot: 6, summary: 7 };
    assert.strictEqual(cells.filter((c) => c.order !== before[c.id]).length, 1, JSON.stringify(cells));
  });

  test('a failing cell shows its error with the traceback', async () => {
    const directory = freshCopy('expensive');
    const notebook = (await openNotebook(directory)).notebook;
    const failing = await insertCell(notebook, 1, 'def check(n):\n    raise ValueError(f"bad n_points: {n}")\ncheck(n_points)');
    await vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: failing.index, end: failing.index + 1 }], document: notebook.uri });
    const item = await waitFor('an error output', () => failing.outputs.flatMap((o) => o.items).find((i) => i.mime === ERROR_MIME), [vscode.workspace.onDidChangeNotebookDocument]);
    const error = JSON.parse(Buffer.from(item.data).toString('utf8')) as { name: string; message: string; stack: string };
    assert.strictEqual(error.name, 'ValueError', JSON.stringify(error));
    assert.match(error.message, /bad n_points: 200000/);
    assert.match(error.stack, /raise ValueError/);
    assert.strictEqual(failing.executionSummary?.success, false);
  });
});
