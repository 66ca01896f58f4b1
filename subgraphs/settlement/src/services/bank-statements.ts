import { createHash } from 'node:crypto';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { isChannel } from '@paygraph/shared/channels';
import { statementLinesMax } from '@paygraph/shared/limits';
import { err, ok, type Result } from '@paygraph/shared/result';
import type { Forbidden } from '@paygraph/shared/authorization';
import { lockStatementChannels, replaceBankStatements } from '../db/reconciliation-store';
import { channelAccountsOf, channelHasAccounts, registeredChannelsOf } from '../db/channel-account-store';
import { parseBankStatements, type StatementFormat } from '../domain/statement-formats';
import { withinSize, type BankStatement, type StatementError } from '../domain/bank-statement';
import { accountKey, routeStatements, type Routed } from '../domain/channel-accounts';
import type { StatementSource } from '../domain/statement-source';
import type { SettlementContext } from '../context';
import { controlShard } from './settle';
import { statementInsertBatchMax, uploadEntriesMax } from '../limits';
import { mayOperate } from './access';
import { readUpload, UploadGone } from './statement-uploads';
import { UploadNotUtf8 } from '../domain/upload-text';

export type BankImportRefusal =
  { kind: 'InvalidInput'; field: string; message: string } | ({ kind: 'InvalidStatement' } & StatementError);

export interface BankImportInput {
  /** Absent: each statement goes to its account's channel. */
  channel?: string | null;
  format: StatementFormat;
  /** Exactly one of the two: the file's text, or an upload's id (POST /uploads/statements). */
  content?: string | null;
  uploadId?: string | null;
}

export interface ImportedStatement {
  channel: string;
  accountIdentification: string | null;
  businessDate: string;
  currency: string | null;
  openingBalance: bigint | null;
  closingBalance: bigint | null;
  lines: number;
}

export interface StatementImport {
  /** The channel every statement went to; null when they went to several. */
  channel: string | null;
  statements: ImportedStatement[];
}

/**
 * A statement's id names its channel, span and currency (so a re-import finds it), and its account when the channel
 * has accounts registered; 40 characters. A statement opening on its closing date keeps the id it had before spans were
 * kept (the rows stored then are dated so): the order runs read statements in (their ids) stays as it was. One of
 * several days adds its opening date after a space, which no channel, date, currency or account holds, so its id is
 * never a one-day statement's: the day's statement and the month's closing that day are two rows.
 */
export function bankStatementId(
  channel: string,
  businessDate: string,
  currency: string | null,
  account = '',
  openingDate = businessDate,
): string {
  const opening = openingDate === businessDate ? '' : ` from ${openingDate}`;
  const key = `${channel}|${businessDate}|${currency ?? ''}${account === '' ? '' : `|${account}`}${opening}`;
  return `stm_${createHash('sha256').update(key).digest('hex').slice(0, 36)}`;
}

/**
 * Reads the whole file before writing anything: a file that is not its format, a statement that
 * does not add up, a file over the limits or one statement whose account goes to no channel
 * imports nothing. Its statements then replace, in one transaction (whatever accounts and
 * channels they are of), the earlier statements of their channel, account and spans.
 */
