// Agent tools in the real VS Code: the engine's tools as language model tools (vscode.lm.tools,
// vscode.lm.invokeTool against the real server on copies of quickstart), an agent's edits
// appearing in the open notebook editor, a run's outcome, the confirmations of destructive
// calls, the outputs of an agent's runs shown in the open notebook (replacing stale ones, a
// cache hit badged as one), and the MCP server definition, whose process is started and asked for its tools.
import * as assert from 'assert';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { bounded, confirmationReason, ranCells, resolveRoot, ToolSpec, trustRefusal } from '../../agentTools';
import type { StrataApi } from '../../extension';
import { mcpServerSpecs } from '../../mcpServer';
import { notebookMetadata } from '../../metadata';
import { isCached } from '../../outputs';
import { cell, closeAll, codeCellIds, freshCopy, openNotebook, outputTexts, replaceCellText, strataApi, waitFor } from './helpers';

function textOf(result: vscode.LanguageModelToolResult): string {
  return result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
}

function invoke(name: string, input: object): Thenable<vscode.LanguageModelToolResult> {
  return vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined });
}

function workspaceFolder(): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (folder === undefined) throw new Error('the tests need a workspace folder');
  return fs.realpathSync(folder);
}

const spec = (over: Partial<ToolSpec>): ToolSpec => ({ name: 't', description: '', inputSchema: {}, destructive: false, runsCode: false, ...over });

