// The site as a picture, drawn from the render's `topology` (computed by the compiler): BGP
// upstreams and route reflectors, services (VIPs), balancers and anycast nodes, backends.
// BGP sessions are faint lines; clicking a service draws its path VIP -> announcers -> backends.
import { h, s } from './dom.js';

const W = 112;
const H = 46;
const STEP = 128;
const ROW = 120;
const PAD = 24;
const LINE = 62; // between wrapped lines of one row
const MAX_COLS = 6;

const ROWS = [
  { key: 'bgp', label: 'BGP upstreams and route reflectors' },
  { key: 'services', label: 'services (VIPs)' },
  { key: 'edge', label: 'balancers and anycast nodes' },
  { key: 'back', label: 'backends, monitoring and other hosts' },
];

function rowOf(host) {
  if (host.roles.includes('route-reflector')) return 'bgp';
  if (host.roles.includes('balancer') || host.roles.includes('anycast-node')) return 'edge';
  return 'back';
}

export class Topology {
  constructor({ el, cardEl, onJump, onHost, onTrace }) {
    Object.assign(this, { el, cardEl, onJump, onHost, onTrace });
    this.selected = null;
    this.topology = null;
  }

  update(topology) {
    this.topology = topology || null;
    if (this.selected && !topology?.services.some((x) => x.name === this.selected)) this.selected = null;
    this.draw();
  }

  draw() {
    const t = this.topology;
    if (!t) {
      this.el.replaceChildren(h('p', { class: 'dim' }, 'No topology yet: it is drawn from a clean render.'));
      return;
    }
    const items = { bgp: [], services: [], edge: [], back: [] };
    for (const u of t.upstreams) items.bgp.push({ kind: 'upstream', id: u.name, data: u });
    for (const x of t.hosts) items[rowOf(x)].push({ kind: 'host', id: x.name, data: x });
    for (const x of t.services) items.services.push({ kind: 'service', id: x.name, data: x });
    // Rows of at most MAX_COLS nodes: a long row wraps onto more lines, so the picture stays
    // legible when it is scaled down to the panel.
    const cols = Math.max(1, Math.min(MAX_COLS, Math.max(...Object.values(items).map((r) => r.length))));
    const width = cols * STEP + 2 * PAD;
    const pos = new Map(); // "node:lb1" / "service:www" -> {x, y}
    const labelY = [];
    let y = PAD;
    for (const row of ROWS) {
      const list = items[row.key];
      labelY.push(y + 4);
      const lines = Math.max(1, Math.ceil(list.length / cols));
      for (let l = 0; l < lines; l++) {
        const part = list.slice(l * cols, (l + 1) * cols);
        const x0 = (width - part.length * STEP) / 2 + STEP / 2;
        part.forEach((it, i) => pos.set(`${it.kind === 'service' ? 'service' : 'node'}:${it.id}`, { x: x0 + i * STEP, y: y + 18 + l * LINE + H / 2 }));
      }
      y += 18 + (lines - 1) * LINE + ROW - 18;
    }
    const height = y;
    const at = (name) => pos.get(`node:${name}`);
    const curve = (a, b, cls, attrs = {}) => {
      if (!a || !b) return null;
      if (Math.abs(a.y - b.y) < 1) {
        const y = a.y - H / 2;
        return s('path', { class: cls, d: `M${a.x},${y} C${a.x},${y - 34} ${b.x},${y - 34} ${b.x},${y}`, ...attrs });
      }
      const [top, bot] = a.y < b.y ? [a, b] : [b, a];
      const y1 = top.y + H / 2;
      const y2 = bot.y - H / 2;
      const my = (y1 + y2) / 2;
      return s('path', { class: cls, d: `M${top.x},${y1} C${top.x},${my} ${bot.x},${my} ${bot.x},${y2}`, ...attrs });
    };

    const sessions = t.sessions.map((x) => curve(at(x.a), at(x.b), 'bgp', { 'data-session': `${x.a}-${x.b}` }));
    const paths = [];
    const svc = t.services.find((x) => x.name === this.selected);
    const onPath = new Set();
    if (svc) {
      const sp = pos.get(`service:${svc.name}`);
      onPath.add(`service:${svc.name}`);
      for (const a of svc.announcers) {
        onPath.add(`node:${a.host}`);
        paths.push(curve(sp, at(a.host), `path${a.drained ? ' drained' : ''}`));
        for (const b of svc.backends) paths.push(curve(at(a.host), at(b.host), `path${a.drained || b.drained ? ' drained' : ''}`));
      }
      for (const b of svc.backends) onPath.add(`node:${b.host}`);
    }

    const labels = ROWS.map((row, r) => s('text', { class: 'row-label', x: PAD / 2, y: labelY[r] }, row.label));
    const nodes = [];
    for (const row of ROWS) {
      for (const it of items[row.key]) {
        const key = `${it.kind === 'service' ? 'service' : 'node'}:${it.id}`;
        const p = pos.get(key);
        const x = p.x - W / 2;
        const y = p.y - H / 2;
        const lit = svc ? (onPath.has(key) ? ' lit' : ' faded') : '';
        if (it.kind === 'service') {
          const v = it.data;
          const vip = v.vips.find((a) => !a.includes(':')) || v.vips[0] || '';
          nodes.push(s('g', {
            class: `node service ${v.balancing}${lit}${this.selected === v.name ? ' selected' : ''}`, 'data-service': v.name, tabindex: 0, role: 'button',
            'aria-label': `service ${v.name}`, onclick: () => this.select(v.name), onkeydown: (e) => e.key === 'Enter' && this.select(v.name),
          },
          s('title', {}, `${v.name}: ${v.vips.join(', ')} ${v.ports.join(' ')}`),
          s('rect', { x, y, width: W, height: H, rx: H / 2 }),
          s('text', { x: p.x, y: p.y - 3, class: 'name' }, v.name),
          s('text', { x: p.x, y: p.y + 12, class: 'sub' }, vip)));
        } else if (it.kind === 'upstream') {
          const u = it.data;
          nodes.push(s('g', { class: `node upstream${lit}`, 'data-upstream': u.name },
            s('title', {}, `upstream ${u.name} ${u.address} AS${u.asn}`),
            s('rect', { x, y, width: W, height: H, rx: 4 }),
            s('text', { x: p.x, y: p.y - 3, class: 'name' }, u.name),
            s('text', { x: p.x, y: p.y + 12, class: 'sub' }, `upstream AS${u.asn}`)));
        } else {
          const n = it.data;
          nodes.push(s('g', {
            class: `node host ${n.roles.map((r) => `role-${r}`).join(' ')}${n.drained ? ' drained' : ''}${lit}`, 'data-host': n.name,
            tabindex: 0, role: 'button', 'aria-label': `host ${n.name}${n.drained ? ' (drained)' : ''}`,
            onclick: () => this.onHost(n.name), onkeydown: (e) => e.key === 'Enter' && this.onHost(n.name),
          },
          s('title', {}, `${n.name}: ${n.roles.join(', ')}${n.ipv4 ? ` ${n.ipv4}` : ''}${n.ipv6 ? ` ${n.ipv6}` : ''}${n.drained ? ' (drained)' : ''}`),
          s('rect', { x, y, width: W, height: H, rx: 6 }),
          s('text', { x: p.x, y: p.y - 3, class: 'name' }, n.name),
          s('text', { x: p.x, y: p.y + 12, class: 'sub' }, n.drained ? 'drained' : n.roles.join(', '))));
        }
      }
    }
    const svg = s('svg', {
      class: `topo${svc ? ' has-selection' : ''}`, viewBox: `0 0 ${width} ${height}`, width, role: 'img',
      'aria-label': `topology of ${t.site}: ${t.hosts.length} hosts, ${t.services.length} services`,
    },
    s('g', { class: 'labels' }, ...labels),
    s('g', { class: 'sessions' }, ...sessions.filter(Boolean)),
    s('g', { class: 'paths' }, ...paths.filter(Boolean)),
    s('g', { class: 'nodes' }, ...nodes));
    const legend = h('div', { class: 'legend dim' },
      h('span', {}, h('i', { class: 'sw bgp' }), 'BGP session'),
      h('span', {}, h('i', { class: 'sw path' }), 'service path'),
      h('span', {}, h('i', { class: 'sw drained' }), 'drained'),
      h('span', {}, `site ${t.site}, AS${t.asn}`));
    this.el.replaceChildren(legend, h('div', { class: 'topo-scroll' }, svg));
    this.drawCard(svc);
  }

