// Where the DAG view (dag.ts, media/dag.js) draws everything, computed in the extension host
// with dagre (@dagrejs/dagre, a layered Sugiyama layout): node boxes, each edge as a polyline
// routed around the nodes (through dagre's dummy nodes in the ranks it crosses), each edge's
// label (the variables that flow) as a box of its own that dagre keeps clear of nodes and of
// other labels, and a box around each variant group's members and around each loop cell
// (compound nodes). A group's members share one rank: invisible edges give every member the
// sources and readers of all of them, so inactive switch members (no edges of their own) sit
// beside the active one. Pure: the unit tests check the geometry.
import type { DagLoop, DagNode, DagResult } from './protocol';
import type { LoopProgress } from './states';

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 48;
const TITLE_HEIGHT = 18;
const CHAR_WIDTH = 6.6; // 11px UI font, generous so labels never run past their boxes
const LABEL_PAD = 8;
const MARGIN = 12;

/** The part of dagre's graph (graphlib) this module uses. */
interface Graph {
  setGraph(label: object): void;
  setDefaultEdgeLabel(make: () => object): void;
  setNode(name: string, label: object): void;
  setParent(name: string, parent: string): void;
  parent(name: string): string | undefined;
  setEdge(v: string, w: string, label: object, name: string): void;
  node(name: string): unknown;
  edge(edge: { v: string; w: string; name: string }): unknown;
  graph(): unknown;
}

// dagre's package is an ES module that also ships CommonJS (its `require` export); this
// extension compiles to CommonJS, so it loads that build. Its bundled types are ESM-only,
// hence the local interface above.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dagre = require('@dagrejs/dagre') as { Graph: new (options: { compound: boolean; multigraph: boolean }) => Graph; layout: (graph: Graph) => void };

export interface Box {
  /** Top-left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Placed extends Box {
  id: string;
}

export interface Point {
  x: number;
  y: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** The variables that flow (none for an `@after` edge). */
  variables: string[];
  after: boolean;
  points: Point[];
  /** Where the label text goes (absent without variables). */
  label?: Box & { text: string };
}

export interface VariantCluster extends Box {
  kind: 'variant';
  group: string;
  mode: string;
  /** Member cell ids, in notebook order. */
  members: string[];
  /** The active member of a switch group (undefined for a sweep group). */
  active?: string;
  title: string;
  /** Where the title goes: a box dagre placed inside the cluster, above its members. */
  titleBox: Box;
}

export interface LoopCluster extends Box {
  kind: 'loop';
  cell: string;
  title: string;
  titleBox: Box;
}

export type Cluster = VariantCluster | LoopCluster;

export interface Layout {
  width: number;
  height: number;
  nodes: Placed[];
  edges: PlacedEdge[];
  clusters: Cluster[];
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

interface Merged {
  from: string;
  to: string;
  variables: string[];
  after: boolean;
}

/** One drawn edge per (from, to) pair, its variables joined in one label. */
function mergeEdges(ids: ReadonlySet<string>, edges: DagResult['edges']): Merged[] {
  const merged = new Map<string, Merged>();
  for (const edge of edges) {
    if (!ids.has(edge.from) || !ids.has(edge.to) || edge.from === edge.to) continue;
    const key = `${edge.from}\u0000${edge.to}`;
    const entry = merged.get(key) ?? { from: edge.from, to: edge.to, variables: [], after: false };
    if (edge.variable === null) entry.after = true;
    else if (!entry.variables.includes(edge.variable)) entry.variables.push(edge.variable);
    merged.set(key, entry);
  }
  return [...merged.values()];
}

export function labelText(edge: Pick<Merged, 'variables' | 'after'>): string {
  return [...edge.variables, ...(edge.after && edge.variables.length === 0 ? ['@after'] : [])].join(', ');
}

function textBox(text: string): { width: number; height: number } {
  return { width: Math.ceil(text.length * CHAR_WIDTH) + LABEL_PAD, height: 16 };
}

export function variantTitle(group: string, mode: string | undefined, active: string | undefined): string {
  return mode === 'sweep' ? `${group} (sweep: every member runs)` : `${group} (active: ${active ?? '?'})`;
}

export function loopTitle(loop: DagLoop): string {
  const carry = loop.carry ? `, carry ${loop.carry}` : '';
  return `loop: max ${loop.maxIter ?? '?'}${carry}`;
}

/**
 * dagre's compound nodes keep a group's members together, but in some graphs its compound
 * pass throws or leaves a member outside the box it reports; then the layout is done again
 * without compound nodes (members still share a rank and a title). Cluster boxes are always
 * measured here from their members and titles.
 */
export function layoutDag(ids: readonly string[], edges: DagResult['edges'], nodes: readonly DagNode[] = []): Layout {
  try {
    const layout = attempt(ids, edges, nodes, true);
    if (clustersClean(layout)) return layout;
  } catch {
    // fall through: the flat layout below
  }
  return attempt(ids, edges, nodes, false);
}

function attempt(ids: readonly string[], edges: DagResult['edges'], nodes: readonly DagNode[], compound: boolean): Layout {
  const drawn = new Set(ids);
  const info = new Map(nodes.filter((node) => drawn.has(node.id)).map((node) => [node.id, node]));
  const graph = new dagre.Graph({ compound: true, multigraph: true });
  graph.setGraph({ rankdir: 'TB', nodesep: 28, ranksep: 44, edgesep: 14, marginx: MARGIN, marginy: MARGIN });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const id of ids) graph.setNode(id, { width: NODE_WIDTH, height: NODE_HEIGHT });

