// Draws the state machine graph of every scenario of the drill report, as
// the Step Functions console's graph view does: laid out once by dagre
// (inlined before this script), then drawn per scenario with the states and
// transitions that scenario's executions took marked. The marks come from
// the report data (computed in Go from the execution histories); this
// script only draws them.
'use strict';
(() => {
  const NS = 'http://www.w3.org/2000/svg';
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const graph = data.graph;
  const FONT = '600 12px system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif';
  const LINE = 14, PAD = 8, WRAP = 92; // px: a name wider than WRAP takes two lines

  const measure = document.createElement('canvas').getContext('2d');
  measure.font = FONT;
  const width = (s) => Math.ceil(measure.measureText(s).width);
  // Long state names break in two at the word boundary (camel case) that
  // makes the wider line narrowest: the graph is wide (a dozen branches side
  // by side) and shallow, so narrower, taller nodes let the whole definition
  // fit one screen at its natural size.
  const lines = (name) => {
    if (width(name) <= WRAP) return [name];
    const words = name.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[^A-Za-z0-9]+/g) || [name];
    let best = [name];
    for (let i = 1; i < words.length; i++) {
      const split = [words.slice(0, i).join(''), words.slice(i).join('')];
      if (Math.max(...split.map(width)) < Math.max(...best.map(width))) best = split;
    }
    return best;
  };

  // The layout is the same for every scenario: compute it once.
  const layout = new dagre.graphlib.Graph({ compound: true, multigraph: true });
  layout.setGraph({ rankdir: 'TB', nodesep: 10, ranksep: 20, edgesep: 5, marginx: 6, marginy: 6 });
  const boxOf = (id) => 'box:' + id;
  const boxes = new Set(graph.nodes.filter((n) => n.parent).map((n) => n.parent));
  for (const n of graph.nodes) {
    let size;
    switch (n.kind) {
      case 'Start': case 'End': size = { width: 48, height: 22 }; break;
      case 'Exit': size = { width: 8, height: 8 }; break;
      default: {
        const ls = lines(n.state);
        size = { width: Math.max(...ls.map(width)) + 2 * PAD, height: ls.length * LINE + 12, lines: ls };
      }
    }
    layout.setNode(n.id, size);
  }
  for (const b of boxes) {
    layout.setNode(boxOf(b), { paddingTop: 4, paddingBottom: 4 });
    layout.setParent(b, boxOf(b));
  }
  for (const n of graph.nodes) {
    if (n.parent) layout.setParent(n.id, boxOf(n.parent));
  }
  for (const e of graph.edges) layout.setEdge(e.from, e.to, { id: e.id }, e.id);
  dagre.layout(layout);
  const size = layout.graph();

  const el = (tag, attrs, parent) => {
    const x = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) x.setAttribute(k, v);
    if (parent) parent.appendChild(x);
    return x;
  };
  const title = (parent, text) => { el('title', {}, parent).textContent = text; };

  // A smooth path through dagre's edge points.
  const curve = (pts) => {
    let d = `M${pts[0].x},${pts[0].y}`;
    for (let i = 1; i < pts.length - 1; i++) {
      const mx = (pts[i].x + pts[i + 1].x) / 2, my = (pts[i].y + pts[i + 1].y) / 2;
      d += ` Q${pts[i].x},${pts[i].y} ${i === pts.length - 2 ? pts[i + 1].x : mx},${i === pts.length - 2 ? pts[i + 1].y : my}`;
    }
    if (pts.length === 2) d += ` L${pts[1].x},${pts[1].y}`;
    return d;
  };
  const arrow = (pts) => {
    const a = pts[pts.length - 2], b = pts[pts.length - 1];
    const len = Math.hypot(b.x - a.x, b.y - a.y) || 1;
    const ux = (b.x - a.x) / len, uy = (b.y - a.y) / len;
    const s = 6;
    return `M${b.x},${b.y} L${b.x - s * ux + s * 0.5 * uy},${b.y - s * uy - s * 0.5 * ux} L${b.x - s * ux - s * 0.5 * uy},${b.y - s * uy + s * 0.5 * ux} Z`;
  };

  const draw = (svg, path) => {
    svg.setAttribute('viewBox', `0 0 ${Math.ceil(size.width)} ${Math.ceil(size.height)}`);
    svg.dataset.width = Math.ceil(size.width);
    const entered = new Map(Object.entries(path.entered));
    const failed = new Set(path.failed), caught = new Set(path.caught), taken = new Set(path.edges);
    for (const b of boxes) {
      const box = layout.node(boxOf(b));
      const g = el('g', { class: 'box', 'data-box': b }, svg);
      el('rect', { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height, rx: 6 }, g);
    }
    for (const e of graph.edges) {
      const pts = layout.edge({ v: e.from, w: e.to, name: e.id }).points;
      const g = el('g', { class: `edge ${e.kind}${taken.has(e.id) ? ' taken' : ''}`, 'data-edge': e.id, 'data-from': e.from, 'data-to': e.to }, svg);
      el('path', { d: curve(pts), class: 'line' }, g);
      el('path', { d: arrow(pts), class: 'head' }, g);
      title(g, `${e.from.replace(/^\w+:/, '')} → ${e.to.replace(/^\w+:/, '')}${e.label ? ' — ' + e.label : ''}`);
    }
    for (const n of graph.nodes) {
      const p = layout.node(n.id);
      let cls = 'idle';
      if (n.kind === 'Start' || n.kind === 'End') cls = 'pseudo';
      else if (n.kind === 'Exit') cls = 'exit';
      else if (failed.has(n.state)) cls = 'entered failed';
      else if (caught.has(n.state)) cls = 'entered caught';
      else if (entered.has(n.state)) cls = 'entered';
      const g = el('g', { class: `node kind-${n.kind} ${cls}`, transform: `translate(${p.x},${p.y})` }, svg);
      if (n.kind !== 'Start' && n.kind !== 'End' && n.kind !== 'Exit') g.dataset.state = n.state;
      if (n.kind === 'Exit') {
        el('circle', { r: 3 }, g);
        continue;
      }
      const round = n.kind === 'Start' || n.kind === 'End' || n.kind === 'Succeed' || n.kind === 'Fail' ? p.height / 2 : 4;
      el('rect', { x: -p.width / 2, y: -p.height / 2, width: p.width, height: p.height, rx: round }, g);
      const ls = p.lines || [n.kind];
      ls.forEach((line, i) => {
        el('text', { 'text-anchor': 'middle', y: (i - (ls.length - 1) / 2) * LINE, dy: '0.35em' }, g).textContent = line;
      });
      const times = entered.get(n.state);
      if (times > 1) {
        const c = el('g', { class: 'count', transform: `translate(${p.width / 2 - 2},${-p.height / 2 + 1})` }, g);
        el('circle', { r: 7 }, c);
        el('text', { 'text-anchor': 'middle', dy: '0.35em' }, c).textContent = times > 99 ? '99+' : String(times);
      }
      const status = failed.has(n.state) ? 'failed' : caught.has(n.state) ? 'caught an error' : times ? `entered ${times}×` : 'not entered';
      title(g, n.state ? `${n.state} (${n.kind}): ${status}${n.comment ? '\n' + n.comment : ''}` : n.kind);
      if (n.state && times) g.addEventListener('click', () => spot(svg, n.state));
    }
  };

  // Clicking a state brings its steps in the timeline into view.
  const spot = (svg, state) => {
    const section = svg.closest('section');
    for (const s of section.querySelectorAll('.step.spot')) s.classList.remove('spot');
    const steps = [...section.querySelectorAll('.step')].filter((s) => s.dataset.state === state);
    for (const s of steps) s.classList.add('spot');
    if (steps.length) steps[0].scrollIntoView({ block: 'center', behavior: 'smooth' });
  };

  for (const sc of data.scenarios) {
    const svg = document.querySelector(`svg[data-graph="${CSS.escape(sc.id)}"]`);
    if (svg) draw(svg, sc.path);
  }
  document.body.dataset.graphs = String(data.scenarios.length);
})();
