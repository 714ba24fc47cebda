/**
 * The server's close reasons. The close codes themselves are part of the wire protocol, shared with the
 * client library: protocol/codes.ts.
 */
export { CloseCode } from '../../protocol/codes.js';

/** The reason text sent with each of our own closes (at most 123 bytes by RFC 6455). */
export const CloseReason = {
  tokenExpired: 'token expired',
  forbidden: 'forbidden',
  tooManyConnections: 'too many connections for this user',
  slowConsumer: 'slow consumer: reconnect and resume',
  tooFarBehind: 'too far behind: reconnect and resume',
  historyUnavailable: 'history unavailable: reconnect and resume',
  bufferBudget: 'replica send budget exceeded: reconnect and resume',
  rateLimit: 'rate limit exceeded',
  binary: 'binary frames are not supported',
  restart: 'service restart: reconnect',
  notReady: 'not ready',
} as const;
