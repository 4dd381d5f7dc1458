// The web view in the browser: one column per node with a card per task (as the Swarm
// visualizer draws them), the services, and recent events; kept live by the manager's
// server-sent events (manager/webview/feed.ts), never by reloading. Read-only. Runs in the
// browser as tsc compiles it: no framework, no bundler, nothing fetched from elsewhere.
import type { ViewDelta, ViewEvent, ViewNode, ViewService, ViewState, ViewTask } from './model.js';

const nodes = new Map<string, ViewNode>();
const services = new Map<string, ViewService>();
const tasks = new Map<string, ViewTask>();
let events: ViewEvent[] = [];
let cluster = '';
let drawPending = false;

/** For whoever drives the page (the browser test): when it loaded and how often it redrew. */
const stats = { loadedAt: Date.now(), draws: 0, messages: 0 };
(window as unknown as { batonView: typeof stats }).batonView = stats;

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

function el(tag: string, className: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function applyState(s: ViewState): void {
  nodes.clear();
  services.clear();
  tasks.clear();
  for (const n of s.nodes) nodes.set(n.id, n);
  for (const x of s.services) services.set(x.id, x);
  for (const t of s.tasks) tasks.set(t.id, t);
  events = s.events;
  cluster = s.clusterId;
}

function applyDelta(d: ViewDelta): void {
  for (const n of d.nodes) nodes.set(n.id, n);
  for (const x of d.services) services.set(x.id, x);
  for (const t of d.tasks) tasks.set(t.id, t);
  for (const id of d.removed.nodes) nodes.delete(id);
  for (const id of d.removed.services) services.delete(id);
  for (const id of d.removed.tasks) tasks.delete(id);
  events = [...events, ...d.events].slice(-50);
}

function taskCard(t: ViewTask): HTMLElement {
  const card = el('div', `task ${t.state}${t.health === 'unhealthy' ? ' unhealthy' : ''}`);
  card.dataset['task'] = t.id;
  card.dataset['service'] = services.get(t.serviceId)?.name ?? t.serviceId;
  card.appendChild(el('div', 'name', t.name));
  const health = t.health ? ` (${t.health})` : '';
  card.appendChild(el('div', 'state', `${t.state}${health}`));
  card.title = [t.image, t.message].filter(Boolean).join('\n');
  return card;
}

function nodeColumn(n: ViewNode, own: ViewTask[]): HTMLElement {
  const col = el('div', `node ${n.state}`);
  col.dataset['node'] = n.id;
  const head = el('div', 'head');
  head.appendChild(el('div', 'name', n.hostname || n.id.slice(0, 12)));
  head.appendChild(el('div', 'meta', `${n.role}${n.leader ? ' (leader)' : ''} · ${n.state} · ${n.availability}`));
  col.appendChild(head);
  const list = el('div', 'tasks');
  for (const t of own.sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))) list.appendChild(taskCard(t));
  col.appendChild(list);
  return col;
}

function draw(): void {
  drawPending = false;
  stats.draws++;
  byId('cluster').textContent = cluster ? `cluster ${cluster.slice(0, 12)}` : '';
  const perNode = new Map<string, ViewTask[]>();
  for (const t of tasks.values()) {
    const list = perNode.get(t.nodeId) ?? [];
    list.push(t);
    perNode.set(t.nodeId, list);
  }
  const columns = [...nodes.values()].sort((a, b) => (a.role === b.role ? a.hostname.localeCompare(b.hostname) : a.role === 'manager' ? -1 : 1)).map((n) => nodeColumn(n, perNode.get(n.id) ?? []));
  const unassigned = perNode.get('') ?? [];
  if (unassigned.length > 0) columns.push(nodeColumn({ id: '', hostname: 'not placed', role: 'worker', state: 'pending', availability: '', leader: false, addr: '' }, unassigned));
  byId('nodes').replaceChildren(...columns);

  const rows = [...services.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((s) => {
      const tr = document.createElement('tr');
      tr.dataset['service'] = s.name;
      for (const text of [s.name, s.mode, `${s.running}/${s.desired}`, s.image, s.ports.join(', '), s.update]) tr.appendChild(el('td', '', text));
      return tr;
    });
  byId('services').replaceChildren(...rows);

  const items = events
    .slice()
    .reverse()
    .map((e) => {
      const li = el('li', '');
      li.appendChild(el('time', '', new Date(e.time).toLocaleTimeString()));
      li.appendChild(document.createTextNode(`${e.kind} ${e.action} ${e.name}`));
      return li;
    });
  byId('events').replaceChildren(...items);
}

/** Many messages in one frame draw once. */
function scheduleDraw(): void {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(draw);
}

function connect(): void {
  const status = byId('status');
  const source = new EventSource('/api/events');
  source.addEventListener('state', (m: MessageEvent<string>) => {
    stats.messages++;
    applyState(JSON.parse(m.data) as ViewState);
    status.textContent = 'live';
    scheduleDraw();
  });
  source.addEventListener('delta', (m: MessageEvent<string>) => {
    stats.messages++;
    applyDelta(JSON.parse(m.data) as ViewDelta);
    scheduleDraw();
  });
  // EventSource reconnects by itself; the manager then sends the whole state again.
  source.onerror = () => {
    status.textContent = 'reconnecting…';
  };
}

connect();