export async function importBankStatement(
  shards: ShardSet,
  input: BankImportInput,
  importedBy: string,
  now: Date,
): Promise<Result<StatementImport, BankImportRefusal>> {
  const channel = input.channel ?? null;
  if (channel !== null && !isChannel(channel))
    return invalidInput('channel', 'channel must be 1-64 characters of [A-Za-z0-9_.-]');
  if (channel === null && input.format === 'CSV')
    return invalidInput('channel', 'a CSV statement names no account: send the channel it is of');
  const source = await sourceOf(shards, input, importedBy, now);
  if (!source.ok) return source;
  const parsed = await parsedOf(input.format, source.value);
  if (!parsed.ok) return parsed;
  const routed = await inTransaction(controlShard(shards), async (tx) => {
    // The channel's turn before its registrations are read, as a registration takes it before it counts and inserts:
    // whether the channel has accounts is a range read FOR UPDATE, which locks nothing under read committed where none
    // is, so a registration committed meanwhile and the import went on as the channel of no account.
    const keys = [...new Set(parsed.value.flatMap((s) => (s.account === null ? [] : [accountKey(s.account)])))];
    // Of no channel: the channels its accounts are registered to, first, so that it too takes channels before
    // accounts. Locking the accounts first, it waited in a circle with an import to one of those channels (which
    // holds the channel and reads its accounts) or a registration to it (a deadlock, retried a few times at most).
    // An account moved to another channel between the two reads is found by the locking read, and its channel locked
    // after (replaceBankStatements): the old order, for that rare case alone.
    await lockStatementChannels(tx, channel !== null ? [channel] : await registeredChannelsOf(tx, keys));
    const registered = new Map((await channelAccountsOf(tx, keys)).map((r) => [r.accountIdentification, r]));
    const registrations = new Map(
      [...registered].map(([key, r]) => [key, { accountKey: key, channel: r.channel, currency: r.currency }]),
    );
    const hasAccounts = channel !== null && (await channelHasAccounts(tx, channel));
    const where = routeStatements(parsed.value, channel, registrations, hasAccounts);
    if (!where.ok) return where;
    await replaceBankStatements(tx, rowsOf(where.value, input.format, importedBy, now), statementInsertBatchMax);
    return where;
  });
  if (!routed.ok) return err({ kind: 'InvalidStatement', ...routed.error });
  const channels = new Set(routed.value.map((r) => r.channel));
  return ok({
    channel: channel ?? (channels.size === 1 ? [...channels][0]! : null),
    statements: routed.value.map(({ channel: to, statement: s }) => ({
      channel: to,
      accountIdentification: s.account,
      businessDate: s.businessDate,
      currency: s.currency,
      openingBalance: s.openingBalance,
      closingBalance: s.closingBalance,
      lines: s.entries,
    })),
  });
}

/**
 * The file's statements. An upload is read piece by piece as the parser asks (services/statement-uploads.ts): bytes
 * that are not UTF-8, or pieces purged meanwhile (the upload expired), end the read with a refusal.
 */
async function parsedOf(
  format: StatementFormat,
  source: { text: StatementSource; entriesMax: number },
): Promise<Result<BankStatement[], BankImportRefusal>> {
  try {
    const parsed = await parseBankStatements(format, source.text, source.entriesMax);
    return parsed.ok ? parsed : err({ kind: 'InvalidStatement', ...parsed.error });
  } catch (error) {
    if (error instanceof UploadNotUtf8) return err({ kind: 'InvalidStatement', line: 0, message: error.message });
    if (error instanceof UploadGone) return invalidInput('uploadId', error.message);
    throw error;
  }
}

function invalidInput(field: string, message: string): Result<never, BankImportRefusal> {
  return err({ kind: 'InvalidInput', field, message });
}

/** The file: `content` (within statementBytesMax, as a request carries it) or an upload; exactly one. */
async function sourceOf(
  shards: ShardSet,
  input: BankImportInput,
  operator: string,
  now: Date,
): Promise<Result<{ text: StatementSource; entriesMax: number }, BankImportRefusal>> {
  const content = input.content ?? null;
  const uploadId = input.uploadId ?? null;
  if ((content === null) === (uploadId === null))
    return invalidInput(
      content === null ? 'content' : 'uploadId',
      'send exactly one of content (the file) and uploadId (a file sent to POST /uploads/statements)',
    );
  if (content !== null) {
    const size = withinSize(content);
    if (!size.ok) return err({ kind: 'InvalidStatement', ...size.error });
    return ok({ text: content, entriesMax: statementLinesMax });
  }
  const upload = await readUpload(shards, uploadId!, operator, now);
  if (!upload.ok) return invalidInput(upload.error.field, upload.error.message);
  return ok({ text: upload.value.pieces, entriesMax: uploadEntriesMax });
}

function rowsOf(routed: readonly Routed[], format: StatementFormat, importedBy: string, now: Date) {
  return routed.map(
    ({ channel, account, statement: s }: { channel: string; account: string; statement: BankStatement }) => ({
      statement: {
        id: bankStatementId(channel, s.businessDate, s.currency, account, s.openingDate),
        channel,
        account,
        namedAccount: s.account === null ? '' : accountKey(s.account),
        businessDate: s.businessDate,
        openingDate: s.openingDate,
        spanKnown: true,
        format,
        currency: s.currency,
        openingBalance: s.openingBalance,
        closingBalance: s.closingBalance,
        lineCount: s.entries,
        importedBy,
        createdAt: now,
      },
      lines: s.lines,
    }),
  );
}

/** Mutation.importBankStatement: operators only (services/access.ts), asked before the file is read. */
export async function importBankStatementFor(
  ctx: SettlementContext,
  input: BankImportInput,
): Promise<Result<StatementImport, BankImportRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'import statements');
  if (refused) return err(refused);
  return importBankStatement(ctx.shards, input, ctx.identity.sub, ctx.now());
}
