// Where the DAG view (dag.ts, media/dag.js) puts each node: one row per layer (longest path
// from a source), notebook order within a row, and the members of a variant group side by
// side in one row so the view can draw a box around them (inactive switch members, which
// have no edges, join their group's row). Pure: the unit tests check it.
import type { DagLoop, DagNode, DagResult } from './protocol';
import type { LoopProgress } from './states';

export interface Placed {
  id: string;
  row: number;
  column: number;
}

export interface VariantCluster {
  group: string;
  mode: string;
  /** Member cell ids, in notebook order. */
  members: string[];
  /** The active member of a switch group (undefined for a sweep group). */
  active?: string;
  row: number;
}

export interface Layout {
  nodes: Placed[];
  clusters: VariantCluster[];
}

/**
 * The cells to draw, in an order where every edge points forward: the engine's `order`
 * (topological), then the cells it leaves out (inactive switch members), in notebook order.
 */
export function drawnCells(dag: DagResult, include: (id: string) => boolean): string[] {
  const ordered = dag.order.filter(include);
  const seen = new Set(ordered);
  const rest = (dag.nodes ?? []).map((node) => node.id).filter((id) => include(id) && !seen.has(id));
  return [...ordered, ...rest];
}

export function layoutDag(ids: readonly string[], edges: DagResult['edges'], nodes: readonly DagNode[] = []): Layout {
  const groupOf = new Map<string, DagNode>();
  for (const node of nodes) if (node.group !== undefined && ids.includes(node.id)) groupOf.set(node.id, node);
  const groups = new Map<string, string[]>();
  for (const node of nodes) if (groupOf.has(node.id)) groups.set(node.group ?? '', [...(groups.get(node.group ?? '') ?? []), node.id]);
  const depth = layerDepths(ids, edges, [...groups.values()]);
  const rows = new Map<number, string[]>();
  const placedGroups = new Set<string>();
  for (const id of ids) {
    const group = groupOf.get(id)?.group;
    if (group !== undefined && placedGroups.has(group)) continue;
    // A group's members enter the row together, at the first member's place.
    const entering = group === undefined ? [id] : (groups.get(group) ?? [id]);
    if (group !== undefined) placedGroups.add(group);
    for (const member of entering) {
      const row = depth.get(member) ?? 0;
      rows.set(row, [...(rows.get(row) ?? []), member]);
    }
  }
  const placed: Placed[] = [];
  for (const [row, members] of rows) members.forEach((id, column) => placed.push({ id, row, column }));
  const clusters = [...groups].map(([group, members]): VariantCluster => {
    const first = groupOf.get(members[0]);
    const active = first?.mode === 'sweep' ? undefined : members.find((id) => groupOf.get(id)?.active);
    return { group, mode: first?.mode ?? 'switch', members, active, row: depth.get(members[0]) ?? 0 };
  });
  return { nodes: placed, clusters };
}

/**
 * Longest path from a source, with every group's members lifted to one shared layer (and
 * their readers pushed below it). Depths only grow, so a fixed point is reached; the bound
 * guards against a member reading another member of its own group.
 */
function layerDepths(ids: readonly string[], edges: DagResult['edges'], groups: readonly string[][]): Map<string, number> {
  const depth = new Map(ids.map((id) => [id, 0]));
  for (let round = 0; round <= ids.length; round++) {
    let changed = false;
    for (const id of ids) {
      let d = depth.get(id) ?? 0;
      for (const edge of edges) if (edge.to === id && depth.has(edge.from)) d = Math.max(d, (depth.get(edge.from) ?? 0) + 1);
      if (d !== depth.get(id)) {
        depth.set(id, d);
        changed = true;
      }
    }
    for (const members of groups) {
      const shared = Math.max(...members.map((id) => depth.get(id) ?? 0));
      for (const id of members) {
        if (depth.get(id) === shared) continue;
        depth.set(id, shared);
        changed = true;
      }
    }
    if (!changed) break;
  }
  return depth;
}

/** A loop node's badge: live progress while it runs, else what it stored of its max_iter. */
export function loopBadge(loop: DagLoop | undefined, progress: LoopProgress | undefined, running: boolean): string | undefined {
  if (running && progress !== undefined) return `iter ${progress.iteration + 1}/${progress.maxIter}`;
  if (loop === undefined) return undefined;
  const max = loop.maxIter ?? '?';
  return loop.iterations !== undefined ? `${loop.iterations}/${max} iter` : `max ${max} iter`;
}
