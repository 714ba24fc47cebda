/**
 * A load worker process (forked by load/run.ts): drives its share of the groups, sends the runner one
 * record per second (what changed, sockets open) and the totals at the end, then exits. Bounded: it
 * exits by itself 30 s after the run's grace end whatever happens, and when the runner goes away.
 */
import { createSigner } from 'fast-jwt';
import { Group, type GroupContext } from './group.js';
import { addCounters, newTrends, zeroCounters, TRENDS, type SerializedHistogram, type TrendName, type WorkerMessage, type WorkerTask } from './stats.js';

const TICK_MS = 50;
const TOKEN_TTL_SEC = 24 * 3600;

function post(m: WorkerMessage): void {
  process.send?.(m);
}

function serializeTrends(t: ReturnType<typeof newTrends>): Record<TrendName, SerializedHistogram> {
  return Object.fromEntries(TRENDS.map((n) => [n, t[n].serialize()])) as Record<TrendName, SerializedHistogram>;
}

async function runTask(task: WorkerTask): Promise<void> {
  const sign = createSigner({ key: task.secret, algorithm: 'HS256', noTimestamp: true });
  const token = (user: string): string => {
    const now = Math.floor(Date.now() / 1000);
    return sign({ sub: user, iat: now - 5, exp: now + TOKEN_TTL_SEC });
  };
  const totals = { counters: zeroCounters(), trends: newTrends() };
  let logged = 0;
  const ctx: GroupContext = {
    runId: task.runId,
    wsUrl: task.wsUrl,
    protocol: task.protocol,
    token,
    params: task.params,
    schedule: task.schedule,
    jitter: task.jitter,
    roomPrefix: task.roomPrefix,
    counters: zeroCounters(),
    trends: newTrends(),
    servers: new Map(),
    undelivered: new Map(),
    closes: new Map(),
    log: (text) => {
      logged += 1;
      if (logged <= 20) post({ type: 'log', text: `${text}${logged === 20 ? ' (further messages of this worker not logged)' : ''}` });
    },
  };
  const groups = task.groups.map((g) => new Group(ctx, g));
  const openSockets = (): number => groups.reduce((n, g) => n + g.openSockets, 0);

  // One record per second: the second's counters and trends, then they start over.
  const flush = (): void => {
    const second = { counters: ctx.counters, trends: ctx.trends };
    ctx.counters = zeroCounters();
    ctx.trends = newTrends();
    addCounters(totals.counters, second.counters);
    for (const n of TRENDS) totals.trends[n].merge(second.trends[n].serialize());
    post({ type: 'second', record: { t: Date.now() - 1000, counters: second.counters, trends: serializeTrends(second.trends), open: openSockets() } });
  };
  const flushTimer = setInterval(flush, 1000);

  for (const g of groups) g.start();
  await sleepUntil(task.schedule.trafficStart);
  let last = Date.now();
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      const now = Date.now();
      if (now >= task.schedule.trafficEnd) {
        clearInterval(t);
        resolve();
        return;
      }
      for (const g of groups) g.tick(now, now - last);
      last = now;
    }, TICK_MS);
  });
  await Promise.all(groups.map((g) => g.settle()));
  clearInterval(flushTimer);
  flush();
  post({ type: 'done', counters: totals.counters, trends: serializeTrends(totals.trends), servers: Object.fromEntries(ctx.servers), undelivered: Object.fromEntries(ctx.undelivered), closes: Object.fromEntries(ctx.closes) });
}

function sleepUntil(t: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, t - Date.now())));
}

process.once('message', (task: WorkerTask) => {
  const hardStop = setTimeout(() => {
    post({ type: 'log', text: 'worker still running 30 s after the grace end: exiting' });
    process.exit(3);
  }, Math.max(0, task.schedule.graceEnd - Date.now()) + 30_000);
  hardStop.unref();
  runTask(task).then(
    () => {
      // Let the last IPC messages go out before exiting.
      process.disconnect();
    },
    (err: unknown) => {
      post({ type: 'log', text: `worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` });
      process.exit(1);
    },
  );
});
process.on('disconnect', () => {
  setTimeout(() => process.exit(0), 100).unref();
});
