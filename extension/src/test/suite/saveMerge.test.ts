// Two writers on one notebook: the editor adds a cell while an agent (the engine's add_cell
// tool, in its own process) adds another; saving the editor keeps both, and the editor then
// shows the agent's cell.
import * as assert from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import * as vscode from 'vscode';
import { cellId } from '../../metadata';
import { readManifestCells } from '../../notebookDir';
import { closeAll, freshCopy, git, openNotebook, waitFor } from './helpers';

/** The engine's agent tool `add_cell`, in a process of its own as an agent would run it. */
async function agentAddCell(directory: string, id: string, source: string, after: string): Promise<void> {
  const python = process.env.STRATA_SERVER_PYTHON;
  if (!python) throw new Error('STRATA_SERVER_PYTHON is not set');
  const script = [
    'import json, sys',
    'from pathlib import Path',
    'from strata_engine.agent.registry import call_tool',
    'result = call_tool(Path(sys.argv[1]), "add_cell", json.loads(sys.argv[2]), allow_run=False)',
    'print(json.dumps(result.to_json()))',
    'sys.exit(1 if result.is_error else 0)',
  ].join('\n');
  await promisify(execFile)(python, ['-c', script, directory, JSON.stringify({ id, source, after })], { encoding: 'utf8' });
}

async function manifestIds(directory: string): Promise<string[]> {
  return (await readManifestCells(directory)).cells.map((cell) => cell.id);
}

async function insertCell(notebook: vscode.NotebookDocument, index: number, source: string): Promise<string> {
  const edit = new vscode.WorkspaceEdit();
  edit.set(notebook.uri, [vscode.NotebookEdit.insertCells(index, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, source, 'strata-python')])]);
  assert.ok(await vscode.workspace.applyEdit(edit));
  return waitFor('the new cell to get an id', () => cellId(notebook.cellAt(index)), [vscode.workspace.onDidChangeNotebookDocument]);
}

const ids = (notebook: vscode.NotebookDocument): string[] => notebook.getCells().map((c) => cellId(c) ?? '');

suite('Save merge', () => {
  const files = (): vscode.WorkspaceConfiguration => vscode.workspace.getConfiguration('files');
  suiteSetup(async () => {
    // The editor's copy is older than the disk once the agent wrote: VS Code asks whether to
    // overwrite. This stands for the user's "Overwrite", which must not lose the agent's cell.
    await files().update('saveConflictResolution', 'overwriteFileOnDisk', vscode.ConfigurationTarget.Global);
    // A web VS Code saves after a delay by default; the test's own saves are the ones checked.
    await files().update('autoSave', 'off', vscode.ConfigurationTarget.Global);
  });
  suiteTeardown(async () => {
    await files().update('saveConflictResolution', undefined, vscode.ConfigurationTarget.Global);
    await files().update('autoSave', undefined, vscode.ConfigurationTarget.Global);
    await closeAll();
  });

  test('a cell an agent added while the editor had unsaved cells survives the save', async () => {
    const directory = freshCopy('quickstart');
    const notebook = (await openNotebook(directory)).notebook;
    const before = ids(notebook);
    const ours = await insertCell(notebook, 2, 'ours = 1\nours');
    assert.ok(notebook.isDirty);

    await agentAddCell(directory, 'theirs', 'theirs = 2\ntheirs', 'daily');
    const theirsFile = path.join(directory, 'cells', 'theirs.py');
    const theirsText = fs.readFileSync(theirsFile, 'utf8');

    assert.ok(await notebook.save(), 'the save failed');
    const expected = [...before.slice(0, 2), ours, ...before.slice(2)];
    expected.splice(expected.indexOf('daily') + 1, 0, 'theirs');
    assert.deepStrictEqual(await manifestIds(directory), expected);
    assert.strictEqual(fs.readFileSync(theirsFile, 'utf8'), theirsText);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', `${ours}.py`), 'utf8'), 'ours = 1\nours\n');
    assert.strictEqual(git(directory, 'status', '--porcelain'), ` M notebook.toml\n?? cells/${ours}.py\n?? cells/theirs.py\n`);

    // The editor reloads and shows the agent's cell where notebook.toml has it.
    await waitFor('the editor to show the agent cell', () => JSON.stringify(ids(notebook)) === JSON.stringify(expected), [
      vscode.workspace.onDidChangeNotebookDocument,
    ]);
    assert.ok(!notebook.isDirty);

    // Now the editor has seen it: deleting it in the editor deletes it on disk.
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(expected.indexOf('theirs'), expected.indexOf('theirs') + 1))]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(await notebook.save(), 'the second save failed');
    assert.deepStrictEqual(await manifestIds(directory), expected.filter((id) => id !== 'theirs'));
    assert.ok(!fs.existsSync(theirsFile));
  });

  test('a cell the editor deleted is deleted even when an agent added another meanwhile', async () => {
    const directory = freshCopy('quickstart');
    const notebook = (await openNotebook(directory)).notebook;
    const before = ids(notebook);
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.uri, [vscode.NotebookEdit.deleteCells(new vscode.NotebookRange(before.indexOf('daily'), before.indexOf('daily') + 1))]);
    assert.ok(await vscode.workspace.applyEdit(edit));
    const dailyFile = path.join(directory, 'cells', 'daily.py');
    assert.ok(fs.existsSync(dailyFile));

    await agentAddCell(directory, 'theirs', 'theirs = 2', 'daily');
    assert.ok(await notebook.save(), 'the save failed');
    // theirs followed daily; with daily gone it follows daily's predecessor.
    const expected = before.filter((id) => id !== 'daily');
    expected.splice(before.indexOf('daily'), 0, 'theirs');
    assert.deepStrictEqual(await manifestIds(directory), expected);
    assert.ok(!fs.existsSync(dailyFile));
    assert.ok(fs.existsSync(path.join(directory, 'cells', 'theirs.py')));
  });
});
