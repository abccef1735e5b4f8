// Draws the graph posted by the extension (dag.ts), top to bottom at the rows and columns
// dagLayout.ts chose; edges labelled with the variables that flow; a box around each variant
// group's members (active highlighted, inactive dimmed); a loop's iterations as a badge.
// The drawing scales down to the panel's width.
// Clicking a node asks the extension to reveal that cell.
(function () {
  const vscode = acquireVsCodeApi();
  const NS = 'http://www.w3.org/2000/svg';
  const W = 190, H = 48, GAP_X = 36, GAP_Y = 64, MARGIN = 8, PAD = 10, LABEL = 16;

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
    const clusters = message.clusters || [];
    // Rows holding a group leave room above for its box's label.
    const top = MARGIN + (clusters.length > 0 ? PAD + LABEL : 0);
    const position = new Map();
    for (const node of message.nodes) {
      position.set(node.id, { x: MARGIN + PAD + node.column * (W + GAP_X), y: top + node.row * (H + GAP_Y) });
    }
    const width = 2 * (MARGIN + PAD) + Math.max(1, ...message.nodes.map((n) => n.column + 1)) * (W + GAP_X) - GAP_X;
    const height = top + MARGIN + PAD + Math.max(1, ...message.nodes.map((n) => n.row + 1)) * (H + GAP_Y) - GAP_Y;
    const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, width: '100%', style: `max-width: ${width}px` });
    const defs = el('defs', {}, svg);
    const marker = el('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, defs);
    el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrow' }, marker);

    for (const cluster of clusters) {
      const placed = cluster.members.map((id) => position.get(id)).filter(Boolean);
      if (placed.length === 0) continue;
      const x = Math.min(...placed.map((p) => p.x)) - PAD, y = Math.min(...placed.map((p) => p.y)) - PAD - LABEL;
      const box = el('g', { class: `cluster mode-${cluster.mode}`, 'data-group': cluster.group }, svg);
      el('rect', { x, y, width: Math.max(...placed.map((p) => p.x)) + W + PAD - x, height: H + 2 * PAD + LABEL }, box);
      const label = cluster.mode === 'sweep' ? `${cluster.group} (sweep: every member runs)` : `${cluster.group} (active: ${cluster.active || '?'})`;
      el('text', { x: x + 8, y: y + 13, class: 'cluster-label' }, box).textContent = label;
    }

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
      const classes = ['node', `state-${node.state}`, node.member ? `member-${node.member}` : ''].filter(Boolean).join(' ');
      const group = el('g', { class: classes, transform: `translate(${p.x},${p.y})`, 'data-cell': node.id, tabindex: 0, role: 'button' }, svg);
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
