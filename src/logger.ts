import { pino, type Logger } from 'pino';
import { redactDeep, type Redactor } from './redact.js';

/**
 * Structured JSON logs with every line passed through the redactor, so a secret that slips
 * into a message, an error or a field never reaches the log.
 */
export function createLogger(
  redact: Redactor,
  options: { level?: string; write?: (line: string) => void } = {},
): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: { name: 'healbot' },
      formatters: { log: (fields) => redactDeep(fields, redact) },
    },
    { write: (line: string) => write(redact(line)) },
  );
}

export type { Logger };
