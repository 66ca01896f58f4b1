import { pino } from 'pino';
import type { GraphQLFormattedError } from 'graphql';
import type { AuditEventRow } from '../db/schema/audit';
import type { AuditStore } from '../db/audit-store';
import {
  auditFlushIntervalMs,
  auditLogBufferBytesMax,
  auditLogWriteBytesMin,
  auditTextCharsMax,
  auditUnexecutedMoneyActionsMax,
} from '../limits';
import type { AnswerKeys, MoneyAction, RootField } from './root-fields';
import { log } from '@paygraph/shared/log';

/**
 * The audit trail: every mutation and every refused authentication or authorization, one JSON
 * object per line (stdout, or AUDIT_LOG_FILE, written by pino), and for money mutations also one row per money
 * movement asked for in audit_events. What goes in is chosen field by field: never the token,
 * the variables as a whole or an error message (which may quote input), and free text has
 * card-like digit runs masked.
 */
export interface AuditClient {
  ip: string | null;
  userAgent: string | null;
  deviceId: string | null;
  /**
   * The client's name and version (apollographql-client-name/-version, or its manifest's), bounded
   * (client-awareness.ts); absent where no request names one.
   */
  name?: string;
  version?: string;
}

export interface AuditInput {
  requestId: string;
  at: Date;
  principal: { sub: string; role: string } | null;
  /** Why the caller is not authenticated (TokenExpired, ...), when it is not. */
  authFailure: string | null;
  operationType: 'query' | 'mutation' | 'subscription';
  operationName: string | null;
  rootFields: readonly Pick<RootField, 'name' | 'responseKey' | 'answerKeys'>[];
  /** The request's money actions; of one that did not run, only the first auditUnexecutedMoneyActionsMax are built. */
  money: readonly MoneyAction[];
  /** How many money actions the request asked for, built or not (root-fields.ts moneyActionCount). */
  moneyCount: number;
  /**
   * Whether the operation reached a subgraph, so money may have moved: an answer with data, or a call the express lane
   * made before handing the request on (context.ts prefetched), whose answer may then be refused by a check made again.
   */
  ran: boolean;
  httpStatus: number | null;
  data: Record<string, unknown> | null | undefined;
  errors: readonly GraphQLFormattedError[] | undefined;
  client: AuditClient;
}

/** Codes that mean the caller was refused; a request with one is audited even when it only reads. */
export const deniedCodes = ['UNAUTHENTICATED', 'FORBIDDEN'] as const;

export interface AuditRecord {
  type: 'audit';
  at: string;
  requestId: string;
  event: 'mutation' | 'access_denied';
  denied: string[];
  principal: { sub: string; role: string } | null;
  authFailure: string | null;
  operation: { type: string; name: string | null; rootFields: string[] };
  money: Array<{
    field: string;
    index: number | null;
    idempotencyKey: string | null;
    accountId: string | null;
    counterpartyAccountId: string | null;
    paymentId: string | null;
    amount: string | null;
    currency: string | null;
    note: string | null;
    outcome: string;
    errorCodes: string[];
  }>;
  /** Money actions of a request refused before it ran beyond auditUnexecutedMoneyActionsMax: counted, not listed. */
  moneyUnlisted: number;
  outcome: {
    ok: boolean;
    httpStatus: number | null;
    errorCodes: string[];
    results: Record<string, string | Array<string | null> | null>;
  };
  client: AuditClient;
}

/**
 * Digit runs of 12 or more (single spaces or dashes between digits allowed, as card numbers
 * are written) keep their last 4 digits. 12–19 digits is the range of card numbers; longer
 * runs are masked as well, since a card number run together with more digits is still one.
 */
const cardLikeDigits = /(?<![0-9])[0-9](?:[ -]?[0-9]){11,}(?![0-9])/g;

