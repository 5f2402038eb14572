import pino, { type Logger } from 'pino';

/** Paths never written to logs: credentials and prompt text. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'headers.authorization',
  '*.api_key',
  '*.secret_access_key',
  '*.session_token',
  '*.token',
  '*.password',
  'body',
  'input',
  'messages',
];

export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
