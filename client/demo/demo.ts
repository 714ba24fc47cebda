/// <reference lib="dom" />
/**
 * The demo page: sign in (a dev token, or a token given), direct messages and a room, which replica
 * this tab is on, what happens when it goes away, and a live fleet panel. Plain DOM, no framework.
 * The client library comes from the replica's /client.js (the build maps this import to it).
 */
import { FleetClient, type ConnectionState, type FleetError, type FleetMessage } from '../src/index.js';

const ROOM = 'chat:lobby';
const FLEET_POLL_MS = 2_000;
/** A replica not heard from for this long is shown as stale (it may be gone). */
const STALE_MS = 10_000;

interface FleetReplica { id: string; connections: number; messagesInPerSec: number; messagesOutPerSec: number; ageMs: number }
interface FleetView { server: string; at: number; replicas: FleetReplica[]; nats: { connected: boolean; nodes: { node: string; up: boolean }[] } }

function el<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const e = document.getElementById(id);
  if (!(e instanceof type)) throw new Error(`#${id} is missing or not a ${type.name}`);
  return e;
}

const ui = {
  status: el('status', HTMLElement),
  signin: el('signin', HTMLElement),
  signinForm: el('signin-form', HTMLFormElement),
  name: el('name', HTMLInputElement),
  devtokens: el('devtokens', HTMLElement),
  tokenForm: el('token-form', HTMLFormElement),
  token: el('token', HTMLTextAreaElement),
  session: el('session', HTMLElement),
  me: el('me', HTMLElement),
  replica: el('replica', HTMLElement),
  dmForm: el('dm-form', HTMLFormElement),
  dmTo: el('dm-to', HTMLInputElement),
  dmText: el('dm-text', HTMLInputElement),
  dmList: el('dm-list', HTMLOListElement),
  roomForm: el('room-form', HTMLFormElement),
  roomText: el('room-text', HTMLInputElement),
  roomList: el('room-list', HTMLOListElement),
  replicas: el('replicas', HTMLTableSectionElement),
  nats: el('nats', HTMLUListElement),
};

let client: FleetClient | undefined;
/** Messages replayed since the last reconnect began (all subjects). */
let replayedSinceReconnect = 0;
let reconnecting = false;

/** Every status line shown, oldest first (read by the browser test; a short line may be replaced within a frame). */
const statusLog: string[] = [];
let acked = 0;
(globalThis as { wsfDemo?: unknown }).wsfDemo = { statusLog, client: () => client, acked: () => acked };

function setStatus(state: ConnectionState | 'idle', text: string): void {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  statusLog.push(text);
}

function decodeSub(token: string): string | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/')) ;
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

function textOf(data: unknown): string {
  if (typeof data === 'object' && data !== null && typeof (data as { text?: unknown }).text === 'string') return (data as { text: string }).text;
  return JSON.stringify(data);
}

function render(list: HTMLOListElement, m: FleetMessage): void {
  const li = document.createElement('li');
  if (m.replayed === true) li.classList.add('replayed');
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.from;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = ` ${textOf(m.data)}`;
  const meta = document.createElement('span');
  meta.className = 'meta';
  meta.textContent = `${m.seq === undefined ? '' : `#${m.seq} `}${new Date(m.ts).toLocaleTimeString()}${m.replayed === true ? ' · replayed' : ''}`;
  li.append(from, text, meta);
  li.dataset.seq = String(m.seq ?? '');
  list.append(li);
  li.scrollIntoView({ block: 'nearest' });
}

function describeError(e: FleetError): string {
  return `${e.code}: ${e.message}`;
}

