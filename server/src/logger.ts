import { pino, type Logger } from 'pino';

/**
 * JSON logs with the server id on every line. Tokens and message bodies never reach a log:
 * callers log ids and sizes only, and the paths below are redacted as a second line of defence.
 */
export function createLogger(serverId: string, level: string): Logger {
  return pino({
    level,
    base: { server: serverId },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: ['token', 'authorization', 'data', '*.token', '*.authorization', '*.data', 'req.headers.authorization'], censor: '[redacted]' },
  });
}

export type { Logger };