export function maskCardNumbers(text: string): string {
  return text.replace(cardLikeDigits, (run) => {
    const digits = run.replace(/[^0-9]/g, '');
    return `${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
  });
}

/** Free text as it may be audited: masked, then cut to auditTextCharsMax. */
export function auditText(text: string | null): string | null {
  if (text === null) return null;
  return maskCardNumbers(text).slice(0, auditTextCharsMax);
}

/** Whether a request is audited, and the record if so. */
export function auditRecordOf(input: AuditInput): AuditRecord | null {
  const errors = input.errors ?? [];
  const errorCodes = unique(errors.map(codeOf));
  const denied = errorCodes.filter((c) => (deniedCodes as readonly string[]).includes(c));
  const mutation = input.operationType === 'mutation';
  if (!mutation && denied.length === 0) return null;
  // Refused before it ran, nothing moved: its actions are listed up to a bound.
  const listed = input.ran ? input.money : input.money.slice(0, auditUnexecutedMoneyActionsMax);
  const results: AuditRecord['outcome']['results'] = {};
  for (const field of input.rootFields) {
    const value = input.data?.[field.responseKey];
    results[field.responseKey] = Array.isArray(value)
      ? value.map((item) => typenameOf(item, field.answerKeys))
      : typenameOf(value, field.answerKeys);
  }
  return {
    type: 'audit',
    at: input.at.toISOString(),
    requestId: input.requestId,
    event: mutation ? 'mutation' : 'access_denied',
    denied,
    principal: input.principal,
    authFailure: input.authFailure,
    operation: {
      type: input.operationType,
      name: auditText(input.operationName),
      rootFields: input.rootFields.map((f) => f.name),
    },
    money: listed.map((action) => {
      const result = resultOf(action, input.data);
      const outcome = actionOutcome(action, result, errors);
      return {
        field: action.field,
        index: action.index,
        idempotencyKey: action.idempotencyKey,
        accountId: action.accountId,
        counterpartyAccountId: action.counterpartyAccountId,
        paymentId: action.paymentId ?? madeIdOf(action, result),
        amount: action.amount,
        currency: action.currency,
        note: auditText(action.note),
        ...outcome,
      };
    }),
    moneyUnlisted: input.moneyCount - listed.length,
    outcome: {
      ok: errors.length === 0 && (input.httpStatus ?? 200) < 400,
      httpStatus: input.httpStatus,
      errorCodes,
      results,
    },
    client: {
      ip: input.client.ip,
      userAgent: auditText(input.client.userAgent),
      deviceId: auditText(input.client.deviceId),
      ...(input.client.name === undefined
        ? {}
        : { name: input.client.name, version: input.client.version ?? 'unknown' }),
    },
  };
}

/** The audit_events rows of a record: one per money action. */
export function auditRowsOf(record: AuditRecord): AuditEventRow[] {
  const at = new Date(record.at);
  return record.money.map((action) => ({
    occurredAt: at,
    requestId: record.requestId,
    principalSub: record.principal?.sub.slice(0, 128) ?? null,
    principalRole: record.principal?.role ?? null,
    operationName: record.operation.name?.slice(0, 128) ?? null,
    action: action.field,
    itemIndex: action.index ?? 0,
    idempotencyKey: action.idempotencyKey?.slice(0, 128) ?? null,
    accountId: action.accountId?.slice(0, 64) ?? null,
    counterpartyAccountId: action.counterpartyAccountId?.slice(0, 64) ?? null,
    paymentId: action.paymentId?.slice(0, 64) ?? null,
    amount: action.amount?.slice(0, 40) ?? null,
    currency: action.currency?.slice(0, 8) ?? null,
    note: action.note,
    outcome: action.outcome.slice(0, 64),
    errorCodes: action.errorCodes.length > 0 ? action.errorCodes.join(',').slice(0, 255) : null,
    clientIp: record.client.ip?.slice(0, 64) ?? null,
    userAgent: record.client.userAgent?.slice(0, 256) ?? null,
    deviceId: record.client.deviceId?.slice(0, 128) ?? null,
  }));
}

/** A money action's own result in the answer: its root field's value, or its input's item of createPayments'. */
function resultOf(action: MoneyAction, data: Record<string, unknown> | null | undefined): unknown {
  const field = data?.[action.responseKey];
  return action.index === null ? field : Array.isArray(field) ? field[action.index] : undefined;
}

/** The type a money mutation's answer names for what it made, where it makes one that later requests name by id. */
const madeTypes: Partial<Record<MoneyAction['field'], string>> = {
  createPayment: 'Payment',
  createPayments: 'Payment',
  createHold: 'Hold',
};

/**
 * The payment or hold a money action made, when its answer names it (the client selected __typename and id): the id
 * a refund, a capture or a void names later, so that an operator finds the request that made it. Null for any other
 * answer.
 */
function madeIdOf(action: MoneyAction, value: unknown): string | null {
  const made = madeTypes[action.field];
  if (made === undefined || !action.answerKeys.id || typenameOf(value, action.answerKeys) !== made) return null;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' ? id : null;
}

/**
 * One action's outcome: its result's type when the client selected __typename, else the first
 * error that concerns it (its own path, or the request as a whole), else NO_RESULT, or
 * TYPE_NOT_SELECTED: every money field answers a union, and without __typename a refusal
 * (InsufficientFunds) reads like a success, so no outcome is guessed ("ok" was, for both).
 */
function actionOutcome(
  action: MoneyAction,
  value: unknown,
  errors: readonly GraphQLFormattedError[],
): { outcome: string; errorCodes: string[] } {
  const own = errors.filter((e) => {
    const path = e.path ?? [];
    if (path.length === 0) return true;
    if (path[0] !== action.responseKey) return false;
    return action.index === null || path.length === 1 || path[1] === action.index;
  });
  const errorCodes = unique(own.map(codeOf));
  const typename = typenameOf(value, action.answerKeys);
  if (typename) return { outcome: typename, errorCodes };
  if (errorCodes.length > 0) return { outcome: errorCodes[0]!, errorCodes };
  return { outcome: value === null || value === undefined ? 'NO_RESULT' : 'TYPE_NOT_SELECTED', errorCodes };
}

/** A result's type, when the client selected __typename itself (not another field under that name). */
function typenameOf(value: unknown, keys: AnswerKeys): string | null {
  if (!keys.typename || typeof value !== 'object' || value === null || !('__typename' in value)) return null;
  const name = (value as { __typename: unknown }).__typename;
  return typeof name === 'string' ? name : null;
}

function codeOf(error: GraphQLFormattedError): string {
  const code = error.extensions?.code;
  return typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR';
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Where audit lines go: stdout, or appended to a file. */
export interface AuditLog {
  write(record: AuditRecord): void;
  /** Lines dropped because the destination could not keep up or failed. */
  dropped(): number;
  close(): Promise<void>;
}

/**
 * pino's destination (sonic-boom) over stdout or the file, appended: lines
 * are buffered and written asynchronously, so no request waits for a write (a write per request was
 * 7% of the gateway's CPU, docs/PERFORMANCE.md), and gathered until auditLogWriteBytesMin bytes or
 * auditFlushIntervalMs, whichever comes first (a write per line, as the previous one ended, was
 * still 4% on payments): a line reaches the file within that interval, as the audit rows reach the
 * database, and close() writes every pending line. A line is the record's JSON as it is, without a log
 * level or time of pino's (the record has its own `at`). A destination that does not keep up holds at most
 * auditLogBufferBytesMax bytes; past it lines are dropped and counted.
 */
export function createAuditLog(file: string | null, bufferBytesMax: number = auditLogBufferBytesMax): AuditLog {
  let failed = false;
  let dropped = 0;
  const destination = pino.destination({
    dest: file ?? 1,
    sync: false,
    append: true,
    maxLength: bufferBytesMax,
    // eslint-disable-next-line @typescript-eslint/naming-convention -- sonic-boom's option, not ours to name
    minLength: auditLogWriteBytesMin,
    periodicFlush: auditFlushIntervalMs,
  });
  destination.on('drop', () => {
    dropped += 1;
  });
  destination.on('error', (error: Error) => {
    if (!failed)
      log().error(
        { detail: error.message },
        `audit: the audit log ${file ?? 'stdout'} failed; lines are dropped from now on`,
      );
    failed = true;
  });
  let closed = false;
  return {
    write(record) {
      if (failed || closed) {
        dropped += 1;
        return;
      }
      destination.write(`${JSON.stringify(record)}\n`);
    },
    dropped: () => dropped,
    async close() {
      if (failed || closed) return;
      closed = true;
      // Everything buffered goes out before the stream ends. Ending stops its periodic flush; sonic-boom never closes
      // stdout's descriptor.
      await new Promise<void>((resolve) => destination.flush(() => resolve()));
      await new Promise<void>((resolve) => {
        destination.once('close', resolve);
        destination.end();
      });
    },
  };
}

/** The audit trail's two destinations, fed one record per audited request. */
export interface Auditor {
  record(input: AuditInput): AuditRecord | null;
  log: AuditLog;
  store: AuditStore | null;
  close(): Promise<void>;
}

export function createAuditor(log: AuditLog, store: AuditStore | null): Auditor {
  return {
    log,
    store,
    record(input) {
      const record = auditRecordOf(input);
      if (!record) return null;
      log.write(record);
      if (store && record.money.length > 0) store.enqueue(auditRowsOf(record));
      return record;
    },
    async close() {
      await store?.close();
      await log.close();
    },
  };
}
