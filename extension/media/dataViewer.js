// The data viewer's page: asks the extension for pages (which asks the engine), draws one
// page of rows. Sorting: click a header (ascending, descending, off; shift-click adds a key).
// Filtering: the search box, debounced. Everything else happens in the engine.
(function () {
  const vscode = acquireVsCodeApi();
  const PAGE_SIZE = 100;
  const state = { offset: 0, sort: [], filter: '', filteredTotal: 0, total: 0, seq: 0 };
  const grid = document.getElementById('grid');
  const error = document.getElementById('error');
  const position = document.getElementById('position');
  const filter = document.getElementById('filter');
  const title = document.getElementById('title');

  function ask() {
    state.seq += 1;
    vscode.postMessage({ type: 'page', request: { offset: state.offset, limit: PAGE_SIZE, sort: state.sort, filter: state.filter || undefined, seq: state.seq } });
  }

  function lastOffset() {
    return Math.max(0, Math.floor((Math.max(state.filteredTotal, 1) - 1) / PAGE_SIZE) * PAGE_SIZE);
  }

  function go(offset) {
    state.offset = Math.min(Math.max(0, offset), lastOffset());
    ask();
  }

  document.getElementById('first').addEventListener('click', () => go(0));
  document.getElementById('prev').addEventListener('click', () => go(state.offset - PAGE_SIZE));
  document.getElementById('next').addEventListener('click', () => go(state.offset + PAGE_SIZE));
  document.getElementById('last').addEventListener('click', () => go(lastOffset()));
  let timer;
  filter.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      state.filter = filter.value;
      state.offset = 0;
      ask();
    }, 250);
  });

  function toggleSort(column, add) {
    const existing = state.sort.find((key) => key.column === column);
    const others = add ? state.sort.filter((key) => key.column !== column) : [];
    if (existing === undefined) state.sort = [...others, { column, desc: false }];
    else if (!existing.desc) state.sort = [...others, { column, desc: true }];
    else state.sort = others;
    state.offset = 0;
    ask();
  }

  function text(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'object') return JSON.stringify(value);
    return String(value);
  }

  function draw(page) {
    state.total = page.total;
    state.filteredTotal = page.filteredTotal;
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    const rowHead = document.createElement('th');
    rowHead.className = 'rownum';
    rowHead.textContent = '#';
    head.appendChild(rowHead);
    for (const column of page.columns) {
      const th = document.createElement('th');
      const key = state.sort.find((k) => k.column === column.name);
      th.textContent = column.name + (key ? (key.desc ? ' ▼' : ' ▲') : '');
      th.title = `${column.type} — click to sort, shift-click to add a sort key`;
      th.dataset.column = column.name;
      if (/int|float|double|decimal/.test(column.type)) th.classList.add('number');
      th.addEventListener('click', (event) => toggleSort(column.name, event.shiftKey));
      head.appendChild(th);
    }
    const body = table.createTBody();
    page.rows.forEach((row, i) => {
      const tr = body.insertRow();
      const num = tr.insertCell();
      num.className = 'rownum';
      num.textContent = String(page.offset + i + 1);
      row.forEach((value, c) => {
        const td = tr.insertCell();
        td.textContent = text(value);
        if (value === null) td.classList.add('null');
        if (typeof value === 'number' || /int|float|double|decimal/.test(page.columns[c].type)) td.classList.add('number');
      });
    });
    grid.replaceChildren(table);
    const first = page.filteredTotal === 0 ? 0 : page.offset + 1;
    const last = page.offset + page.rows.length;
    const of = page.filteredTotal === page.total ? page.total.toLocaleString('en-US') : `${page.filteredTotal.toLocaleString('en-US')} (filtered from ${page.total.toLocaleString('en-US')})`;
    position.textContent = `${first.toLocaleString('en-US')}–${last.toLocaleString('en-US')} of ${of}`;
    error.textContent = '';
  }

  window.addEventListener('message', (event) => {
    const message = event.data;
    if (message.request && message.request.seq !== state.seq) return; // an answer overtaken by a newer request
    if (message.type === 'page') {
      title.textContent = message.title;
      draw(message.page);
      vscode.postMessage({ type: 'shown', page: message.page });
    } else if (message.type === 'error') {
      error.textContent = message.message;
    }
  });

  ask();
})();
