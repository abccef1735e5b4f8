// Loop and variant cells end to end, in the real VS Code against the real server: a running
// loop (samples/hill_climb) shows "iter k/N" while its iterations print, "Fork from
// iteration..." inserts a loop that resumes from a stored iteration and runs; choosing
// another member of a switch group (samples/model_variants, switched) writes notebook.toml,
// marks the downstream stale, and the DAG view boxes the group with the new active member.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { cellId } from '../../metadata';
import type { SetActiveVariantResult } from '../../protocol';
import type { RunSummary } from '../../runs';
import { describeCell } from '../../statusBar';
import { variantStatus } from '../../variants';
import { cell, closeAll, freshCopy, openNotebook, outputTexts, strataApi, waitFor } from './helpers';

const STDOUT = 'application/vnd.code.notebook.stdout';

suite('Loop and variant cells', () => {
  suiteTeardown(closeAll);

  test('a loop shows its iteration while it runs, and a fork resumes from a stored iteration', async () => {
    const api = await strataApi();
    const directory = freshCopy('hill_climb');
    const { notebook } = await openNotebook(directory);
    await waitFor('the notebook state', () => api.states.state(directory, 'climb'), [api.states.onDidChange]);
    const seen = new Set<string>();
    const watch = api.states.onDidChange(() => seen.add(describeCell(api.states, directory, 'climb')?.text ?? ''));
    let summary: RunSummary;
    try {
      summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    } finally {
      watch.dispose();
    }
    assert.strictEqual(summary.success, true, JSON.stringify(summary));
    const counters = [...seen].filter((text) => /running · iter \d+\/200/.test(text));
    assert.ok(counters.includes('$(sync~spin) running · iter 1/200'), [...seen].join('\n'));
    assert.ok(counters.length > 3, `the counter moved: ${counters.join(', ')}`);
    // Each iteration printed through the cell's stream, one output growing line by line.
    const printed = outputTexts(cell(notebook, 'climb'))[STDOUT].join('');
    assert.match(printed, /^iter 1: .*\niter 2: /);
    const iterations = api.states.liveState(directory, 'climb')?.loop;
    assert.ok(iterations?.stopped, 'the last progress says @loop_until held');

    const forked = await vscode.commands.executeCommand<vscode.NotebookCell | undefined>('strata.forkFromIteration', cell(notebook, 'climb'), 3);
    assert.ok(forked, 'a cell was inserted');
    assert.strictEqual(forked.index, cell(notebook, 'climb').index + 1);
    const lines = forked.document.getText().split('\n');
    assert.deepStrictEqual(lines.slice(0, 3), [
      '# @name Climb (forked from climb@iter=3)',
      '# @loop max_iter=200 carry=state start_from=climb@iter=3',
      '# @loop_until state["step"] < 1e-3',
    ]);
    assert.strictEqual(lines.slice(3).join('\n'), cell(notebook, 'climb').document.getText().split('\n').slice(3).join('\n'));
    const id = await waitFor('the fork to get an id', () => cellId(notebook.cellAt(forked.index)), [vscode.workspace.onDidChangeNotebookDocument]);
    const run = await api.runs.start(notebook, 'cells', [id], [forked]);
    assert.strictEqual(run.success, true, JSON.stringify(run));
    assert.ok(run.executed.includes(id) && run.cached.includes('climb'), JSON.stringify(run));
    // Iteration 3 of climb carried iter = 4: the fork's first iteration is the fifth.
    assert.match(outputTexts(notebook.cellAt(forked.index))[STDOUT].join(''), /^iter 5: /);
  });

  test('choosing another member writes notebook.toml, the downstream goes stale, the DAG boxes the group', async () => {
    const api = await strataApi();
    const directory = freshCopy('model_variants');
    const manifest = path.join(directory, 'notebook.toml');
    // A switch group (the sample sweeps): `score` then reads the active member only.
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('mode = "sweep"', 'mode = "switch"\nactive = "linear"'));
    const score = path.join(directory, 'cells', 'score.py');
    fs.writeFileSync(score, fs.readFileSync(score, 'utf8').replace('# @per_variant model\n', ''));
    fs.writeFileSync(path.join(directory, 'cells', 'compare.py'), 'print(f"rmse {rmse:.3f}")\n');
    const { notebook } = await openNotebook(directory);
    await waitFor('the notebook state', () => api.states.state(directory, 'ridge')?.variant, [api.states.onDidChange]);
    const summary = await vscode.commands.executeCommand<RunSummary>('strata.runAll');
    assert.strictEqual(summary.success, true, JSON.stringify(summary));
    assert.ok(!summary.executed.includes('ridge') && !summary.cached.includes('ridge'), 'an inactive member does not run');
    await waitFor('score ready', () => api.states.state(directory, 'score')?.state === 'ready', [api.states.onDidChange]);
    assert.strictEqual(variantStatus(api.states.state(directory, 'linear')?.variant)?.text, '$(pass-filled) variant model: linear (active)');
    assert.strictEqual(variantStatus(api.states.state(directory, 'ridge')?.variant)?.text, '$(circle-large-outline) variant model: ridge (inactive — switch)');

    const answer = await vscode.commands.executeCommand<SetActiveVariantResult>('strata.chooseActiveVariant', cell(notebook, 'ridge'), 'ridge');
    assert.deepStrictEqual(answer, { group: 'model', active: 'ridge', changed: true });
    assert.match(fs.readFileSync(manifest, 'utf8'), /\[\[variant_group\]\]\ngroup = "model"\nmode = "switch"\nactive = "ridge"\n/);
    await waitFor('score stale because of ridge', () => {
      const state = api.states.state(directory, 'score');
      return state?.state === 'stale' && state.reasons?.some((reason) => reason.reason === 'upstream_changed' && reason.cell === 'ridge');
    }, [api.states.onDidChange]);
    assert.strictEqual(variantStatus(api.states.state(directory, 'ridge')?.variant)?.text, '$(pass-filled) variant model: ridge (active)');
    assert.strictEqual(notebook.isDirty, false, 'the choice is written by the server, not as an unsaved edit');

    const graph = await api.dag.graph(notebook, directory);
    const [box] = graph.clusters;
    assert.ok(box.kind === 'variant');
    assert.deepStrictEqual([graph.clusters.length, box.group, box.mode, box.members, box.active, box.title], [1, 'model', 'switch', ['linear', 'ridge', 'poly'], 'ridge', 'model (active: ridge)']);
    const rows = new Set(graph.nodes.filter((node) => node.member).map((node) => node.y));
    assert.strictEqual(rows.size, 1, 'the members share a row');
    const members = Object.fromEntries(graph.nodes.filter((node) => node.member).map((node) => [node.id, node.member]));
    assert.deepStrictEqual(members, { linear: 'inactive', ridge: 'active', poly: 'inactive' });
    assert.ok(graph.nodes.every((node) => node.id !== 'intro'), 'markdown cells are not drawn');
  });
});