  const groups = new Map<string, string[]>();
  for (const node of nodes) {
    // Members in notebook order (`ids` puts the inactive ones last).
    if (node.group !== undefined && drawn.has(node.id)) groups.set(node.group, [...(groups.get(node.group) ?? []), node.id]);
  }
  const merged = mergeEdges(drawn, edges);
  merged.forEach((edge, index) => {
    const text = labelText(edge);
    const size = text ? textBox(text) : { width: 0, height: 0 };
    graph.setEdge(edge.from, edge.to, { ...size, labelpos: 'c', minlen: 1, weight: 2 }, `e${index}`);
  });
  const clusters = addVariantClusters(graph, groups, info, merged, compound);
  clusters.push(...addLoopClusters(graph, ids, info, compound));

  dagre.layout(graph);
  return collect(graph, ids, merged, clusters);
}

type Pending = Omit<VariantCluster, keyof Box | 'titleBox'> | Omit<LoopCluster, keyof Box | 'titleBox'>;
interface PendingCluster {
  name: string;
  title: string;
  members: string[];
  value: Pending;
}

/** A compound node per variant group with a title node on top; invisible edges line the
 * members up in one rank. */
function addVariantClusters(graph: Graph, groups: Map<string, string[]>, info: Map<string, DagNode>, merged: Merged[], compound: boolean): PendingCluster[] {
  const pending: PendingCluster[] = [];
  for (const [group, members] of groups) {
    const first = info.get(members[0]);
    const mode = first?.mode ?? 'switch';
    const active = mode === 'sweep' ? undefined : members.find((id) => info.get(id)?.active);
    const name = `variant:${group}`;
    const title = variantTitle(group, mode, active);
    addCluster(graph, name, title, members, compound);
    const memberSet = new Set(members);
    const sources = new Set(merged.filter((e) => memberSet.has(e.to) && !memberSet.has(e.from)).map((e) => e.from));
    const readers = new Set(merged.filter((e) => memberSet.has(e.from) && !memberSet.has(e.to)).map((e) => e.to));
    for (const member of members) {
      for (const source of sources) graph.setEdge(source, member, { width: 0, height: 0, minlen: 1, weight: 0, hidden: true }, `h:${source}:${member}`);
      for (const reader of readers) graph.setEdge(member, reader, { width: 0, height: 0, minlen: 1, weight: 0, hidden: true }, `h:${member}:${reader}`);
    }
    pending.push({ name, title, members, value: { kind: 'variant', group, mode, members, active, title } });
  }
  return pending;
}

function addLoopClusters(graph: Graph, ids: readonly string[], info: Map<string, DagNode>, compound: boolean): PendingCluster[] {
  const pending: PendingCluster[] = [];
  for (const id of ids) {
    const loop = info.get(id)?.loop;
    if (loop === undefined) continue;
    const name = `loop:${id}`;
    const title = loopTitle(loop);
    const group = info.get(id)?.group;
    addCluster(graph, name, title, [id], compound, group === undefined ? undefined : `variant:${group}`);
    pending.push({ name, title, members: [id], value: { kind: 'loop', cell: id, title } });
  }
  return pending;
}

/** A compound node holding `children` and a title node that dagre keeps above them. */
function addCluster(graph: Graph, name: string, title: string, children: string[], compound: boolean, parent?: string): void {
  const titleNode = `${name}#title`;
  graph.setNode(titleNode, { ...textBox(title), height: TITLE_HEIGHT, title: true });
  if (compound) {
    graph.setNode(name, { width: 0, height: 0 });
    if (parent !== undefined) graph.setParent(name, parent);
    graph.setParent(titleNode, name);
  }
  for (const child of children) {
    if (compound && graph.parent(child) === undefined) graph.setParent(child, name);
    graph.setEdge(titleNode, child, { width: 0, height: 0, minlen: 1, weight: 5, hidden: true }, `t:${name}:${child}`);
  }
}

