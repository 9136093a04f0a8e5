// Structured logs (pino) on stderr, so stdout carries only command output. Credentials are
// redacted by path, and every line is cleaned of the secret values alive in the process (a message
// quoting a backend's answer), as lines of defence behind the first: secrets are never logged.
import { pino, type Logger } from 'pino';
import { redactSecrets } from './model/sensitive.ts';

export type { Logger };

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.password',
  'req.headers.authorization',
];

export function createLogger(level: string = process.env.MAILOPS_LOG_LEVEL ?? 'warn'): Logger {
  return pino(
    {
      name: 'mailops',
      level,
      redact: { paths: REDACTED_PATHS, censor: '(sensitive)' },
      hooks: { streamWrite: redactSecrets },
      base: undefined,
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

/** A logger that drops everything: the library default when the caller passes none. */
export const silentLogger: Logger = pino({ level: 'silent' });
