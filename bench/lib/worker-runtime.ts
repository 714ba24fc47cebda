/** The worker side of bench/lib/ipc.ts: serves typed commands, emits events, exits with its parent. */
import { isRequest, type ResponseMessage, type WorkerApi } from './ipc.js';

export type Handlers<A extends WorkerApi> = { [K in keyof A]: (req: A[K]['req']) => Promise<A[K]['res']> };

export function serveWorker<A extends WorkerApi>(handlers: Handlers<A>): void {
  if (process.send === undefined) throw new Error('a bench worker must be started with an IPC channel');
  process.on('message', (m: unknown) => {
    if (!isRequest(m)) return;
    const handler = (handlers as Record<string, ((req: unknown) => Promise<unknown>) | undefined>)[m.cmd];
    const reply = (r: ResponseMessage): void => { process.send?.(r); };
    if (handler === undefined) {
      reply({ id: m.id, ok: false, error: `unknown command ${m.cmd}` });
      return;
    }
    handler(m.req).then(
      (res) => { reply({ id: m.id, ok: true, res }); },
      (err: unknown) => { reply({ id: m.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }); },
    );
  });
  // The bench went away (finished, crashed or was interrupted): so does the worker.
  process.on('disconnect', () => { process.exit(0); });
}

/** Sends an event to the bench (progress reports). */
export function emit(event: unknown): void {
  process.send?.({ event });
}