function boxOf(label: { x?: number; y?: number; width: number; height: number }): Box {
  return { x: (label.x ?? 0) - label.width / 2, y: (label.y ?? 0) - label.height / 2, width: label.width, height: label.height };
}

type Sized = { x: number; y: number; width: number; height: number };

function collect(graph: Graph, ids: readonly string[], merged: Merged[], pending: PendingCluster[]): Layout {
  const nodes = ids.map((id): Placed => ({ id, ...boxOf(graph.node(id) as Sized) }));
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const titles = pending.map(({ name }) => boxOf(graph.node(`${name}#title`) as Sized));
  const bands = rankBands([...nodes, ...titles]);
  const drawnEdges = merged.map((edge, index): PlacedEdge => {
    const label = graph.edge({ v: edge.from, w: edge.to, name: `e${index}` }) as Partial<Sized> & { points?: Point[]; width: number; height: number };
    const text = labelText(edge);
    const from = byId.get(edge.from), to = byId.get(edge.to);
    const points = from && to ? route(label.points ?? [], from, to, bands) : [];
    const placed: PlacedEdge = { ...edge, points };
    if (text) placed.label = { ...boxOf(label), text };
    return placed;
  });
  const clusters = pending.map(({ value, members }, index): Cluster => ({ ...value, ...enclosing([titles[index], ...members.map((id) => byId.get(id) ?? titles[index])]), titleBox: titles[index] }));
  const size = graph.graph() as { width?: number; height?: number };
  return { width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0), nodes, edges: drawnEdges, clusters };
}

const CLUSTER_PAD = 8;

/** The box around `boxes`, with room to breathe. */
function enclosing(boxes: readonly Box[]): Box {
  const left = Math.min(...boxes.map((b) => b.x)) - CLUSTER_PAD;
  const top = Math.min(...boxes.map((b) => b.y)) - CLUSTER_PAD / 2;
  const right = Math.max(...boxes.map((b) => b.x + b.width)) + CLUSTER_PAD;
  const bottom = Math.max(...boxes.map((b) => b.y + b.height)) + CLUSTER_PAD;
  return { x: left, y: top, width: right - left, height: bottom - top };
}

function overlaps(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/** No cluster box covers a node that is not its member (nor a member's loop box). */
function clustersClean(layout: Layout): boolean {
  return layout.clusters.every((cluster) => {
    const members = new Set(cluster.kind === 'loop' ? [cluster.cell] : cluster.members);
    return layout.nodes.every((node) => members.has(node.id) || !overlaps(node, cluster));
  });
}

/** The vertical extent of each rank that holds nodes or cluster titles, by its centre. */
function rankBands(boxes: readonly Box[]): Map<number, number> {
  const half = new Map<number, number>();
  for (const box of boxes) {
    const centre = Math.round(box.y + box.height / 2);
    half.set(centre, Math.max(half.get(centre) ?? 0, box.height / 2));
  }
  return half;
}

/**
 * The edge's polyline: out of the source's bottom edge, through dagre's dummy points, into
 * the target's top edge. dagre ends edges on whichever side of a node faces the next point,
 * so its first and last segments can run sideways through a rank, across the nodes beside
 * the source or target. Here every point inside a rank that holds nodes becomes a vertical
 * run through that rank (dagre keeps its dummies clear of the rank's nodes), so the slanted
 * parts of an edge lie only between ranks, where there are no nodes.
 */
function route(points: readonly Point[], from: Box, to: Box, bands: Map<number, number>): Point[] {
  const inner: Point[] = [];
  for (const point of points.slice(1, -1)) {
    const half = bands.get(Math.round(point.y));
    if (half === undefined) inner.push({ x: point.x, y: point.y });
    else inner.push({ x: point.x, y: point.y - half }, { x: point.x, y: point.y + half });
  }
  const inset = (box: Box, x: number): number => Math.min(box.x + box.width - 12, Math.max(box.x + 12, x));
  const next = inner[0] ?? { x: to.x + to.width / 2, y: to.y };
  const previous = inner[inner.length - 1] ?? { x: from.x + from.width / 2, y: from.y + from.height };
  return [{ x: inset(from, next.x), y: from.y + from.height }, ...inner, { x: inset(to, previous.x), y: to.y }];
}

/** A loop node's badge: live progress while it runs, else what it stored of its max_iter. */
export function loopBadge(loop: DagLoop | undefined, progress: LoopProgress | undefined, running: boolean): string | undefined {
  if (running && progress !== undefined) return `iter ${progress.iteration + 1}/${progress.maxIter}`;
  if (loop === undefined) return undefined;
  const max = loop.maxIter ?? '?';
  return loop.iterations !== undefined ? `${loop.iterations}/${max} iter` : `max ${max} iter`;
}
