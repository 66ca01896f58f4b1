import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';

/**
 * JSON log lines (pino) on stdout, one logger per process. While a request is being served,
 * log() answers a child logger carrying that request's id, so that every line written on its
 * behalf, however deep in the stack, names it; outside a request (timers, the relay, start-up)
 * it answers the process's logger.
 */
export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

let root: Logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
const perRequest = new AsyncLocalStorage<Logger>();

/** Set once by main.ts: which service writes the lines, and from which level on. */
export function configureLogging(options: { service: string; level: LogLevel }): void {
  root = pino({ base: { pid: process.pid, service: options.service }, level: options.level, timestamp: pino.stdTimeFunctions.isoTime });
}

/** The current request's logger, or the process's. */
export function log(): Logger {
  return perRequest.getStore() ?? root;
}

/** Runs `work` with a child logger for the request: log() inside it (and in whatever it awaits) answers that child. */
export function withRequestLog<T>(requestId: string, work: () => T): T {
  return perRequest.run(root.child({ requestId }), work);
}

/** The header a request id travels in: from the client, to every subgraph call, back in the response. */
export const requestIdHeader = 'x-request-id';
/** Long enough for a UUID or a trace id with a prefix; the audit_events column holds this many. */
export const requestIdCharsMax = 64;
/** Letters, digits and . _ : - only: the id goes into log lines, headers and SQL rows as it came. */
const safeRequestId = new RegExp(`^[A-Za-z0-9._:-]{1,${requestIdCharsMax}}$`);

/** The client's id when it is short and safe; a fresh UUID otherwise (absent, too long, odd characters). */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && safeRequestId.test(header) ? header : randomUUID();
}

/** LOG_LEVEL's value, checked: a level pino knows, info when unset. */
export function parseLogLevel(value: string | undefined): LogLevel {
  if (value === undefined || value === '') return 'info';
  if (!(logLevels as readonly string[]).includes(value)) throw new Error(`LOG_LEVEL must be one of ${logLevels.join(', ')}; got ${JSON.stringify(value)}`);
  return value as LogLevel;
}
