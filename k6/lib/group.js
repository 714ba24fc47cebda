/**
 * One VU drives a group of users. Every message stays inside its group (direct messages to a random
 * other user of the group, room messages to a room of the group), so the VU sees both ends of every
 * message: it knows exactly which acknowledged messages each user must receive and can count losses
 * and duplicates without any state shared between VUs (k6 VUs share none). Each user's connection
 * goes through the balancer on its own, so sender and recipient land on replicas independently.
 *
 * Per message: data = { r: run id, m: "<sender global index>.<per-sender counter>", t: send time, p?: padding }.
 *
 * Seq and resume (issue 4), used when the server provides them:
 *  - a `message` frame may carry `seq` (per user inbox, or per room when it has `room`); a seq already
 *    seen on that stream is a replay and is dropped (messages_redelivered), as a client should;
 *  - a reconnect adds `?resume=<highest inbox seq>` and re-joins its room with
 *    {"type":"join","room":r,"after":<highest room seq>} once room messages carry seq;
 *  - once the server is seen to carry room seqs, a room message is expected by every member that had
 *    joined before it was sent (resume fills the gaps); without seq, a member that was not joined for
 *    the whole delivery window is excused (messages_missed_offline) instead of counted lost.
 */
import { setInterval, clearInterval, setTimeout, clearTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';
import { mintToken } from './jwt.js';
import { metrics } from './metrics.js';
import { connectAt } from './schedule.js';

const TOKEN_TTL_SEC = 24 * 3600;
const TICK_MS = 50;
const SETTLE_POLL_MS = 250;
/** Without room seq: a member must have stayed joined from the send until this long after the ack. */
const ROOM_DELIVERY_WINDOW_MS = 2000;
const MAX_LOGGED_ERRORS = 3;
/** After the upgrade, the welcome must be the first frame, within this time. */
const WELCOME_TIMEOUT_MS = 3000;
/** Consecutive connections without a welcome first before the attempt counts as failed. */
const MAX_WELCOME_RETRIES = 3;

export class Group {
  /**
   * @param cfg     parsed config (lib/config.js)
   * @param setup   setup() data: { runId, schedule }
   * @param vu      1-based VU number (__VU)
   */
  constructor(cfg, setup, vu) {
    this.cfg = cfg;
    this.runId = setup.runId;
    this.schedule = setup.schedule;
    this.index = vu - 1;
    const first = this.index * cfg.usersPerVu;
    const last = Math.min(cfg.users, first + cfg.usersPerVu);
    this.users = [];
    for (let gi = first; gi < last; gi++) {
      const idx = gi - first;
      this.users.push({
        idx,
        gi,
        id: `k6-${this.runId}-${gi}`,
        room: `k6-${this.runId}-g${this.index}-r${Math.floor(idx / cfg.roomSize)}`,
        ws: /** @type {WebSocket | null} */ (null),
        gen: 0,
        state: 'idle',
        opened: false,
        welcomeRetries: 0,
        everConnected: false,
        downSince: null,
        failures: 0,
        counter: 0,
        pending: new Set(),
        inboxSeqs: new Set(),
        inboxMaxSeq: null,
        roomSeqs: new Set(),
        roomMaxSeq: null,
        joinedSince: null,
        firstJoinedAt: null,
        /** Intervals [from, to] (to null while open) during which the user was not joined to its room. */
        gaps: [],
      });
    }
    this.byRoom = {};
    for (const u of this.users) (this.byRoom[u.room] = this.byRoom[u.room] || []).push(u);
    this.msgs = new Map();
    this.roomSeqSeen = false;
    this.inboxSeqSeen = false;
    this.rate = (cfg.rate * this.users.length) / cfg.users;
    this.credit = 0;
    this.padding = cfg.payloadBytes > 0 ? 'x'.repeat(cfg.payloadBytes) : undefined;
    this.loggedErrors = 0;
    this.finished = false;
    this.timers = new Set();
    /** Hot counters summed here and added to the metrics once a second (one sample instead of thousands). */
    this.tally = { sent: 0, acked: 0, received: 0 };
  }

  flushTally() {
    if (this.tally.sent > 0) metrics.sent.add(this.tally.sent);
    if (this.tally.acked > 0) metrics.acked.add(this.tally.acked);
    if (this.tally.received > 0) metrics.received.add(this.tally.received);
    this.tally = { sent: 0, acked: 0, received: 0 };
  }

  /** Schedules everything; k6 ends the iteration once every timer and socket is done. */
  start() {
    for (const u of this.users) {
      this.later(Math.max(0, connectAt(this.schedule, this.cfg, u.gi) - Date.now()), () => this.connect(u));
    }
    this.later(Math.max(0, this.schedule.trafficStart - Date.now()), () => this.startTraffic());
  }

  later(ms, fn) {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      fn();
    }, ms);
    this.timers.add(handle);
    return handle;
  }

  logError(text) {
    if (this.loggedErrors >= MAX_LOGGED_ERRORS) return;
    this.loggedErrors += 1;
    console.warn(`vu ${this.index + 1}: ${text}${this.loggedErrors === MAX_LOGGED_ERRORS ? ' (further errors of this VU not logged)' : ''}`);
  }

  // ---- connections ------------------------------------------------------------------------------

  connect(u) {
    if (this.finished) return;
    u.gen += 1;
    const gen = u.gen;
    u.state = 'connecting';
    u.opened = false;
    const url = u.inboxMaxSeq === null ? this.cfg.wsUrl : `${this.cfg.wsUrl}?resume=${u.inboxMaxSeq}`;
    const ws = new WebSocket(url, null, {
      headers: { Authorization: `Bearer ${mintToken(this.cfg.secret, u.id, TOKEN_TTL_SEC)}` },
      tags: { name: 'balancer-ws' },
    });
    u.ws = ws;
    let lastError = '';
    const timeout = this.later(this.cfg.connectTimeoutMs, () => {
      if (u.gen === gen && !u.opened) this.attemptFailed(u, `not open within ${this.cfg.connectTimeoutMs} ms`);
    });
    ws.onopen = () => {
      // A socket abandoned by a time-out or the end of the run: close it now that close() is safe.
      if (u.gen !== gen) {
        ws.close();
        return;
      }
      clearTimeout(timeout);
      this.timers.delete(timeout);
      this.onOpen(u, gen);
    };
    ws.onerror = (ev) => {
      lastError = ev === undefined || ev.error === undefined ? 'error' : String(ev.error);
    };
    ws.onmessage = (ev) => {
      if (u.gen !== gen || ev === undefined) return;
      let frame;
      try {
        if (typeof ev.data !== 'string') throw new Error('binary frame');
        frame = JSON.parse(ev.data);
      } catch {
        this.logError(`${u.id}: frame is not JSON`);
        return;
      }
      this.onFrame(u, frame, ev.timestamp === undefined ? Date.now() : ev.timestamp);
    };
    // k6 passes the close event (with its code), though @types/k6 declares onclose without one.
    /** @param {{ code?: number }} [ev] */
    const onclose = (ev) => {
      if (u.gen !== gen) return;
      clearTimeout(timeout);
      this.timers.delete(timeout);
      this.onClose(u, ev === undefined ? undefined : ev.code, lastError);
    };
    ws.onclose = onclose;
  }

  attemptFailed(u, why) {
    metrics.connectFailed.add(1);
    this.logError(`${u.id}: connect attempt failed: ${why}`);
    const ws = u.ws;
    u.gen += 1; // events of the abandoned socket are ignored from now on
    if (ws !== null && ws.readyState === 1) ws.close();
    u.ws = null;
    u.state = 'down';
    this.scheduleReconnect(u, undefined);
  }

  scheduleReconnect(u, code) {
    if (this.finished || Date.now() >= this.schedule.graceEnd) return;
    u.failures += 1;
    // 1012 (drain) closes are already spread by the server: reconnect at once with a little jitter.
    // Anything else backs off: 100 ms doubling up to 2 s, with jitter.
    const base = code === 1012 && u.failures <= 1 ? 50 : Math.min(2000, 100 * Math.pow(2, u.failures - 1));
    this.later(base * (0.5 + Math.random()), () => this.connect(u));
  }

  onClose(u, code, lastError) {
    if (this.finished || u.state === 'done') return;
    const wasOpen = u.state === 'open';
    u.opened = false;
    u.ws = null;
    this.failPending(u);
    if (u.joinedSince !== null) {
      u.gaps.push([Date.now(), null]);
      u.joinedSince = null;
    }
    u.state = 'down';
    if (!wasOpen) {
      metrics.connectFailed.add(1);
      this.logError(`${u.id}: connect attempt failed: ${lastError || `closed before the welcome (code ${code})`}`);
    } else {
      metrics.closes.add(1, { code: String(code === undefined ? 'none' : code) });
      if (u.downSince === null) u.downSince = Date.now();
      u.failures = 0;
    }
    this.scheduleReconnect(u, code);
  }

  /**
   * The upgrade succeeded; the connection counts once the welcome arrives as its first frame.
   *
   * k6 v1.8's k6/websockets can drop frames that arrive before its own `open` bookkeeping ran: its read
   * loop starts before the open task is queued, and a message task that runs while the socket is still
   * CONNECTING is discarded. That hits the welcome the server sends at once, and whatever shares its
   * read (a resume replay). So a connection whose first frame is not the welcome (or that gets none)
   * lost frames inside k6: it is closed and opened again at once, resuming from the last seq seen, and
   * counted in ws_first_frames_dropped (not as a failure: the server did its part).
   */
  onOpen(u, gen) {
    u.opened = true;
    u.state = 'welcoming';
    u.server = undefined;
    this.later(WELCOME_TIMEOUT_MS, () => {
      if (u.gen === gen && u.state === 'welcoming') this.redoConnection(u, `no welcome within ${WELCOME_TIMEOUT_MS} ms of the open`);
    });
  }

  redoConnection(u, why) {
    metrics.firstFramesDropped.add(1);
    u.welcomeRetries += 1;
    if (u.welcomeRetries > MAX_WELCOME_RETRIES) {
      u.welcomeRetries = 0;
      this.attemptFailed(u, `${why}, ${MAX_WELCOME_RETRIES + 1} times in a row`);
      return;
    }
    const ws = u.ws;
    u.gen += 1; // the old socket's remaining events are ignored
    if (ws !== null && ws.readyState === 1) ws.close();
    u.ws = null;
    u.opened = false;
    u.state = 'down';
    this.later(0, () => this.connect(u));
  }

  onWelcome(u, f) {
    if (f.user !== u.id) this.logError(`${u.id}: welcome names user ${JSON.stringify(f.user)}`);
    u.server = f.server;
    u.state = 'open';
    u.welcomeRetries = 0;
    metrics.connectFailed.add(0);
    metrics.connects.add(1);
    if (u.downSince !== null) {
      metrics.reconnects.add(1);
      metrics.reconnectTime.add(Date.now() - u.downSince);
      u.downSince = null;
    }
    u.everConnected = true;
    // Rejoining with `after` resumes the room in the same step (no window in which live messages and
    // the replay could both carry the same seq).
    const join = u.roomMaxSeq === null ? { type: 'join', room: u.room, id: `j${u.gen}` } : { type: 'join', room: u.room, after: u.roomMaxSeq, id: `j${u.gen}` };
    this.trySend(u, join);
  }

  onJoined(u) {
    const now = Date.now();
    u.joinedSince = now;
    if (u.firstJoinedAt === null) {
      u.firstJoinedAt = now;
    } else {
      const open = u.gaps[u.gaps.length - 1];
      if (open !== undefined && open[1] === null) open[1] = now;
    }
    u.failures = 0;
  }

  /** Sends a frame; false when the socket closed under us (its close event is still queued). */
  trySend(u, frame) {
    try {
      u.ws.send(JSON.stringify(frame));
      return true;
    } catch (err) {
      this.logError(`${u.id}: send failed: ${String(err)}`);
      return false;
    }
  }

  /** Sends of this connection still waiting for their ack: the socket is gone, so they never get one. */
  failPending(u) {
    for (const id of u.pending) {
      const rec = this.msgs.get(id);
      if (rec !== undefined && rec.state === 'pending') {
        rec.state = 'undelivered';
        metrics.undelivered.add(1, { reason: 'no_ack' });
      }
    }
    u.pending.clear();
  }

  // ---- frames -----------------------------------------------------------------------------------

  onFrame(u, f, receivedAt) {
    if (u.state === 'welcoming') {
      if (f.type === 'welcome') this.onWelcome(u, f);
      else this.redoConnection(u, `first frame was "${f.type}", not the welcome`);
      return;
    }
    switch (f.type) {
      case 'message':
        this.onMessage(u, f, receivedAt);
        return;
      case 'ack':
        if (typeof f.id === 'string' && f.id.charAt(0) === 'j') this.onJoined(u);
        else this.onAck(u, f);
        return;
      case 'error':
        metrics.serverErrors.add(1, { code: String(f.code) });
        this.logError(`${u.id}: server error ${f.code}: ${f.message}`);
        if (typeof f.id === 'string') this.settleSend(u, f.id, 'undelivered', 'error');
        return;
      default:
        return;
    }
  }

  onAck(u, f) {
    const rec = this.msgs.get(f.id);
    if (rec === undefined) return;
    if (rec.kind === 'room') {
      this.settleSend(u, f.id, 'acked');
    } else if ((typeof f.delivered === 'number' && f.delivered >= 1) || f.stored === true) {
      this.settleSend(u, f.id, 'acked');
    } else {
      this.settleSend(u, f.id, 'undelivered', 'recipient_offline');
    }
  }

  settleSend(u, id, state, reason) {
    const rec = this.msgs.get(id);
    u.pending.delete(id);
    if (rec === undefined || rec.state !== 'pending') return;
    rec.state = state;
    rec.ackAt = Date.now();
    if (state === 'acked') this.tally.acked += 1;
    else metrics.undelivered.add(1, { reason });
  }

  onMessage(u, f, receivedAt) {
    if (this.finished) return;
    const data = f.data;
    if (data === null || typeof data !== 'object' || data.r !== this.runId) return;
    if (typeof f.seq === 'number') {
      const isRoom = typeof f.room === 'string';
      const seqs = isRoom ? u.roomSeqs : u.inboxSeqs;
      if (seqs.has(f.seq)) {
        metrics.redelivered.add(1, { kind: isRoom ? 'room' : 'direct' });
        return;
      }
      seqs.add(f.seq);
      if (isRoom) {
        this.roomSeqSeen = true;
        if (u.roomMaxSeq === null || f.seq > u.roomMaxSeq) u.roomMaxSeq = f.seq;
      } else {
        this.inboxSeqSeen = true;
        if (u.inboxMaxSeq === null || f.seq > u.inboxMaxSeq) u.inboxMaxSeq = f.seq;
      }
    }
    const rec = this.msgs.get(data.m);
    if (rec === undefined) {
      this.logError(`${u.id}: received message ${JSON.stringify(data.m)} that this group never sent`);
      return;
    }
    if (rec.recv.indexOf(u.idx) >= 0) {
      metrics.duplicated.add(1, { kind: rec.kind, seq: typeof f.seq === 'number' ? 'new' : 'none' });
      return;
    }
    rec.recv.push(u.idx);
    this.tally.received += 1;
    metrics.latency.add(Math.max(0, receivedAt - data.t));
  }

  // ---- traffic ----------------------------------------------------------------------------------

  startTraffic() {
    if (this.finished) return;
    let last = Date.now();
    let lastFlush = last;
    const interval = setInterval(() => {
      const now = Date.now();
      if (now - lastFlush >= 1000) {
        this.flushTally();
        lastFlush = now;
      }
      if (now >= this.schedule.trafficEnd) {
        clearInterval(interval);
        this.timers.delete(interval);
        this.settle();
        return;
      }
      this.credit += (this.rate * (now - last)) / 1000;
      last = now;
      // Bounded per tick: a stalled event loop does not turn into a burst of thousands of sends.
      let n = Math.min(Math.floor(this.credit), Math.ceil(this.rate) + 1);
      this.credit -= Math.floor(this.credit);
      while (n > 0) {
        n -= 1;
        this.sendOne(now);
      }
    }, TICK_MS);
    this.timers.add(interval);
  }

  sendOne(now) {
    const open = this.users.filter((x) => x.state === 'open');
    if (open.length === 0) return;
    const u = open[Math.floor(Math.random() * open.length)];
    u.counter += 1;
    const id = `${u.gi}.${u.counter}`;
    const data = this.padding === undefined ? { r: this.runId, m: id, t: now } : { r: this.runId, m: id, t: now, p: this.padding };
    let rec;
    let frame;
    if (Math.random() < this.cfg.roomShare) {
      rec = { kind: 'room', from: u.idx, room: u.room, sentAt: now, ackAt: null, state: 'pending', recv: [] };
      frame = { type: 'publish', room: u.room, data, id };
    } else {
      let other = Math.floor(Math.random() * (this.users.length - 1));
      if (other >= u.idx) other += 1;
      const to = this.users[other];
      rec = { kind: 'direct', from: u.idx, to: to.idx, sentAt: now, ackAt: null, state: 'pending', recv: [] };
      frame = { type: 'send', to: to.id, data, id };
    }
    if (!this.trySend(u, frame)) return;
    this.msgs.set(id, rec);
    u.pending.add(id);
    this.tally.sent += 1;
  }

  // ---- end of run -------------------------------------------------------------------------------

  /** Recipients that must have received `rec` (acked sends only); the others it may reach are a bonus. */
  expectedRecipients(rec) {
    if (rec.kind === 'direct') return { expected: [this.users[rec.to]], excused: [] };
    const expected = [];
    const excused = [];
    const until = (rec.ackAt === null ? rec.sentAt : rec.ackAt) + ROOM_DELIVERY_WINDOW_MS;
    for (const m of this.byRoom[rec.room]) {
      if (m.firstJoinedAt === null || m.firstJoinedAt > rec.sentAt) continue; // joined later: not a member then
      if (this.roomSeqSeen || !wasAway(m, rec.sentAt, until)) expected.push(m);
      else excused.push(m);
    }
    return { expected, excused };
  }

  /** True while some acknowledged message still misses a recipient or some send waits for its ack. */
  unsettled() {
    for (const u of this.users) if (u.pending.size > 0) return true;
    for (const rec of this.msgs.values()) {
      if (rec.state !== 'acked' || rec.settled) continue;
      const { expected } = this.expectedRecipients(rec);
      if (expected.some((m) => rec.recv.indexOf(m.idx) < 0)) return true;
      // No later event can make a settled record lost: dup/late receipts only add to recv.
      rec.settled = true;
    }
    return false;
  }

  /** Waits (bounded by graceEnd) for in-flight messages, then counts and closes. */
  settle() {
    const poll = () => {
      if (Date.now() >= this.schedule.graceEnd || !this.unsettled()) {
        this.finish();
        return;
      }
      this.later(SETTLE_POLL_MS, poll);
    };
    poll();
  }

  finish() {
    if (this.finished) return;
    this.finished = true;
    const now = Date.now();
    for (const u of this.users) {
      this.failPending(u);
      if (u.downSince !== null) {
        metrics.reconnectTime.add(now - u.downSince);
        metrics.reconnectIncomplete.add(1);
      }
    }
    for (const rec of this.msgs.values()) {
      if (rec.state !== 'acked') continue;
      const { expected, excused } = this.expectedRecipients(rec);
      for (const m of expected) if (rec.recv.indexOf(m.idx) < 0) metrics.lost.add(1, { kind: rec.kind });
      for (const m of excused) if (rec.recv.indexOf(m.idx) < 0) metrics.missedOffline.add(1);
    }
    this.flushTally();
    for (const handle of this.timers) clearTimeout(handle);
    this.timers.clear();
    for (const u of this.users) {
      u.state = 'done';
      const ws = u.ws;
      u.gen += 1; // a socket still connecting closes itself in onopen
      if (ws !== null && ws.readyState === 1) ws.close();
    }
  }
}

/** Whether member `m` was not joined at some moment of [from, to]. */
function wasAway(m, from, to) {
  for (const [gapFrom, gapTo] of m.gaps) {
    if (gapFrom <= to && (gapTo === null || gapTo >= from)) return true;
  }
  return false;
}
