/**
 * ws-fleet's client library: one reconnecting, resuming connection to a ws-fleet deployment,
 * for browsers (the platform WebSocket, no dependencies) and Node ≥ 20 (pass `ws`'s WebSocket).
 *
 * @example
 * const client = new FleetClient({ url: 'wss://chat.example/ws', token: () => fetchToken() });
 * client.on('message', (m) => { console.log(m.from, m.data); });
 * await client.connect();
 * await client.send('bob', { text: 'hi' });
 */
export { FleetClient, checkRoom } from './client.js';
export type { ConnectAttempt, ConnectionState, Disconnect, FleetClientOptions, FleetEvents, FleetMessage, RequestOptions, RoomTokenSource, TokenSource } from './client.js';
export type { Ack, Welcome } from './frames.js';
export type { ReplayReport } from './replay-tracker.js';
export type { PositionsSnapshot } from './positions.js';
export type { BackoffOptions } from './backoff.js';
export type { WebSocketConstructorLike, WebSocketLike, TokenPlacement } from './transport.js';
export { SUBPROTOCOL } from './transport.js';
export {
  AuthError, ClientErrorCode, ClosedError, FleetError, QueueFullError, ServerError, ServerErrorCode, TimeoutError,
  type FleetErrorCode,
} from './errors.js';
