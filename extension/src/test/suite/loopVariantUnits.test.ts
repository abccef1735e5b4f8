// Pure pieces of loop and variant cells in the editor: the status texts (loop progress,
// variant members), the text of a cell forked from an iteration, and the DAG layout that
// boxes a variant group.
import * as assert from 'assert';
import { Box, drawnCells, Layout, labelText, layoutDag, loopBadge, Point } from '../../dagLayout';
import { forkableIterations, forkCellText, isLoopCell, iterationProblem, loopProgressText } from '../../loops';
import { CellState, DagNode, DagResult } from '../../protocol';
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

  test('the DAG puts a group in one box on one row, inactive members included, and a loop in a box', () => {
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
    const at = Object.fromEntries(layout.nodes.map((node) => [node.id, node]));
    assert.ok(at.data.y < at.linear.y && at.linear.y < at.score.y, 'edges point down');
    assert.strictEqual(at.ridge.y, at.linear.y);
    assert.strictEqual(at.poly.y, at.linear.y);
    const [variant, loop] = layout.clusters;
    assert.ok(variant.kind === 'variant' && loop.kind === 'loop');
    assert.deepStrictEqual([variant.group, variant.mode, variant.members, variant.active, variant.title], ['model', 'switch', ['linear', 'ridge', 'poly'], 'linear', 'model (active: linear)']);
    assert.deepStrictEqual([loop.cell, loop.title], ['side', 'loop: max 40, carry s']);
    for (const id of ['linear', 'ridge', 'poly']) assert.ok(inside(at[id], variant), `${id} in the group's box`);
    assert.ok(inside(at.side, loop) && inside(loop.titleBox, loop) && !overlapping(loop.titleBox, at.side));
    assert.ok(!inside(at.data, variant) && !inside(at.score, variant));
    assert.deepStrictEqual(geometryProblems(layout), []);
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
    const at = Object.fromEntries(layout.nodes.map((node) => [node.id, node]));
    assert.ok(at.a.y < at.b.y && at.b.y === at.c.y && at.c.y < at.d.y);
    const [group] = layout.clusters;
    assert.ok(group.kind === 'variant' && group.title === 'g (sweep: every member runs)' && group.active === undefined);
    assert.deepStrictEqual(geometryProblems(layout), []);
  });

  test('edges never cross a node and labels never overlap, on many generated graphs', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let trial = 0; trial < 60; trial++) {
      const count = 3 + Math.floor(random() * 16);
      const ids = Array.from({ length: count }, (_, i) => `cell${i}`);
      const edges: DagResult['edges'] = [];
      for (let j = 1; j < count; j++) for (let i = 0; i < j; i++) if (random() < 2 / j) edges.push({ from: ids[i], to: ids[j], variable: random() < 0.1 ? null : `v${i}_${j}` });
      const nodes: DagNode[] = ids.map((id) => ({ id }));
      if (count > 8) nodes[8].loop = { maxIter: 5, carry: 'state' };
      const layout = layoutDag(ids, edges, nodes);
      assert.deepStrictEqual(geometryProblems(layout), [], `graph ${trial}: ${JSON.stringify(edges)}`);
    }
  });

  test('edge labels name every variable once; an @after edge is dashed and labelled', () => {
    const layout = layoutDag(['a', 'b'], [
      { from: 'a', to: 'b', variable: 'x' },
      { from: 'a', to: 'b', variable: 'y' },
    ], []);
    assert.deepStrictEqual(layout.edges.map((edge) => edge.label?.text), ['x, y']);
    assert.strictEqual(labelText({ variables: [], after: true }), '@after');
  });

  test('a loop node shows its stored iterations, live progress while it runs', () => {
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's', iterations: 12 }, undefined, false), '12/40 iter');
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's' }, undefined, false), 'max 40 iter');
    assert.strictEqual(loopBadge({ maxIter: 40, carry: 's' }, { iteration: 2, maxIter: 40, stopped: false }, true), 'iter 3/40');
    assert.strictEqual(loopBadge(undefined, undefined, false), undefined);
  });
});

function inside(box: Box, outer: Box): boolean {
  return box.x >= outer.x - 0.5 && box.y >= outer.y - 0.5 && box.x + box.width <= outer.x + outer.width + 0.5 && box.y + box.height <= outer.y + outer.height + 0.5;
}

function overlapping(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** Whether segment a-b passes through the inside of `box` (its border excluded). */
function crosses(a: Point, b: Point, box: Box): boolean {
  const lo = { x: box.x + 1, y: box.y + 1 }, hi = { x: box.x + box.width - 1, y: box.y + box.height - 1 };
  let t0 = 0, t1 = 1;
  const dx = b.x - a.x, dy = b.y - a.y;
  const sides: [number, number][] = [[-dx, a.x - lo.x], [dx, hi.x - a.x], [-dy, a.y - lo.y], [dy, hi.y - a.y]];
  for (const [p, q] of sides) {
    if (p === 0) {
      if (q < 0) return false;
      continue;
    }
    const t = q / p;
    if (p < 0) t0 = Math.max(t0, t);
    else t1 = Math.min(t1, t);
    if (t0 >= t1) return false;
  }
  return true;
}

/** Every edge through a node or a cluster title, and every overlapping label, node or title. */
function geometryProblems(layout: Layout): string[] {
  const problems: string[] = [];
  const titles = layout.clusters.map((cluster) => cluster.titleBox);
  for (const edge of layout.edges) {
    const obstacles = [...layout.nodes.filter((node) => node.id !== edge.from && node.id !== edge.to), ...titles];
    for (let i = 0; i + 1 < edge.points.length; i++) {
      for (const box of obstacles) if (crosses(edge.points[i], edge.points[i + 1], box)) problems.push(`${edge.from}->${edge.to} crosses ${'id' in box ? String(box.id) : 'a title'}`);
    }
  }
  const boxes: Box[] = [...layout.nodes, ...titles, ...layout.edges.flatMap((edge) => (edge.label ? [edge.label] : []))];
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (overlapping(boxes[i], boxes[j])) problems.push(`overlap ${JSON.stringify(boxes[i])} ${JSON.stringify(boxes[j])}`);
  return problems;
}