suite('Agent tools units', () => {
  test('destructive calls and SQL writes need confirmation; reads and plain edits do not', () => {
    assert.match(confirmationReason(spec({ destructive: true }), {}) ?? '', /cannot be undone/);
    assert.match(confirmationReason(spec({ destructive: true, runsCode: true }), {}) ?? '', /runs code/);
    assert.match(confirmationReason(spec({}), { source: 'delete from t', language: 'sql' }) ?? '', /SQL/);
    assert.match(confirmationReason(spec({}), { source: 'delete from t' }, 'sql') ?? '', /SQL/, 'an edit of a SQL cell');
    assert.strictEqual(confirmationReason(spec({}), { source: 'x = 1', language: 'python' }), undefined);
    assert.strictEqual(confirmationReason(spec({ runsCode: true }), { cell: 'a' }, 'python'), undefined);
  });

  test('the root is the workspace folder holding the notebook; an omitted notebook is the active one', () => {
    const exists = (file: string): boolean => file === '/w2/nb/notebook.toml';
    assert.deepStrictEqual(resolveRoot({ notebook: 'nb' }, ['/w1', '/w2'], undefined, true, exists), { root: '/w2', input: { notebook: 'nb' } });
    assert.deepStrictEqual(resolveRoot({ notebook: '/w1/a/nb' }, ['/w1'], undefined, true, exists), { root: '/w1', input: { notebook: 'a/nb' } });
    assert.deepStrictEqual(resolveRoot({}, ['/w1', '/w2'], '/w2/x', true, exists), { root: '/w2', input: { notebook: 'x' } });
    assert.deepStrictEqual(resolveRoot({}, ['/w1'], '/w1/x', false, exists), { root: '/w1', input: {} }, 'list_notebooks takes no notebook');
    assert.deepStrictEqual(resolveRoot({}, [], '/else/x', true, exists), { root: '/else', input: { notebook: 'x' } });
    assert.strictEqual(resolveRoot({}, [], undefined, true, exists), undefined);
  });

  test('tools that run code refuse in an untrusted workspace, saying how to proceed; the others do not', () => {
    assert.match(trustRefusal(spec({ name: 'run_cell', runsCode: true }), false) ?? '', /run_cell runs notebook code, which needs a trusted workspace\. Nothing ran/);
    assert.strictEqual(trustRefusal(spec({ name: 'run_cell', runsCode: true }), true), undefined);
    assert.strictEqual(trustRefusal(spec({ name: 'edit_cell' }), false), undefined);
  });

  test("the cells a run's result names: its data's outcomes, none for a refused call, else every cell", () => {
    const outcome = { cell: 'a', status: 'ok', cacheHit: true, executed: false, durationMs: 1 };
    assert.deepStrictEqual(ranCells({ text: '', data: { cells: [outcome] } }), [outcome]);
    assert.deepStrictEqual(ranCells({ text: 'no cell x', isError: true }), []);
    assert.strictEqual(ranCells({ text: '', data: { cells: [{ cell: 'a' }] } }), undefined, 'a shape it does not know');
    assert.strictEqual(ranCells({ text: '' }), undefined);
  });

  test('results are bounded and say so', () => {
    assert.strictEqual(bounded('abc', 5), 'abc');
    assert.match(bounded('a'.repeat(50), 10), /^a{10}\n… \[40 more characters cut/);
  });

  test('the MCP server: one per folder, --allow-run only when allowed in a trusted workspace, none when disabled', () => {
    const folders = [{ name: 'w', path: '/w' }];
    const [one] = mcpServerSpecs(folders, '/py', { enabled: true, allowRun: false, trusted: true });
    assert.deepStrictEqual(one, { label: 'Strata notebooks', command: '/py', args: ['-m', 'strata_engine.cli', 'mcp', '/w'], cwd: '/w' });
    assert.deepStrictEqual(mcpServerSpecs(folders, '/py', { enabled: true, allowRun: true, trusted: true })[0].args.at(-1), '--allow-run');
    assert.deepStrictEqual(mcpServerSpecs(folders, '/py', { enabled: true, allowRun: true, trusted: false })[0].args.at(-1), '/w');
    assert.deepStrictEqual(mcpServerSpecs(folders, '/py', { enabled: false, allowRun: true, trusted: true }), []);
    const two = mcpServerSpecs([...folders, { name: 'v', path: '/v' }], '/py', { enabled: true, allowRun: false, trusted: true });
    assert.deepStrictEqual(two.map((server) => server.label), ['Strata notebooks (w)', 'Strata notebooks (v)']);
  });
});

suite('Agent tools', () => {
  let api: StrataApi;
  suiteSetup(async () => {
    api = await strataApi();
    await api.server.ensureStarted();
  });
  suiteTeardown(closeAll);

  test("vscode.lm.tools lists every Strata tool with the engine's description and schema", async () => {
    const specs = await api.server.request<ToolSpec[]>('strata/agentTools', {});
    const tools = new Map(vscode.lm.tools.filter((tool) => tool.name.startsWith('strata_')).map((tool) => [tool.name, tool]));
    assert.deepStrictEqual([...tools.keys()].sort(), specs.map((s) => `strata_${s.name}`).sort());
    for (const s of specs) {
      const tool = tools.get(`strata_${s.name}`)!;
      assert.strictEqual(tool.description, s.description);
      assert.deepStrictEqual(tool.inputSchema, s.inputSchema, s.name);
    }
  });

  test('strata_get_notebook returns the notebook named relative to the workspace folder', async () => {
    const directory = freshCopy('quickstart');
    const text = textOf(await invoke('strata_get_notebook', { notebook: path.relative(workspaceFolder(), directory) }));
    assert.match(text, /7 cells in order/);
    assert.match(text, /load_data \[python\] never_run/);
  });

  test("an agent's add, edit, move and delete show in the open notebook editor when each call returns; an unsaved edit is saved first", async () => {
    const editor = await openNotebook(freshCopy('quickstart'));
    const notebook = editor.notebook;
    await replaceCellText(cell(notebook, 'plot'), '# the user typed this\n');
    assert.ok(notebook.isDirty);
    // No notebook argument: the active notebook. Each call returns once the editor shows it,
    // so the next one (here at once) never races the reload of the last.
    const added = textOf(await invoke('strata_add_cell', { source: 'extra = 1\n', id: 'agent_extra', after: 'clean' }));
    assert.match(added, /added cell agent_extra/);
    assert.deepStrictEqual(codeCellIds(notebook).slice(0, 3), ['load_data', 'clean', 'agent_extra']);
    assert.strictEqual(cell(notebook, 'plot').document.getText().trimEnd(), '# the user typed this', 'the unsaved edit was saved first, not lost');
    await invoke('strata_edit_cell', { cell: 'agent_extra', source: 'extra = 2\n' });
    assert.strictEqual(cell(notebook, 'agent_extra').document.getText().trimEnd(), 'extra = 2');
    await invoke('strata_move_cell', { cell: 'agent_extra', after: null });
    assert.strictEqual(codeCellIds(notebook)[0], 'agent_extra');
    // Destructive: VS Code would ask the user first (no chat here to ask in), so the tool's own invoke.
    await api.agentTools.invoke('delete_cell', { cell: 'agent_extra' });
    assert.ok(!codeCellIds(notebook).includes('agent_extra'));
    assert.strictEqual(notebook.isDirty, false);
  });

  test('strata_run_cell runs in the trusted workspace and returns the outcome', async () => {
    await openNotebook(freshCopy('quickstart'));
    const text = textOf(await invoke('strata_run_cell', { cell: 'load_data' }));
    assert.match(text, /load_data: ok/);
    assert.match(text, /loaded 5000 rows/);
    const again = textOf(await invoke('strata_run_cell', { cell: 'load_data' }));
    assert.match(again, /0 executed, 1 cached/, 'the second time is a cache hit');
  });

  test("an agent's runs show their cells' outputs in the open notebook, replacing stale ones, a cache hit badged as one", async () => {
    const notebook = (await openNotebook(freshCopy('quickstart'))).notebook;
    const directory = notebookMetadata(notebook)!.directory;
    const stdout = (id: string): string => (outputTexts(cell(notebook, id))['application/vnd.code.notebook.stdout'] ?? []).join('');
    const changes = [vscode.workspace.onDidChangeNotebookDocument as vscode.Event<unknown>];
    const shows = (id: string, pattern: RegExp): Promise<boolean> => waitFor(`${id} to show ${String(pattern)} (it shows ${JSON.stringify(stdout(id))})`, () => pattern.test(stdout(id)), changes);

    assert.match(textOf(await invoke('strata_run_cell', { cell: 'clean' })), /2 executed/);
    // The upstream cell the call ran shows too; both as executed (no cache badge).
    await shows('load_data', /^loaded 5000 rows\n$/);
    await shows('clean', /^kept \d+ of 5000 rows\n$/);
    for (const id of ['load_data', 'clean']) {
      assert.strictEqual(cell(notebook, id).executionSummary?.success, true, id);
      assert.ok(!cell(notebook, id).outputs.some(isCached), id);
      assert.strictEqual(api.states.liveState(directory, id)?.cached, false, id);
    }
    assert.ok(cell(notebook, 'load_data').outputs.some((output) => output.items.some((item) => item.mime === 'text/html')), 'the head() display');

    // A cell that shows outputs already gets the new ones (a reopen used to be needed).
    await invoke('strata_run_snippet', { source: 'print("agent says hi")\n', id: 'agent_scratch' });
    await shows('agent_scratch', /^agent says hi\n$/);
    await invoke('strata_run_snippet', { source: 'print("agent says bye")\n', id: 'agent_scratch' });
    await shows('agent_scratch', /^agent says bye\n$/);

    // A failure shows its error, as an editor run's does.
    assert.match(textOf(await invoke('strata_run_snippet', { source: 'raise ValueError("agent boom")\n', id: 'agent_fails' })), /agent_fails: error/);
    const error = await waitFor('agent_fails to show its error', () => cell(notebook, 'agent_fails').outputs.flatMap((output) => output.items).find((item) => item.mime === 'application/vnd.code.notebook.error'), changes);
    assert.match(Buffer.from(error.data).toString('utf8'), /agent boom/);
    assert.strictEqual(cell(notebook, 'agent_fails').executionSummary?.success, false);

    // Served from the cache: the editor says so, as for a cache hit of an editor run.
    assert.match(textOf(await invoke('strata_run_cell', { cell: 'load_data' })), /0 executed, 1 cached/);
    await waitFor('load_data shown as a cache hit', () => cell(notebook, 'load_data').outputs.some(isCached) && api.states.liveState(directory, 'load_data')?.cached, changes);
    assert.strictEqual(stdout('load_data'), 'loaded 5000 rows\n');
    assert.strictEqual(notebook.isDirty, false);
  });

  test('destructive calls ask for confirmation in prepareInvocation; every call has an invocation message', async () => {
    await openNotebook(freshCopy('quickstart'));
    const deleting = await api.agentTools.prepare('delete_cell', { cell: 'clean' });
    assert.strictEqual(deleting.confirmationMessages?.title, 'Strata: Delete cell?');
    assert.match(deleting.invocationMessage as string, /Delete cell `clean`/);
    assert.ok((await api.agentTools.prepare('run_all', {})).confirmationMessages);
    assert.ok((await api.agentTools.prepare('add_dependency', { package: 'rich' })).confirmationMessages);
    const sql = await api.agentTools.prepare('add_cell', { source: 'select 1', language: 'sql' });
    assert.match((sql.confirmationMessages?.message as vscode.MarkdownString).value, /select 1/);
    const reading = await api.agentTools.prepare('get_notebook', {});
    assert.strictEqual(reading.confirmationMessages, undefined);
    assert.match(reading.invocationMessage as string, /Get notebook/);
  });

  test('the MCP server definition runs `strata mcp` on the workspace folder with the server Python', async () => {
    const [definition] = api.mcp.provideMcpServerDefinitions();
    const folder = vscode.workspace.workspaceFolders![0].uri.fsPath;
    assert.deepStrictEqual(definition.args, ['-m', 'strata_engine.cli', 'mcp', folder], 'strata.mcp.allowRun is off by default');
    const resolved = await api.mcp.resolveMcpServerDefinition(definition);
    assert.strictEqual(resolved.command, process.env.STRATA_SERVER_PYTHON);
    const names = await mcpToolNames(resolved);
    assert.ok(names.includes('run_cell') && names.includes('get_notebook'), names.join(', '));
  });
});

/** Starts the definition's process and asks it, as an MCP client over stdio, for its tools. */
async function mcpToolNames(definition: vscode.McpStdioServerDefinition): Promise<string[]> {
  const child = spawn(definition.command, definition.args, { cwd: definition.cwd?.fsPath, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  try {
    const replies = lineReader(child);
    const send = (message: object): void => void child.stdin.write(`${JSON.stringify(message)}\n`);
    send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'strata-test', version: '0' } } });
    await replies(1);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const listed = (await replies(2)) as { result: { tools: { name: string }[] } };
    return listed.result.tools.map((tool) => tool.name);
  } finally {
    child.kill();
  }
}

function lineReader(child: ChildProcess): (id: number) => Promise<unknown> {
  const received = new Map<number, unknown>();
  const waiting = new Map<number, (value: unknown) => void>();
  let buffer = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const message = JSON.parse(buffer.slice(0, newline)) as { id?: number };
      buffer = buffer.slice(newline + 1);
      if (typeof message.id !== 'number') continue;
      received.set(message.id, message);
      waiting.get(message.id)?.(message);
    }
  });
  return (id) =>
    new Promise((resolve, reject) => {
      if (received.has(id)) return resolve(received.get(id));
      waiting.set(id, resolve);
      child.once('exit', (code) => reject(new Error(`strata mcp exited with ${code} before answering ${id}: ${stderr}`)));
    });
}
