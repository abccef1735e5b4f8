// The extension's reader of notebook directories against the golden manifests the engine's
// loader is checked against too (tests/fixtures/manifests/README.md): the same cells, in the
// same order, from the same files. Diagnostics are the language server's, so not compared.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { readManifestCells, readNotebook } from '../../notebookDir';
import { repoRoot } from './helpers';

const FIXTURES = path.join(repoRoot, 'tests', 'fixtures', 'manifests');

interface ExpectedCell {
  id: string;
  file: string;
  language: string;
  order: number;
  readable: boolean;
  diagnostics: string[];
}
type Expected = { error: string } | { cells: ExpectedCell[]; diagnostics: string[] };

const cases = fs.readdirSync(FIXTURES).filter((name) => fs.existsSync(path.join(FIXTURES, name, 'expected.json'))).sort();

suite('Golden manifests', () => {
  test('the fixtures are there', () => {
    assert.ok(cases.length >= 12, `only ${cases.length} cases in ${FIXTURES}`);
  });

  for (const name of cases) {
    test(name, async () => {
      const directory = path.join(FIXTURES, name);
      const expected = JSON.parse(fs.readFileSync(path.join(directory, 'expected.json'), 'utf8')) as Expected;
      if ('error' in expected) {
        await assert.rejects(readNotebook(directory), (error: Error) => error.message.includes(expected.error));
        return;
      }
      const [manifest, bundle] = await Promise.all([readManifestCells(directory), readNotebook(directory)]);
      assert.deepStrictEqual(bundle.cells.map((cell) => cell.id), manifest.cells.map((cell) => cell.id));
      const actual = bundle.cells.map((cell, i) => ({
        id: cell.id,
        file: cell.file,
        language: cell.language,
        order: manifest.cells[i].order,
        readable: cell.missing !== true,
      }));
      assert.deepStrictEqual(actual, expected.cells.map(({ diagnostics: _codes, ...cell }) => cell));
    });
  }
});