  select(name) {
    this.selected = this.selected === name ? null : name;
    this.draw();
  }

  drawCard(svc) {
    if (!svc) {
      this.cardEl.replaceChildren(h('span', { class: 'dim' }, 'Click a service to see its path: VIP, announcers, backends. Click a host to preview its files.'));
      return;
    }
    const hosts = (list) => list.length ? list.map((x) => `${x.host}${x.drained ? ' (drained)' : ''}`).join(', ') : '—';
    this.cardEl.replaceChildren(
      h('h3', {}, svc.name, ' ', h('span', { class: 'badge' }, svc.balancing)),
      svc.description ? h('p', {}, svc.description) : null,
      h('dl', {},
        h('dt', {}, 'VIPs'), h('dd', {}, svc.vips.join(', ')),
        h('dt', {}, 'ports'), h('dd', {}, svc.ports.join(', ')),
        h('dt', {}, 'announced by'), h('dd', {}, hosts(svc.announcers)),
        h('dt', {}, 'backends'), h('dd', {}, hosts(svc.backends)),
        svc.source ? [h('dt', {}, 'defined in'), h('dd', {}, h('button', { type: 'button', class: 'jump', onclick: () => this.onJump(svc.source) }, `${svc.source.file}:${svc.source.line}`))] : null),
      h('button', { type: 'button', class: 'trace', onclick: () => this.onTrace(svc.name) }, 'Where each setting comes from'),
    );
  }
}
