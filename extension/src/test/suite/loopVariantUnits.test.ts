// Pure pieces of loop and variant cells in the editor: the status texts (loop progress,
// variant members), the text of a cell forked from an iteration, and the DAG layout that
// boxes a variant group.
import * as assert from 'assert';
import { drawnCells, layoutDag, loopBadge } from '../../dagLayout';
import { forkableIterations, forkCellText, isLoopCell, iterationProblem, loopProgressText } from '../../loops';
import { CellState, DagResult } from '../../protocol';
import { NotebookStates } from '../../states';
import { describeCell } from '../../statusBar';
import { groupMembers, memberPicks, variantGroups, variantStatus } from '../../variants';

const CLIMB = [
  '# @name Climb',
  '# @loop max_iter=200 carry=state',
  '# @loop_until state["step"] < 1e-3',
  '# Coordinate ascent.',
  'x = state["x"]  # @loop here is code, not an annotation',
  'state = {**state, "iter": state["iter"] + 1}',
].join('\n');

suite('Loop and variant units', () => {
  test('a running loop cell shows iter k/N in its status', () => {
    assert.strictEqual(loopProgressText({ iteration: 11, maxIter: 40, stopped: false }), 'iter 12/40');
    assert.strictEqual(loopProgressText({ iteration: 6, maxIter: 40, stopped: true }), 'iter 7/40, stopped');
    const states = new NotebookStates();
    try {
      states.update({ notebook: '/nb', cells: [{ id: 'climb', state: 'never_run' }] }, '/nb');
      states.setLive('/nb', 'climb', { running: true, worker: 'local', backend: 'local' });
      assert.strictEqual(describeCell(states, '/nb', 'climb')?.text, '$(sync~spin) running');
      states.setLive('/nb', 'climb', { loop: { iteration: 11, maxIter: 40, stopped: false } });
      assert.strictEqual(describeCell(states, '/nb', 'climb')?.text, '$(sync~spin) running · iter 12/40');
      states.setLive('/nb', 'climb', { running: true, worker: 'gpu', backend: 'executor' });
      assert.strictEqual(describeCell(states, '/nb', 'climb')?.text, '$(sync~spin) dispatching -> gpu · iter 12/40');
    } finally {
      states.dispose();
    }
  });

  test('a loop cell is one with @loop in its leading block', () => {
    assert.strictEqual(isLoopCell(CLIMB), true);
    assert.strictEqual(isLoopCell('# @loop_until x\nx = 1'), false);
    assert.strictEqual(isLoopCell('x = 1\n# @loop max_iter=3 carry=x'), false);
    assert.strictEqual(isLoopCell('\n#   @LOOP max_iter=3 carry=x\nx = 1'), true);
  });

  test('a forked cell keeps max_iter, carry and the body and resumes from the iteration', () => {
    assert.strictEqual(
      forkCellText(CLIMB, 'climb', 4),
      [
        '# @name Climb (forked from climb@iter=4)',
        '# @loop max_iter=200 carry=state start_from=climb@iter=4',
        '# @loop_until state["step"] < 1e-3',
        '# Coordinate ascent.',
        'x = state["x"]  # @loop here is code, not an annotation',
        'state = {**state, "iter": state["iter"] + 1}',
      ].join('\n'),
    );
    // A fork of a fork resumes from the new source; a member's variant line is not copied.
    const refine = '# @variant search fine\n# @loop carry=state max_iter=100 start_from=climb@iter=4\r\nstate = step(state)\r\n';
    assert.strictEqual(forkCellText(refine, 'refine', 0), '# @loop carry=state max_iter=100 start_from=refine@iter=0\r\nstate = step(state)\r\n');
    assert.strictEqual(forkCellText('x = 1', 'a', 0), undefined);
  });

  test('the iterations to fork from are bounded by what the loop stored', () => {
    assert.strictEqual(forkableIterations({ maxIter: 40, carry: 's', iterations: 12 }, { iteration: 3, maxIter: 40, stopped: false }), 12);
    assert.strictEqual(forkableIterations({ maxIter: 40, carry: 's' }, { iteration: 3, maxIter: 40, stopped: true }), 4);
    assert.strictEqual(forkableIterations({ maxIter: 40, carry: 's' }, undefined), undefined);
    assert.strictEqual(iterationProblem('11', 12), undefined);
    assert.strictEqual(iterationProblem('12', 12), 'It stored iterations 0 to 11.');
    assert.match(iterationProblem('-1', 12) ?? '', /Enter an iteration number/);
    assert.match(iterationProblem('two', 12) ?? '', /Enter an iteration number/);
  });

  test('a variant member shows its group and whether it is active', () => {
    assert.strictEqual(variantStatus({ group: 'model', name: 'ridge', mode: 'switch', active: true })?.text, '$(pass-filled) variant model: ridge (active)');
    const inactive = variantStatus({ group: 'model', name: 'poly', mode: 'switch', active: false });
    assert.strictEqual(inactive?.text, '$(circle-large-outline) variant model: poly (inactive — switch)');
    assert.strictEqual(inactive?.choosable, true);
    const sweep = variantStatus({ group: 'model', name: 'poly', mode: 'sweep', active: true });
    assert.strictEqual(sweep?.text, '$(list-tree) variant model: poly (sweep)');
    assert.strictEqual(sweep?.choosable, false);
    assert.strictEqual(variantStatus({ per_variant: 'model' })?.text, '$(list-flat) per variant: model');
    assert.strictEqual(variantStatus(undefined), undefined);
  });

  test('Choose Active Variant lists the members of the group in notebook order', () => {
    const cells: CellState[] = [
      { id: 'data', state: 'ready' },
      { id: 'linear', state: 'ready', variant: { group: 'model', name: 'linear', mode: 'switch', active: true } },
      { id: 'r2', state: 'ready', variant: { group: 'model', name: 'ridge', mode: 'switch', active: false } },
      { id: 'poly', state: 'never_run', variant: { group: 'model', name: 'poly', mode: 'switch', active: false } },
      { id: 'a', state: 'ready', variant: { group: 'loss', name: 'l1', mode: 'sweep', active: true } },
    ];
    assert.deepStrictEqual(variantGroups(cells), [{ group: 'model', mode: 'switch' }, { group: 'loss', mode: 'sweep' }]);
    const picks = memberPicks(groupMembers(cells, 'model'));
    assert.deepStrictEqual(picks.map((pick) => [pick.name, pick.description, pick.detail]), [
      ['linear', 'active', 'cell linear'],
      ['ridge', 'ready: switching to it is a cache hit', 'cell r2'],
      ['poly', 'never run', 'cell poly'],
    ]);
  });

  test('the DAG puts a group in one box on one row, inactive members included', () => {
    // data -> linear (active) -> score; ridge and poly are inactive (no edges, not in order).
    const dag: DagResult = {
      nodes: [
        { id: 'data' },
        { id: 'linear', group: 'model', variant: 'linear', mode: 'switch', active: true },
        { id: 'ridge', group: 'model', variant: 'ridge', mode: 'switch', active: false },
        { id: 'poly', group: 'model', variant: 'poly', mode: 'switch', active: false },
        { id: 'score' },
        { id: 'side', loop: { maxIter: 40, carry: 's', iterations: 12 } },
      ],
      edges: [
        { from: 'data', to: 'linear', variable: 'x' },
        { from: 'linear', to: 'score', variable: 'coef' },
      ],
      order: ['data', 'linear', 'score', 'side'],
    };
    const ids = drawnCells(dag, () => true);
    assert.deepStrictEqual(ids, ['data', 'linear', 'score', 'side', 'ridge', 'poly']);
    const layout = layoutDag(ids, dag.edges, dag.nodes);
    const at = Object.fromEntries(layout.nodes.map((node) => [node.id, [node.row, node.column]]));
    assert.deepStrictEqual(at, { data: [0, 0], side: [0, 1], linear: [1, 0], ridge: [1, 1], poly: [1, 2], score: [2, 0] });
    assert.deepStrictEqual(layout.clusters, [{ group: 'model', mode: 'switch', members: ['linear', 'ridge', 'poly'], active: 'linear', row: 1 }]);
  });

  test('sweep members share a row even when they sit at different depths', () => {
    // b reads a; c reads nothing: the group's row is b's, and the consumer goes below it.
    const dag: DagResult = {
      nodes: [
        { id: 'a' },
        { id: 'b', group: 'g', variant: 'b', mode: 'sweep', active: true },
        { id: 'c', group: 'g', variant: 'c', mode: 'sweep', active: true },
        { id: 'd' },
      ],
      edges: [
        { from: 'a', to: 'b', variable: 'x' },
        { from: 'b', to: 'd', variable: 'y' },
        { from: 'c', to: 'd', variable: 'y' },
      ],
      order: ['a', 'c', 'b', 'd'],
    };
    const layout = layoutDag(drawnCells(dag, () => true), dag.edges, dag.nodes);
    const at = Object.fromEntries(layout.nodes.map((node) => [node.id, [node.row, node.column]]));
    assert.deepStrictEqual(at, { a: [0, 0], b: [1, 0], c: [1, 1], d: [2, 0] });
    assert.deepStrictEqual(layout.clusters[0], { group: 'g', mode: 'sweep', members: ['b', 'c'], active: undefined, row: 1 });
  });

  test('a loop node shows its stored iterations, live progress while it runs', () => {
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's', iterations: 12 }, undefined, false), '12/40 iter');
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's' }, undefined, false), 'max 40 iter');
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's' }, { iteration: 2, maxIter: 40, stopped: false }, true), 'iter 3/40');
    assert.strictEqual(loopBadge(undefined, undefined, false), undefined);
  });
});
