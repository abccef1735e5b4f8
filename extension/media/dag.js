// Draws the graph posted by the extension (dag.ts) exactly where dagLayout.ts (dagre, in the
// extension host) placed it: nodes, edges as polylines routed around nodes, each edge's
// variables in a label box of its own, a box around each variant group (active member
// highlighted, inactive dimmed) and around each loop cell, a loop's iterations as a badge.
// The drawing scales down to the panel's width.
// Clicking a node asks the extension to reveal that cell.
(function () {
  const vscode = acquireVsCodeApi();
  const NS = 'http://www.w3.org/2000/svg';

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (parent) parent.appendChild(node);
    return node;
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
    const width = Math.max(1, message.width), height = Math.max(1, message.height);
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', style: `max-width: ${width}px` });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }, marker);

    for (const cluster of message.clusters || []) {
      const attrs = cluster.kind === 'loop' ? { class: 'cluster loop', 'data-loop': cluster.cell } : { class: `cluster mode-${cluster.mode}`, 'data-group': cluster.group };
      const box = el('g', attrs, svg);
      el('rect', { x: cluster.x, y: cluster.y, width: cluster.width, height: cluster.height }, box);
      const t = cluster.titleBox;
      el('text', { x: t.x + 4, y: t.y + t.height - 5, class: 'cluster-label' }, box).textContent = cluster.title;
    }

    for (const edge of message.edges) {
      if (edge.points.length < 2) continue;
      const d = edge.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ');
      el('path', { d, class: edge.variables.length ? 'edge' : 'edge after', 'marker-end': 'url(#arrow)', 'data-from': edge.from, 'data-to': edge.to }, svg);
    }
    for (const edge of message.edges) {
      if (!edge.label) continue;
      const l = edge.label;
      const group = el('g', { class: 'edge-label' }, svg);
      el('rect', { x: l.x, y: l.y, width: l.width, height: l.height }, group);
      el('text', { x: l.x + l.width / 2, y: l.y + l.height - 4, 'text-anchor': 'middle' }, group).textContent = l.text;
    }
    for (const node of message.nodes) {
      const W = node.width, H = node.height;
      const classes = ['node', `state-${node.state}`, node.member ? `member-${node.member}` : ''].filter(Boolean).join(' ');
      const group = el('g', { class: classes, transform: `translate(${node.x},${node.y})`, 'data-cell': node.id, tabindex: 0, role: 'button' }, svg);
      el('title', {}, group).textContent = node.tooltip.replace(/[*`]/g, '');
      el('rect', { width: W, height: H, class: `state-${node.state}` }, group);
      el('text', { x: 10, y: 19, class: 'id' }, group).textContent = node.id;
      if (node.badge) el('text', { x: W - 8, y: 19, 'text-anchor': 'end', class: 'badge' }, group).textContent = `⟳ ${node.badge}`;
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
