import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { requestIdCharsMax } from './limits';

/**
 * JSON log lines (pino) on stdout, one logger per process. A request's lines go through a child
 * logger carrying its id (requestLog), made by the HTTP server and carried in the request's
 * context (`ctx.log`), and handed by argument to whatever logs on the request's behalf below
 * its resolvers. log() answers the process's logger, for what no request asked for (timers,
 * the relay, start-up, the state of a shard's breaker).
 *
 * The request's logger travelled in an AsyncLocalStorage before: while one exists, Node tracks
 * it across every promise, which was 3.0% of the gateway's busy time (plus the garbage) and 2.1%
 * of the transaction subgraph's (docs/PERFORMANCE.md, "Issue 14").
 */
export type { Logger };

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

let root: Logger = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });

/** Set once by main.ts: which service writes the lines, and from which level on. */
export function configureLogging(options: { service: string; level: LogLevel }): void {
  root = pino({
    base: { pid: process.pid, service: options.service },
    level: options.level,
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/** The process's logger: lines that belong to no request. */
export function log(): Logger {
  return root;
}

/** A request's logger: every line it writes names the request's id. */
export function requestLog(requestId: string): Logger {
  return root.child({ requestId });
}

/** The header a request id travels in: from the client, to every subgraph call, back in the response. */
export const requestIdHeader = 'x-request-id';
/** Letters, digits and . _ : - only: the id goes into log lines, headers and SQL rows as it came. */
const safeRequestId = new RegExp(`^[A-Za-z0-9._:-]{1,${requestIdCharsMax}}$`);

/** The client's id when it is short and safe; a fresh UUID otherwise (absent, too long, odd characters). */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && safeRequestId.test(header) ? header : randomUUID();
}
