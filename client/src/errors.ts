/**
 * Typed errors. Every error the client reports is a FleetError with a `code`: one of the server's
 * protocol error codes, or one of the client's own ('auth', 'timeout', 'closed', 'queue_full',
 * 'protocol'). Subclasses exist for the ones a caller usually branches on, so both
 * `err instanceof TimeoutError` and `err.code === 'timeout'` work.
 */

import { ErrorCode } from '../../protocol/codes.js';

/** Error codes the server sends in `{"type":"error","code":…}` frames: the wire protocol's own list (protocol/codes.ts). */
export const ServerErrorCode = ErrorCode;
export type ServerErrorCode = ErrorCode;

/** Codes the client itself produces. */
export const ClientErrorCode = {
  /** The server refused the credentials (HTTP 401 on upgrade, close 4001/4003, a failed token provider). */
  auth: 'auth',
  /** No ack within the timeout after every retry. */
  timeout: 'timeout',
  /** The client was closed (or closed itself after an auth refusal) before the operation finished. */
  closed: 'closed',
  /** The bounded outbound queue is full. */
  queueFull: 'queue_full',
  /** The server sent something this client cannot read (not JSON, not an object). */
  protocol: 'protocol',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A code from the server that this client version does not know yet still arrives as a string. */
export type FleetErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

export class FleetError extends Error {
  override readonly name: string = 'FleetError';
  constructor(readonly code: FleetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }

  /** True when the error is one of the client's own codes or a server code equal to `code`. */
  is(code: FleetErrorCode): boolean {
    return this.code === code;
  }
}

export class AuthError extends FleetError {
  override readonly name = 'AuthError';
  constructor(message: string, readonly detail?: { status?: number; closeCode?: number; reason?: string }, options?: { cause?: unknown }) {
    super(ClientErrorCode.auth, message, options);
  }
}

export class TimeoutError extends FleetError {
  override readonly name = 'TimeoutError';
  constructor(message: string, readonly attempts: number) {
    super(ClientErrorCode.timeout, message);
  }
}

export class ClosedError extends FleetError {
  override readonly name = 'ClosedError';
  constructor(message = 'the client is closed') {
    super(ClientErrorCode.closed, message);
  }
}

export class QueueFullError extends FleetError {
  override readonly name = 'QueueFullError';
  constructor(readonly limit: number) {
    super(ClientErrorCode.queueFull, `outbound queue is full (${limit} pending operations)`);
  }
}

/** An error frame from the server, for a request (`id`) or for the connection. */
export class ServerError extends FleetError {
  override readonly name = 'ServerError';
  constructor(code: string, message: string, readonly id?: string | number, readonly delivered?: number) {
    super(code, message);
  }
}