async function start(token: string): Promise<void> {
  const user = decodeSub(token) ?? '?';
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
  const c = new FleetClient({ url, token, reconnect: { initialMs: 200, maxMs: 5_000 } });
  client = c;
  c.on('state', (s) => {
    if (s === 'reconnecting') {
      reconnecting = true;
      unrecovered = false;
      replayedSinceReconnect = 0;
      ui.replica.textContent = '–';
      setStatus(s, 'reconnecting…');
    } else if (s === 'connecting') {
      setStatus(s, 'connecting…');
    } else if (s === 'closed') {
      setStatus(s, 'disconnected.');
    }
  });
  c.on('welcome', (w) => {
    ui.replica.textContent = w.server;
    document.title = `${user} on ${w.server} · ws-fleet demo`;
    if (!reconnecting) setStatus('open', `connected to replica ${w.server}`);
  });
  let unrecovered = false;
  c.on('resumed', (r) => {
    replayedSinceReconnect += r.replayed;
    unrecovered ||= !r.recovered;
    if (!reconnecting && r.replayed === 0) return;
    if (r.pending > 0) {
      setStatus('open', `resuming on ${c.server ?? '?'}: ${replayedSinceReconnect} missed so far…`);
      return;
    }
    const lost = unrecovered ? ' (some could not be recovered)' : '';
    setStatus('open', `resumed on ${c.server ?? '?'}, ${replayedSinceReconnect} missed message${replayedSinceReconnect === 1 ? '' : 's'} replayed${lost}`);
    reconnecting = false;
    unrecovered = false;
  });
  c.on('message', (m) => { render(m.room === undefined ? ui.dmList : ui.roomList, m); });
  c.on('error', (e) => {
    if (e.code === 'auth') setStatus('closed', `signed out: ${e.message}`);
    else console.warn('ws-fleet:', describeError(e));
  });
  ui.me.textContent = user;
  ui.signin.hidden = true;
  ui.session.hidden = false;
  setStatus('connecting', 'connecting…');
  try {
    await c.connect();
    await c.join(ROOM);
  } catch (err) {
    setStatus('closed', `could not connect: ${err instanceof Error ? err.message : String(err)}`);
    ui.signin.hidden = false;
    ui.session.hidden = true;
  }
}

async function devToken(name: string): Promise<string | undefined> {
  const res = await fetch('/dev/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: name }) });
  const body = (await res.json()) as { token?: string; message?: string; error?: string };
  if (res.ok && typeof body.token === 'string') return body.token;
  ui.devtokens.hidden = false;
  ui.devtokens.textContent = res.status === 404
    ? 'Dev tokens are off on this deployment: sign in with a token instead (below).'
    : `Could not sign in: ${body.message ?? body.error ?? res.status}`;
  (document.getElementById('token-box') as HTMLDetailsElement | null)?.setAttribute('open', '');
  return undefined;
}

ui.signinForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void devToken(ui.name.value.trim()).then((t) => (t === undefined ? undefined : start(t)));
});
ui.tokenForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void start(ui.token.value.trim());
});

function sendFrom(form: HTMLFormElement, input: HTMLInputElement, go: (text: string) => Promise<unknown>): void {
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (text === '') return;
    input.value = '';
    go(text).then(() => { acked += 1; }, (err: unknown) => { setStatus(client?.state ?? 'idle', `not sent: ${err instanceof Error ? err.message : String(err)}`); });
  });
}
sendFrom(ui.dmForm, ui.dmText, (text) => client?.send(ui.dmTo.value.trim(), { text }) ?? Promise.reject(new Error('not signed in')));
sendFrom(ui.roomForm, ui.roomText, (text) => client?.publish(ROOM, { text }) ?? Promise.reject(new Error('not signed in')));

// ---- the fleet panel: any replica's /fleet lists every live replica, from their heartbeats.
let replicas: { r: FleetReplica; at: number }[] = [];
let nodes: FleetView['nats']['nodes'] = [];

async function pollFleet(): Promise<void> {
  try {
    const res = await fetch('/fleet', { cache: 'no-store' });
    if (!res.ok) return;
    const view = (await res.json()) as FleetView;
    const now = Date.now();
    replicas = view.replicas.map((r) => ({ r, at: now - r.ageMs }));
    nodes = view.nats.nodes;
  } catch {
    // the balancer may be between replicas: the next poll tries again (the last answer stays shown)
  }
  renderFleet();
}

function cell(text: string, num = false): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (num) td.className = 'num';
  return td;
}

function renderFleet(): void {
  const now = Date.now();
  const rows = [...replicas].sort((a, b) => a.r.id.localeCompare(b.r.id)).map(({ r, at }) => {
    const id = r.id;
    const tr = document.createElement('tr');
    const age = Math.round((now - at) / 1000);
    if (now - at > STALE_MS) tr.classList.add('stale');
    if (id === client?.server) tr.classList.add('mine');
    tr.append(cell(id), cell(String(r.connections), true), cell(String(r.messagesInPerSec), true), cell(String(r.messagesOutPerSec), true), cell(age <= 1 ? 'now' : `${age} s ago`));
    return tr;
  });
  ui.replicas.replaceChildren(...rows);
  ui.nats.replaceChildren(...nodes.map((n) => {
    const li = document.createElement('li');
    li.className = n.up ? 'up' : 'down';
    li.textContent = `${n.node} ${n.up ? 'up' : 'down'}`;
    return li;
  }));
}

void pollFleet();
setInterval(() => { void pollFleet(); }, FLEET_POLL_MS);

// A token in the fragment (#token=…) signs in at once: the page works without the dev endpoint.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash !== null && fromHash !== '') {
  history.replaceState(null, '', location.pathname);
  void start(fromHash);
}
