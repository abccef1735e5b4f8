// Draws the graph posted by the extension (dag.ts), top to bottom: one row per layer (longest
// path from a source), notebook order within a row; edges labelled with the variables that
// flow. The drawing scales down to the panel's width.
// Clicking a node asks the extension to reveal that cell.
(function () {
  const vscode = acquireVsCodeApi();
  const NS = 'http://www.w3.org/2000/svg';
  const W = 190, H = 48, GAP_X = 36, GAP_Y = 64, MARGIN = 8;

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
  }

  function layers(nodes, edges) {
    const depth = new Map(nodes.map((n) => [n.id, 0]));
    // Nodes arrive in topological order, so one pass settles every depth.
    for (const node of nodes) {
      for (const edge of edges) {
        if (edge.to === node.id && depth.has(edge.from)) depth.set(node.id, Math.max(depth.get(node.id), depth.get(edge.from) + 1));
      }
    }
    return depth;
  }

  function draw(message) {
    document.getElementById('title').textContent = message.title;
    document.getElementById('error').textContent = message.error || '';
    const legend = document.getElementById('legend');
    legend.replaceChildren(...['ready', 'stale', 'never_run', 'error', 'running'].map((state) => {
      const span = document.createElement('span');
      span.className = `state-${state}`;
      span.textContent = state.replace('_', ' ');
      return span;
    }));
    const depth = layers(message.nodes, message.edges);
    const columns = new Map();
    const position = new Map();
    for (const node of message.nodes) {
      const d = depth.get(node.id);
      const column = columns.get(d) || 0;
      columns.set(d, column + 1);
      position.set(node.id, { x: MARGIN + column * (W + GAP_X), y: MARGIN + d * (H + GAP_Y) });
    }
    const width = 2 * MARGIN + Math.max(1, ...columns.values()) * (W + GAP_X) - GAP_X;
    const height = 2 * MARGIN + Math.max(1, columns.size) * (H + GAP_Y) - GAP_Y;
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', style: `max-width: ${width}px` });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }, marker);

    const grouped = new Map();
    for (const edge of message.edges) {
      const key = `${edge.from}\u0000${edge.to}`;
      grouped.set(key, [...(grouped.get(key) || []), edge.variable]);
    }
    for (const [key, variables] of grouped) {
      const [from, to] = key.split('\u0000');
      const a = position.get(from), b = position.get(to);
      if (!a || !b) continue;
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      const mid = (y1 + y2) / 2;
      el('path', { d: `M ${x1} ${y1} C ${x1} ${mid}, ${x2} ${mid}, ${x2} ${y2}`, class: 'edge', 'marker-end': 'url(#arrow)' }, svg);
      const label = el('text', { x: (x1 + x2) / 2 + 6, y: mid + 4, 'text-anchor': 'start', class: 'edge-label' }, svg);
      label.textContent = variables.filter(Boolean).join(', ');
    }
    for (const node of message.nodes) {
      const p = position.get(node.id);
      const group = el('g', { class: `node state-${node.state}`, transform: `translate(${p.x},${p.y})`, 'data-cell': node.id, tabindex: 0, role: 'button' }, svg);
      el('title', {}, group).textContent = node.tooltip.replace(/[*`]/g, '');
      el('rect', { width: W, height: H, class: `state-${node.state}` }, group);
      el('text', { x: 10, y: 19, class: 'id' }, group).textContent = node.id;
      const status = node.status.length > 30 ? `${node.status.slice(0, 29)}…` : node.status;
      el('text', { x: 10, y: 37, class: 'status' }, group).textContent = status;
      const reveal = () => vscode.postMessage({ type: 'reveal', cellId: node.id });
      group.addEventListener('click', reveal);
      group.addEventListener('keydown', (event) => { if (event.key === 'Enter') reveal(); });
    }
    document.getElementById('graph').replaceChildren(svg);
    vscode.postMessage({ type: 'rendered', nodes: message.nodes.length });
  }

  window.addEventListener('message', (event) => { if (event.data && event.data.type === 'graph') draw(event.data); });
  vscode.postMessage({ type: 'ready' });
})();
