// Editor plumbing: cell files and notebook.toml opened as text reach the server unsaved; VS
// Code's file watcher carries outside edits of notebook.toml into the open notebook; Show
// Diagnostics; Restart Server in the toolbar and on settings changes; the cell interpreter
// choice; and the pure pieces (venv layouts per platform, which files belong to a notebook,
// the environment pick, redaction).
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { formatReport, isSecretName, redactSettings, reportedVariables } from '../../diagnosticsReport';
import { DirectoryWatch, directoriesUnder } from '../../directoryWatch';
import type { StrataApi } from '../../extension';
import { environmentPicks, FOLLOW, SelectOutcome } from '../../interpreterChoice';
import { notebookVenvPython, venvPython, venvScriptsDir } from '../../paths';
import { effectiveSettings } from '../../serverSettings';
import { notebookOfTextFile } from '../../textDocuments';
import { cell, closeAll, codeCellIds, EXTENSION_ID, freshCopy, openNotebook, strataApi, waitFor } from './helpers';

function codeOf(diagnostic: vscode.Diagnostic): string {
  const code = diagnostic.code;
  return String(typeof code === 'object' ? code.value : code);
}

suite('Plumbing units', () => {
  test('a direct watch reports the notebook directory and cells/, even a cells/ made later, and never the store below it', async () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-watch-'));
    const seen: string[] = [];
    const watch = new DirectoryWatch(() => [directory, ...directoriesUnder(path.join(directory, 'cells'))], (file) => file !== undefined && seen.push(path.relative(directory, file)));
    try {
      const saw = (name: string): Promise<boolean> => waitFor(`an event for ${name} (saw ${seen.join(', ')})`, () => seen.includes(name));
      fs.mkdirSync(path.join(directory, 'cells'));
      await saw('cells');
      fs.writeFileSync(path.join(directory, 'cells', 'a.py'), 'a = 1\n');
      await saw(path.join('cells', 'a.py'));
      fs.mkdirSync(path.join(directory, 'cells', 'sub'));
      await saw(path.join('cells', 'sub'));
      fs.writeFileSync(path.join(directory, 'cells', 'sub', 'b.sql'), 'select 1\n');
      await saw(path.join('cells', 'sub', 'b.sql'));
      fs.mkdirSync(path.join(directory, '.strata', 'objects'), { recursive: true });
      fs.writeFileSync(path.join(directory, '.strata', 'objects', 'blob'), 'x');
      // Events come in order from one inotify queue: once the manifest's arrives, any for the store would have.
      fs.writeFileSync(path.join(directory, 'notebook.toml'), '');
      await saw('notebook.toml');
      assert.deepStrictEqual(seen.filter((name) => name.startsWith(`.strata${path.sep}`)), []);
    } finally {
      watch.dispose();
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });

  test('VS Code does not watch the store: .strata/ joins files.watcherExclude beside its defaults', () => {
    const excluded = vscode.workspace.getConfiguration('files').get<Record<string, boolean>>('watcherExclude') ?? {};
    assert.strictEqual(excluded['**/.strata/**'], true);
    assert.ok(Object.keys(excluded).some((glob) => glob.includes('.git/objects')), `the contributed default is merged, not a replacement: ${JSON.stringify(excluded)}`);
  });

  test('a venv interpreter is bin/python on POSIX and Scripts\\python.exe on Windows', () => {
    assert.strictEqual(venvPython('/home/u/env', 'linux'), '/home/u/env/bin/python');
    assert.strictEqual(venvPython('/Users/u/env', 'darwin'), '/Users/u/env/bin/python');
    assert.strictEqual(venvPython('C:\\Users\\u\\env', 'win32'), 'C:\\Users\\u\\env\\Scripts\\python.exe');
    assert.strictEqual(venvScriptsDir('C:\\env', 'win32'), 'C:\\env\\Scripts');
    assert.strictEqual(venvScriptsDir('/env', 'linux'), '/env/bin');
    assert.strictEqual(notebookVenvPython('C:\\nb', 'win32'), 'C:\\nb\\.venv\\Scripts\\python.exe');
    assert.strictEqual(notebookVenvPython('/nb', 'linux'), '/nb/.venv/bin/python');
  });

  test('a text file belongs to a notebook when its cells/ folder has a notebook.toml beside it', () => {
    const manifests = new Set(['/w/nb/notebook.toml']);
    const exists = (target: string): boolean => manifests.has(target);
    assert.strictEqual(notebookOfTextFile('/w/nb/cells/load.py', exists, path.posix), '/w/nb');
    assert.strictEqual(notebookOfTextFile('/w/nb/cells/sub/q.sql', exists, path.posix), '/w/nb');
    assert.strictEqual(notebookOfTextFile('/w/nb/notebook.toml', exists, path.posix), '/w/nb');
    assert.strictEqual(notebookOfTextFile('/w/other/cells/x.py', exists, path.posix), undefined, 'a cells/ folder of another project');
    assert.strictEqual(notebookOfTextFile('/w/nb/load.py', exists, path.posix), undefined);
    assert.strictEqual(notebookOfTextFile('C:\\w\\nb\\cells\\a.py', (t) => t === 'C:\\w\\nb\\notebook.toml', path.win32), 'C:\\w\\nb');
  });

  test('without the Python extension the pick offers the default, the .venv, the server and Browse', () => {
    const picks = environmentPicks({ notebookVenv: '/nb/.venv/bin/python', serverPython: '/srv/bin/python' });
    assert.deepStrictEqual(picks.map((pick) => pick.choice), ['default', 'notebookVenv', 'server', 'browse']);
    assert.strictEqual(picks[0].description, 'current');
  });

  test("with the Python extension its environments are offered once each, and the current choice is marked", () => {
    const picks = environmentPicks({
      serverPython: '/srv/bin/python',
      known: [
        { id: 'a', path: '/envs/a', executable: '/envs/a/bin/python', name: 'a', type: 'Conda', version: '3.12.1' },
        { id: 'srv', path: '/srv', executable: '/srv/bin/python', name: 'srv' },
        { id: 'b', path: '/envs/b', executable: undefined, type: 'Venv' },
      ],
      current: '/envs/a/bin/python',
    });
    assert.deepStrictEqual(picks.map((pick) => pick.choice), ['default', 'server', 'follow', 'pythonExtension', 'pythonExtension', 'browse']);
    const conda = picks.find((pick) => pick.detail === '/envs/a/bin/python');
    assert.strictEqual(conda?.description, 'current');
    assert.match(conda?.label ?? '', /a 3\.12\.1/);
    assert.strictEqual(picks.find((pick) => pick.detail === '/envs/b')?.target, 'b', 'an environment without an executable is resolved by id');
    assert.strictEqual(picks.find((pick) => pick.choice === 'follow')?.target, FOLLOW);
  });

  test('secret-looking variables and settings are redacted, others kept', () => {
    for (const name of ['OPENAI_API_KEY', 'GITHUB_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'PGPASSWORD', 'GOOGLE_APPLICATION_CREDENTIALS', 'api_key_env']) assert.ok(isSecretName(name), name);
    const variables = reportedVariables({ STRATA_SERVER_PYTHON: '/p', OPENAI_API_KEY: 'sk-1', AWS_SECRET_ACCESS_KEY: 's3cr3t', AWS_REGION: 'eu', HOME: '/root', PATH: '/bin' });
    assert.deepStrictEqual(variables, [
      ['AWS_REGION', 'eu'],
      ['AWS_SECRET_ACCESS_KEY', '<redacted>'],
      ['OPENAI_API_KEY', '<redacted>'],
      ['PATH', '/bin'],
      ['STRATA_SERVER_PYTHON', '/p'],
    ]);
    assert.deepStrictEqual(redactSettings({ python: '/p', ai: { token: 'x', url: 'u' } }), { python: '/p', ai: { token: '<redacted>', url: 'u' } });
    const report = formatReport({
      generated: 'now',
      versions: { 'VS Code': '1.2' },
      server: { pid: '42' },
      interpreter: { executable: '/p' },
      notebook: undefined,
      environment: { kind: 'embedded' },
      settings: {},
      variables,
    });
    assert.match(report, /\| pid \| 42 \|/);
    assert.match(report, /OPENAI_API_KEY=<redacted>/);
    assert.doesNotMatch(report, /sk-1|s3cr3t/);
  });

  test('only an effective change of the server settings counts', () => {
    const settings = (values: Record<string, unknown>, variable?: string): string => effectiveSettings((name) => values[name], variable);
    assert.notStrictEqual(settings({ python: '/a' }), settings({ python: '/b' }));
    assert.strictEqual(settings({ python: '/a' }, '/dev/python'), settings({ python: '/b' }, '/dev/python'), 'strata.python is unused while a server interpreter is set');
    assert.notStrictEqual(settings({ workerHealthInterval: 15 }), settings({ workerHealthInterval: 30 }));
  });
});

suite('Plumbing in VS Code', () => {
  suiteTeardown(closeAll);
  let api: StrataApi;

  suiteSetup(async () => {
    api = await strataApi();
  });

  async function revertAndClose(document: vscode.TextDocument): Promise<void> {
    await vscode.window.showTextDocument(document, { preview: false });
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  }

  test('an unsaved edit of a cell file opened as text gets its diagnostic', async () => {
    const directory = freshCopy('quickstart');
    const document = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(directory, 'cells', 'daily.py')));
    await vscode.window.showTextDocument(document);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(document.uri, new vscode.Position(0, 0), '# @worker gpu\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    assert.ok(document.isDirty, 'the edit stays unsaved');
    const diagnostic = await waitFor(
      'worker_unknown on the text document',
      () => vscode.languages.getDiagnostics(document.uri).find((d) => codeOf(d) === 'worker_unknown'),
      [vscode.languages.onDidChangeDiagnostics],
    );
    assert.strictEqual(diagnostic.range.start.line, 0);
    await revertAndClose(document);
  });

  test('an unsaved edit of notebook.toml opened as text gets its diagnostic', async () => {
    const directory = freshCopy('quickstart');
    const document = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(directory, 'notebook.toml')));
    await vscode.window.showTextDocument(document);
    const edit = new vscode.WorkspaceEdit();
    edit.insert(document.uri, new vscode.Position(1, 0), 'colour = "blue"\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    const diagnostic = await waitFor(
      'manifest_key_unknown on notebook.toml',
      () => vscode.languages.getDiagnostics(document.uri).find((d) => codeOf(d) === 'manifest_key_unknown'),
      [vscode.languages.onDidChangeDiagnostics],
    );
    assert.strictEqual(diagnostic.range.start.line, 1);
    await revertAndClose(document);
  });

  test('a cell added to notebook.toml outside the editor appears in the open notebook', async () => {
    const directory = freshCopy('quickstart');
    const notebook = (await openNotebook(directory)).notebook;
    fs.writeFileSync(path.join(directory, 'cells', 'extra.py'), 'extra = 1\n');
    fs.appendFileSync(path.join(directory, 'notebook.toml'), '\n[[cells]]\nid = "extra"\nfile = "extra.py"\nlanguage = "python"\norder = 100.0\n');
    await waitFor('the new cell in the notebook', () => codeCellIds(notebook).includes('extra'), [vscode.workspace.onDidChangeNotebookDocument]);
    assert.strictEqual(notebook.isDirty, false);
  });

  test("an outside edit still reloads the notebook when VS Code's own watcher ignores its folder", async () => {
    // As if VS Code's watcher had given up (it does after five errors): only the direct watch is left.
    const directory = freshCopy('quickstart');
    const files = vscode.workspace.getConfiguration('files');
    const before = files.inspect<Record<string, boolean>>('watcherExclude')?.workspaceValue;
    await files.update('watcherExclude', { ...before, [`**/${path.basename(directory)}/**`]: true }, vscode.ConfigurationTarget.Workspace);
    try {
      const notebook = (await openNotebook(directory)).notebook;
      const file = path.join(directory, 'cells', 'daily.py');
      const text = `# edited while VS Code's watcher looks away\n${fs.readFileSync(file, 'utf8')}`;
      fs.writeFileSync(file, text);
      await waitFor('the cell to show the outside edit', () => cell(notebook, 'daily').document.getText() === text.replace(/\n$/, ''), [vscode.workspace.onDidChangeNotebookDocument]);
      assert.strictEqual(notebook.isDirty, false);
    } finally {
      await files.update('watcherExclude', before, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Show Diagnostics reports the server, its interpreter and the versions, without secrets', async () => {
    const secret = process.env.STRATA_TEST_AI_KEY;
    assert.ok(secret, 'the integration run sets STRATA_TEST_AI_KEY');
    await openNotebook(freshCopy('quickstart'));
    await api.server.ensureStarted();
    const document = await vscode.commands.executeCommand<vscode.TextDocument>('strata.showDiagnostics');
    try {
      const text = document.getText();
      assert.strictEqual(document.languageId, 'markdown');
      assert.match(text, new RegExp(`\\| pid \\| ${api.server.languageClient?.serverProcess?.pid} \\|`));
      assert.match(text, /\| version \| strata \S+ \|/);
      assert.match(text, /\| uptime \| \d+/);
      assert.ok(text.includes(`| configured | ${process.env.STRATA_SERVER_PYTHON} |`), text);
      assert.match(text, /\| version \| 3\.\d+\.\d+ \|/, 'the interpreter says its version');
      assert.ok(text.includes(`| VS Code | ${vscode.version}`));
      assert.match(text, /\| cell interpreter choice \| default \|/);
      assert.match(text, /## Notebook environment\n\n(```json|Not available)/);
      assert.match(text, /STRATA_TEST_AI_KEY=<redacted>/);
      assert.ok(!text.includes(secret), 'the secret value must not appear');
    } finally {
      await revertAndClose(document);
    }
  });

  test('Restart Server is in the notebook toolbar, and a changed server setting restarts the server', async () => {
    const menus = (vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON as { contributes: { menus: Record<string, { command: string }[]> } }).contributes.menus;
    assert.ok(menus['notebook/toolbar'].some((entry) => entry.command === 'strata.restartServer'));
    await api.server.ensureStarted();
    let starts = 0;
    const counting = api.server.onDidStart(() => starts++);
    const config = vscode.workspace.getConfiguration('strata');
    try {
      await config.update('workerHealthInterval', 31, vscode.ConfigurationTarget.Workspace);
      await waitFor('a restart', () => starts === 1 && api.server.state === 'running', [api.server.onDidChangeState]);
      assert.strictEqual((api.server.languageClient?.clientOptions.initializationOptions as { workerHealthSeconds: number }).workerHealthSeconds, 31);
    } finally {
      await config.update('workerHealthInterval', undefined, vscode.ConfigurationTarget.Workspace);
    }
    await waitFor('a second restart', () => starts === 2 && api.server.state === 'running', [api.server.onDidChangeState]);
    counting.dispose();
  });

  /** A real venv of the server's Python; with the engine's packages through a .pth (as a user's env with pyarrow would have). */
  function makeVenv(target: string, withEnginePackages: boolean): string {
    const python = process.env.STRATA_SERVER_PYTHON ?? 'python3';
    execFileSync(python, ['-m', 'venv', '--without-pip', target]);
    const venvPython = path.join(target, 'bin', 'python');
    if (withEnginePackages) {
      const purelib = execFileSync(python, ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: 'utf8' }).trim();
      const site = execFileSync(venvPython, ['-c', "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: 'utf8' }).trim();
      fs.writeFileSync(path.join(site, '_engine_packages.pth'), `${purelib}\n`);
    }
    return venvPython;
  }

  test('a chosen cell interpreter becomes the notebook environment; one that cannot run cells is refused', async () => {
    const directory = freshCopy('quickstart');
    await openNotebook(directory);
    const good = makeVenv(`${directory}-env`, true);
    const outcome = await vscode.commands.executeCommand<SelectOutcome>('strata.selectCellEnvironment', good);
    assert.strictEqual(outcome.applied, true, outcome.message);
    assert.strictEqual(outcome.executable, good);
    let report = await vscode.commands.executeCommand<vscode.TextDocument>('strata.showDiagnostics');
    assert.ok(report.getText().includes(`| cell interpreter choice | ${good} |`), report.getText());
    assert.ok(report.getText().includes('"kind": "interpreter"'), report.getText());
    await revertAndClose(report);

    const bare = makeVenv(`${directory}-bare`, false);
    const refused = await vscode.commands.executeCommand<SelectOutcome>('strata.selectCellEnvironment', bare);
    assert.strictEqual(refused.applied, false);
    assert.match(refused.message, /lacks xxhash, cloudpickle, pyarrow/);

    const reset = await vscode.commands.executeCommand<SelectOutcome>('strata.selectCellEnvironment', '');
    assert.strictEqual(reset.applied, true, reset.message);
    report = await vscode.commands.executeCommand<vscode.TextDocument>('strata.showDiagnostics');
    assert.match(report.getText(), /\| cell interpreter choice \| default \|/);
    assert.ok(report.getText().includes('"kind": "embedded"'), report.getText());
    await revertAndClose(report);
  });
});
