// SQL and prompt cells in the editor: their own languages and grammars, "Add SQL Cell" /
// "Add Prompt Cell" saving the right language and suffix, completion of upstream names in a
// placeholder and a bind (from the real language server), and a prompt's answer streaming
// into the cell while it arrives (from a chat-completions server on loopback), its hover
// naming the model and the token usage.
import * as assert from 'assert';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import * as vscode from 'vscode';
import { cellId } from '../../metadata';
import { cell, closeAll, EXTENSION_ID, git, openNotebook, outputTexts, replaceCellText, strataApi, waitFor } from './helpers';

let scratch = 0;

/** A notebook directory in the test workspace, committed in git; cells: [id, language, file, text]. */
function scratchNotebook(header: string, cells: [string, string, string, string][]): string {
  const workspace = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (workspace === undefined) throw new Error('the tests need a workspace folder');
  const directory = path.join(workspace, `kinds-${process.pid}-${++scratch}`);
  fs.mkdirSync(path.join(directory, 'cells'), { recursive: true });
  const entries = cells.map(([id, language, file, text], i) => {
    fs.writeFileSync(path.join(directory, 'cells', file), text);
    return `[[cells]]\nid = "${id}"\nfile = "${file}"\nlanguage = "${language}"\norder = ${i + 1}\n`;
  });
  fs.writeFileSync(path.join(directory, 'notebook.toml'), `notebook_id = "kinds-${scratch}"\nname = "kinds"\n${header}\n${entries.join('\n')}`);
  git(directory, 'init', '-q');
  git(directory, 'add', '-A');
  git(directory, '-c', 'user.name=test', '-c', 'user.email=test@example.invalid', 'commit', '-q', '-m', 'scratch');
  return fs.realpathSync(directory);
}

const CONNECTIONS = '[connections.wh]\ndriver = "sqlite"\npath = "wh.db"\n\n[connections.mem]\ndriver = "duckdb"\n';

function kindsNotebook(): string {
  return scratchNotebook(CONNECTIONS, [
    ['load', 'python', 'load.py', 'tickets = ["login fails", "refund"]\nlimit_rows = 5\n'],
    // As the original Strata stores them: a SQL cell in a .py file (the manifest decides).
    ['q', 'sql', 'q.py', '# @sql connection=wh\n-- the tickets table\nSELECT 1 AS one\n'],
    ['p', 'prompt', 'p.prompt', '# @name triage\nSort the tickets.\n'],
    ['later', 'python', 'later.py', 'late = 1\n'],
  ]);
}

interface ManifestEntry {
  id: string;
  file: string;
  language: string;
}

function manifestEntries(directory: string): ManifestEntry[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const toml = require('smol-toml') as { parse(text: string): { cells: ManifestEntry[] } };
  return toml.parse(fs.readFileSync(path.join(directory, 'notebook.toml'), 'utf8')).cells.map(({ id, file, language }) => ({ id, file, language }));
}

interface Token {
  text: string;
  scopes: string[];
}

// The parts of vscode-textmate and vscode-oniguruma (shipped inside VS Code) the test uses.
interface Grammar {
  tokenizeLine(line: string, state: unknown): { tokens: { startIndex: number; endIndex: number; scopes: string[] }[]; ruleStack: unknown };
}
interface TextMate {
  INITIAL: unknown;
  parseRawGrammar(content: string, filePath: string): unknown;
  Registry: new (options: { onigLib: Promise<unknown>; loadGrammar(scope: string): Promise<unknown> }) => { loadGrammar(scope: string): Promise<Grammar | null> };
}
interface Oniguruma {
  loadWASM(data: ArrayBuffer): Promise<void>;
  OnigScanner: new (patterns: string[]) => unknown;
  OnigString: new (text: string) => unknown;
}

/**
 * Tokenize `text` as VS Code would, with VS Code's own TextMate engine and SQL grammar (from
 * the running VS Code's install) and our grammars as package.json contributes them.
 */
async function tokenize(scopeName: string, text: string): Promise<Token[]> {
  const extension = vscode.extensions.getExtension(EXTENSION_ID)!;
  const contributed = (extension.packageJSON as { contributes: { grammars: { scopeName: string; path: string }[] } }).contributes.grammars;
  const files = new Map(contributed.map((g) => [g.scopeName, path.join(extension.extensionPath, g.path)]));
  const appRoot = vscode.env.appRoot;
  files.set('source.sql', path.join(appRoot, 'extensions', 'sql', 'syntaxes', 'sql.tmLanguage.json'));
  /* eslint-disable @typescript-eslint/no-require-imports */
  const tm = require(path.join(appRoot, 'node_modules', 'vscode-textmate')) as TextMate;
  const onig = require(path.join(appRoot, 'node_modules', 'vscode-oniguruma')) as Oniguruma;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const wasm = fs.readFileSync(path.join(appRoot, 'node_modules', 'vscode-oniguruma', 'release', 'onig.wasm'));
  await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength)).catch(() => undefined); // once per process
  const registry = new tm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns), createOnigString: (s: string) => new onig.OnigString(s) }),
    loadGrammar: (scope: string) => {
      const file = files.get(scope);
      return Promise.resolve(file === undefined ? null : tm.parseRawGrammar(fs.readFileSync(file, 'utf8'), file));
    },
  });
  const grammar = await registry.loadGrammar(scopeName);
  assert.ok(grammar, `no grammar ${scopeName}`);
  const tokens: Token[] = [];
  let state = tm.INITIAL;
  for (const line of text.split('\n')) {
    const result = grammar.tokenizeLine(line, state);
    state = result.ruleStack;
    for (const token of result.tokens) tokens.push({ text: line.slice(token.startIndex, token.endIndex), scopes: token.scopes });
  }
  return tokens;
}

