// R cells in the editor: VS Code's built-in R language (and its grammar) for cells whose
// manifest says `language = "r"`, and "Add R Cell" saving `language = "r"` with a .R file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { cellId } from '../../metadata';
import { closeAll, git, openNotebook, waitFor } from './helpers';

let scratch = 0;

function rNotebook(): string {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspace === undefined) throw new Error('the tests need a workspace folder');
  const directory = path.join(workspace, `rcells-${process.pid}-${++scratch}`);
  fs.mkdirSync(path.join(directory, 'cells'), { recursive: true });
  fs.writeFileSync(path.join(directory, 'cells', 'load.py'), 'import pandas as pd\ndf = pd.DataFrame({"x": [1, 2, 3]})\n');
  fs.writeFileSync(path.join(directory, 'cells', 'sum.R'), '# @name total\ntotal <- sum(df$x)\n');
  const entries = [
    '[[cells]]\nid = "load"\nfile = "load.py"\nlanguage = "python"\norder = 1\n',
    '[[cells]]\nid = "sum"\nfile = "sum.R"\nlanguage = "r"\norder = 2\n',
  ];
  fs.writeFileSync(path.join(directory, 'notebook.toml'), `notebook_id = "rcells-${scratch}"\nname = "r cells"\n\n${entries.join('\n')}`);
  git(directory, 'init', '-q');
  git(directory, 'add', '-A');
  git(directory, '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'scratch');
  return fs.realpathSync(directory);
}

function manifestEntries(directory: string): { id: string; file: string; language: string }[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const toml = require('smol-toml') as { parse(text: string): { cells: { id: string; file: string; language: string }[] } };
  return toml.parse(fs.readFileSync(path.join(directory, 'notebook.toml'), 'utf8')).cells.map(({ id, file, language }) => ({ id, file, language }));
}

suite('R cells', () => {
  suiteTeardown(closeAll);

  test('an R cell opens as VS Code R, and Add R Cell saves language = "r" with a .R file', async () => {
    assert.ok((await vscode.languages.getLanguages()).includes('r'), 'VS Code ships the R language');
    const grammar = path.join(vscode.env.appRoot, 'extensions', 'r', 'syntaxes', 'r.tmLanguage.json');
    assert.ok(fs.existsSync(grammar), `the built-in R grammar highlights R cells (${grammar})`);
    const directory = rNotebook();
    const editor = await openNotebook(directory);
    const notebook = editor.notebook;
    assert.deepStrictEqual(
      notebook.getCells().map((c) => [cellId(c), c.document.languageId]),
      [['load', 'strata-python'], ['sum', 'r']],
    );

    editor.selection = new vscode.NotebookRange(1, 2);
    await vscode.commands.executeCommand('strata.addRCell');
    const added = notebook.cellAt(2);
    assert.strictEqual(added.document.languageId, 'r');
    assert.match(added.document.getText(), /^# @name summary\n/);
    const id = await waitFor('an id for the new cell', () => cellId(added), [vscode.workspace.onDidChangeNotebookDocument]);

    assert.ok(await notebook.save());
    const changed = git(directory, 'status', '--porcelain', '--untracked-files=all').trimEnd().split('\n').sort();
    assert.deepStrictEqual(changed, [' M notebook.toml', `?? cells/${id}.R`].sort());
    assert.deepStrictEqual(manifestEntries(directory), [
      { id: 'load', file: 'load.py', language: 'python' },
      { id: 'sum', file: 'sum.R', language: 'r' },
      { id, file: `${id}.R`, language: 'r' },
    ]);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', `${id}.R`), 'utf8'), '# @name summary\nsummary <- 1\n');
  });
});
