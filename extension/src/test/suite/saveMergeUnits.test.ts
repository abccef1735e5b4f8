// The three-way merge of a save (notebookSave.ts): the cell sequence as pure ids, then a whole
// save of a bundle against a real directory through the engine's own writers (the python/
// helpers the extension runs, with the server's interpreter), with no editor involved.
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeBundle } from '../../bundle';
import { readManifestCells } from '../../notebookDir';
import { mergeCellIds, NotebookWriter, saveNotebook } from '../../notebookSave';
import { runChecked } from '../../process';
import { repoRoot } from './helpers';

/** The writers engine.ts uses, run with the server's interpreter. */
function engineWriter(): NotebookWriter {
  const python = process.env.STRATA_SERVER_PYTHON;
  if (!python) throw new Error('STRATA_SERVER_PYTHON is not set');
  const helper = async (name: string, request: unknown): Promise<void> => {
    await runChecked(python, [path.join(repoRoot, 'extension', 'python', name)], { input: JSON.stringify(request) });
  };
  return {
    writeCells: (directory, cells) => helper('write_cells.py', { directory, write: cells }),
    writeManifest: (directory, cells) => helper('write_manifest.py', { directory, cells }),
    removeCellFiles: (directory, files) => helper('write_cells.py', { directory, remove: files }),
  };
}

function notebookDir(cells: [id: string, order: number, source: string][]): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-merge-'));
  fs.mkdirSync(path.join(directory, 'cells'));
  const entries = cells.map(([id, order, source]) => {
    fs.writeFileSync(path.join(directory, 'cells', `${id}.py`), `${source}\n`);
    return `[[cells]]\nid = "${id}"\nfile = "${id}.py"\nlanguage = "python"\norder = ${order.toFixed(1)}\n`;
  });
  fs.writeFileSync(path.join(directory, 'notebook.toml'), `notebook_id = "merge-test"\nname = "merge"\n\n${entries.join('\n')}`);
  return directory;
}

const pythonCell = (id: string, source: string) => ({ id, file: '', language: 'python' as const, source });

suite('Save merge units', () => {
  test('without a base the editor has the whole notebook', () => {
    assert.deepStrictEqual(mergeCellIds(['a', 'c'], ['a', 'b', 'c'], undefined), ['a', 'c']);
  });

  test('a cell on disk the editor never saw is kept after its disk neighbour', () => {
    const base = new Set(['a', 'b', 'c']);
    // Added by someone else in the middle, at the end and at the top.
    assert.deepStrictEqual(mergeCellIds(['a', 'b', 'c'], ['a', 'x', 'b', 'c'], base), ['a', 'x', 'b', 'c']);
    assert.deepStrictEqual(mergeCellIds(['a', 'b', 'c'], ['a', 'b', 'c', 'x'], base), ['a', 'b', 'c', 'x']);
    assert.deepStrictEqual(mergeCellIds(['a', 'b', 'c'], ['x', 'a', 'b', 'c'], base), ['x', 'a', 'b', 'c']);
    // Two of them in a row keep their order.
    assert.deepStrictEqual(mergeCellIds(['a', 'b'], ['a', 'x', 'y', 'b'], new Set(['a', 'b'])), ['a', 'x', 'y', 'b']);
  });

  test('both sides adding at the same place keeps both', () => {
    // The editor inserted e after a; someone else inserted x after a too.
    assert.deepStrictEqual(mergeCellIds(['a', 'e', 'b'], ['a', 'x', 'b'], new Set(['a', 'b'])), ['a', 'x', 'e', 'b']);
  });

  test('a cell the editor saw and removed is deleted; a foreign neighbour of it stays', () => {
    const base = new Set(['a', 'b', 'c']);
    assert.deepStrictEqual(mergeCellIds(['a', 'c'], ['a', 'b', 'c'], base), ['a', 'c']);
    // x was added after b, which the editor deleted: it follows a, the nearest kept cell.
    assert.deepStrictEqual(mergeCellIds(['a', 'c'], ['a', 'b', 'x', 'c'], base), ['a', 'x', 'c']);
  });

  test('a foreign cell follows its neighbour when the editor moved it', () => {
    assert.deepStrictEqual(mergeCellIds(['b', 'a'], ['a', 'x', 'b'], new Set(['a', 'b'])), ['b', 'a', 'x']);
  });

  test('a save keeps the cell and file another process added, and deletes what the editor deleted', async () => {
    const directory = notebookDir([
      ['a', 1, 'a = 1'],
      ['b', 2, 'b = 2'],
      ['x', 2.5, 'x = "theirs"'],
      ['c', 3, 'c = 3'],
    ]);
    // The editor loaded a, b, c; it deleted b, edited c and added e at the end.
    const bundle = makeBundle(directory, 'merge-test', 'merge', [pythonCell('a', 'a = 1'), pythonCell('c', 'c = 30'), pythonCell('e', 'e = 5')]);
    const result = await saveNotebook(bundle, engineWriter(), new Set(['a', 'b', 'c']));
    assert.deepStrictEqual(result, { written: ['c', 'e'], kept: ['x'] });
    const cells = (await readManifestCells(directory)).cells;
    assert.deepStrictEqual(
      cells.map((cell) => [cell.id, cell.file, cell.order]),
      [
        ['a', 'a.py', 1],
        ['x', 'x.py', 2.5],
        ['c', 'c.py', 3],
        ['e', 'e.py', 4],
      ],
    );
    const files = fs.readdirSync(path.join(directory, 'cells')).sort();
    assert.deepStrictEqual(files, ['a.py', 'c.py', 'e.py', 'x.py']);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', 'x.py'), 'utf8'), 'x = "theirs"\n');
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', 'c.py'), 'utf8'), 'c = 30\n');
    fs.rmSync(directory, { recursive: true, force: true });
  });

  test('a save with nothing to merge leaves notebook.toml alone', async () => {
    const directory = notebookDir([
      ['a', 1, 'a = 1'],
      ['b', 2, 'b = 2'],
    ]);
    const before = fs.readFileSync(path.join(directory, 'notebook.toml'), 'utf8');
    const bundle = makeBundle(directory, 'merge-test', 'merge', [pythonCell('a', 'a = 10'), pythonCell('b', 'b = 2')]);
    assert.deepStrictEqual(await saveNotebook(bundle, engineWriter(), new Set(['a', 'b'])), { written: ['a'], kept: [] });
    assert.strictEqual(fs.readFileSync(path.join(directory, 'notebook.toml'), 'utf8'), before);
    fs.rmSync(directory, { recursive: true, force: true });
  });
});