function scopesOf(tokens: Token[], text: string): string {
  const found = tokens.filter((t) => t.text === text);
  assert.ok(found.length > 0, `no token ${JSON.stringify(text)} in ${JSON.stringify(tokens.map((t) => t.text))}`);
  return found.map((t) => t.scopes.join(' ')).join(' | ');
}

async function completionLabels(document: vscode.TextDocument, position: vscode.Position, trigger: string): Promise<string[]> {
  const list = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', document.uri, position, trigger);
  return list.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
}

suite('SQL and prompt cells', () => {
  suiteTeardown(closeAll);

  test('SQL and prompt cells open in languages of their own, with grammars', async () => {
    const languages = await vscode.languages.getLanguages();
    assert.ok(languages.includes('strata-sql') && languages.includes('strata-prompt'), languages.join(' '));
    const directory = kindsNotebook();
    const notebook = (await openNotebook(directory)).notebook;
    assert.deepStrictEqual(
      notebook.getCells().map((c) => [cellId(c), c.document.languageId]),
      [['load', 'strata-python'], ['q', 'strata-sql'], ['p', 'strata-prompt'], ['later', 'strata-python']],
    );

    const sql = await tokenize('source.strata-sql', "# @sql connection=wh\n-- a comment\nSELECT * FROM t WHERE x = :lim AND y::int = 1 AND s = ':no'\n# @name late");
    assert.match(scopesOf(sql, '@sql'), /keyword\.control\.annotation\.strata/);
    assert.match(scopesOf(sql, 'connection'), /variable\.parameter\.annotation\.strata/);
    assert.match(scopesOf(sql, 'SELECT'), /keyword\.other\.DML\.sql/); // VS Code's SQL grammar
    assert.match(scopesOf(sql, 'lim'), /variable\.parameter\.bind\.strata/);
    assert.doesNotMatch(scopesOf(sql, ':no'), /bind/); // inside a string
    assert.doesNotMatch(sql.map((t) => t.scopes.join(' ')).join('\n'), /bind[^\n]*\n[^\n]*int/); // a :: cast
    assert.doesNotMatch(scopesOf(sql, '@name'), /annotation/); // after the first code line

    const prompt = await tokenize('source.strata-prompt', '# @model gpt-4o-mini\nSort {{ tickets.head }} by {{channels}}.');
    assert.match(scopesOf(prompt, '@model'), /keyword\.control\.annotation\.strata/);
    assert.match(scopesOf(prompt, 'tickets'), /variable\.other\.readwrite\.strata/);
    assert.match(scopesOf(prompt, '.head'), /variable\.other\.property\.strata/);
    assert.match(scopesOf(prompt, 'channels'), /meta\.embedded\.placeholder\.strata/);
    assert.doesNotMatch(scopesOf(prompt, 'Sort '), /placeholder/);
  });

  test('Add SQL Cell and Add Prompt Cell save the right language and file suffix', async () => {
    const directory = kindsNotebook();
    const editor = await openNotebook(directory);
    const notebook = editor.notebook;
    editor.selection = new vscode.NotebookRange(0, 1);
    await vscode.commands.executeCommand('strata.addSqlCell');
    const sql = notebook.cellAt(1);
    assert.strictEqual(sql.document.languageId, 'strata-sql');
    // The first connection of notebook.toml.
    assert.match(sql.document.getText(), /^# @sql connection=wh\n# @name result\n/);
    await vscode.commands.executeCommand('strata.addPromptCell');
    const prompt = notebook.cellAt(2);
    assert.strictEqual(prompt.document.languageId, 'strata-prompt');
    assert.match(prompt.document.getText(), /^# @name answer\n/);
    const ids = await waitFor('ids for the new cells', () => (cellId(sql) && cellId(prompt) ? [cellId(sql)!, cellId(prompt)!] : undefined), [vscode.workspace.onDidChangeNotebookDocument]);

    assert.ok(await notebook.save());
    const changed = git(directory, 'status', '--porcelain', '--untracked-files=all').trimEnd().split('\n').sort();
    assert.deepStrictEqual(changed, [' M notebook.toml', `?? cells/${ids[0]}.sql`, `?? cells/${ids[1]}.prompt`].sort());
    assert.deepStrictEqual(manifestEntries(directory), [
      { id: 'load', file: 'load.py', language: 'python' },
      { id: ids[0], file: `${ids[0]}.sql`, language: 'sql' },
      { id: ids[1], file: `${ids[1]}.prompt`, language: 'prompt' },
      { id: 'q', file: 'q.py', language: 'sql' },
      { id: 'p', file: 'p.prompt', language: 'prompt' },
      { id: 'later', file: 'later.py', language: 'python' },
    ]);
    assert.strictEqual(fs.readFileSync(path.join(directory, 'cells', `${ids[0]}.sql`), 'utf8'), '# @sql connection=wh\n# @name result\nSELECT 1\n');
  });

  test('a placeholder and a bind complete the names upstream cells define', async () => {
    const directory = kindsNotebook();
    const notebook = (await openNotebook(directory)).notebook;
    const prompt = cell(notebook, 'p');
    await replaceCellText(prompt, '# @name triage\nSort {{ ti');
    const inPlaceholder = await completionLabels(prompt.document, new vscode.Position(1, 'Sort {{ ti'.length), ' ');
    for (const name of ['tickets', 'limit_rows', 'result']) assert.ok(inPlaceholder.includes(name), inPlaceholder.join(' '));
    assert.ok(!inPlaceholder.includes('late'), 'a later cell is not upstream');

    const query = cell(notebook, 'q');
    await replaceCellText(query, '# @sql connection=wh\nSELECT * FROM t LIMIT :li');
    const inBind = await completionLabels(query.document, new vscode.Position(1, 'SELECT * FROM t LIMIT :li'.length), ':');
    assert.ok(inBind.includes('limit_rows') && inBind.includes('tickets'), inBind.join(' '));
    assert.ok(!inBind.includes('late') && !inBind.includes('triage'), inBind.join(' '));
  });

  test("a prompt's answer streams into the cell while it arrives", async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const requests: { model?: string; stream?: boolean }[] = [];
    const server = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        const parsed = JSON.parse(body) as { model?: string; stream?: boolean };
        requests.push(parsed);
        const chunk = (delta: object | null, finish: string | null, usage?: object): string =>
          `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 0, model: parsed.model, choices: delta ? [{ index: 0, delta, finish_reason: finish }] : [], ...(usage ? { usage } : {}) })}\n\n`;
        response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
        response.write(chunk({ role: 'assistant', content: 'Hello' }, null));
        // The rest only once the first words are on screen.
        void released.then(() => {
          response.write(chunk({ content: ' from the stream' }, null));
          response.write(chunk({}, 'stop'));
          response.write(chunk(null, null, { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 }));
          response.end('data: [DONE]\n\n');
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const ai = `[ai]\nmodel = "loopback-model"\nbase_url = "http://127.0.0.1:${port}/v1"\napi_key_env = "STRATA_TEST_AI_KEY"\n`;
      const directory = scratchNotebook(ai, [['greet', 'prompt', 'greet.prompt', '# @name greeting\nSay hello.\n']]);
      const notebook = (await openNotebook(directory)).notebook;
      const greet = cell(notebook, 'greet');
      const stdout = (): string => (outputTexts(greet)['application/vnd.code.notebook.stdout'] ?? []).join('');
      // The command resolves when the cell has finished, which needs the rest of the answer.
      const executed = vscode.commands.executeCommand('notebook.cell.execute', { ranges: [{ start: greet.index, end: greet.index + 1 }], document: notebook.uri });
      const ended = (): boolean => greet.executionSummary?.timing?.endTime !== undefined;
      await waitFor('the first words in the output', () => stdout().includes('Hello') || ended(), [vscode.workspace.onDidChangeNotebookDocument], 50_000);
      assert.ok(stdout().includes('Hello') && !ended(), `${requests.length} request(s); outputs: ${JSON.stringify(outputTexts(greet))}`);
      assert.ok(!stdout().includes('from the stream'), 'the rest had not been sent yet');
      release();
      await executed;
      await waitFor('the cell to finish', ended, [vscode.workspace.onDidChangeNotebookDocument], 50_000);
      assert.strictEqual(greet.executionSummary?.success, true, JSON.stringify(outputTexts(greet)));
      assert.match(stdout(), /Hello from the stream/);
      assert.strictEqual(requests.length, 1);
      assert.strictEqual(requests[0].model, 'loopback-model');
      assert.strictEqual(requests[0].stream, true);

      // The cell's hover (editor/prompt_explain.py) shows the model and the token usage.
      const { states } = await strataApi();
      await waitFor('the cell ready', () => states.cells(directory).find((c) => c.id === 'greet')?.state === 'ready', [states.onDidChange]);
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', greet.document.uri, new vscode.Position(0, 0));
      const hover = hovers.flatMap((h) => h.contents.map((c) => (typeof c === 'string' ? c : c.value))).join('\n');
      assert.match(hover, /loopback-model/, hover);
      assert.match(hover, /9 prompt \+ 4 completion tokens/, hover);
      assert.match(hover, /Say hello\./, hover);
    } finally {
      release();
      server.close();
    }
  });
});
