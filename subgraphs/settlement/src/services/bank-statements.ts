import { createHash } from 'node:crypto';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { isChannel } from '@paygraph/shared/channels';
import { err, ok, type Result } from '@paygraph/shared/result';
import { replaceBankStatements } from '../db/reconciliation-store';
import { parseBankStatements, type StatementFormat } from '../domain/statement-formats';
import type { BankStatement, StatementError } from '../domain/bank-statement';
import { UploadNotUtf8 } from '../domain/upload-text';
import { uploadBytesMax, uploadEntriesMax } from '../limits';
import { readUpload, UploadGone, type UploadedText } from './statement-uploads';
import { controlShard } from './settle';
import { statementInsertBatchMax } from './statements';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { SettlementContext } from '../context';
import { mayOperate } from './access';

export type BankImportRefusal =
  { kind: 'InvalidInput'; field: string; message: string } | ({ kind: 'InvalidStatement' } & StatementError);

export interface ImportedStatement {
  businessDate: string;
  currency: string | null;
  openingBalance: bigint | null;
  closingBalance: bigint | null;
  lines: number;
}

/** A statement's id names its channel, date and currency (so a re-import finds it); 40 characters. */
export function bankStatementId(channel: string, businessDate: string, currency: string | null): string {
  return `stm_${createHash('sha256')
    .update(`${channel}|${businessDate}|${currency ?? ''}`)
    .digest('hex')
    .slice(0, 36)}`;
}

/** A file's text: sent inline in the request, or an upload's (read piece by piece: services/statement-uploads.ts). */
export type StatementText = string | UploadedText;

/**
 * Reads the whole file before writing anything: a file that is not its format, a statement that
 * does not add up or a file over the limits imports nothing. Its statements then replace, in one
 * transaction, the channel's earlier statements of the dates it covers (all currencies).
 */
export async function importBankStatement(
  shards: ShardSet,
  input: { channel: string; format: StatementFormat; content: StatementText },
  importedBy: string,
  now: Date,
): Promise<Result<{ channel: string; statements: ImportedStatement[] }, BankImportRefusal>> {
  if (!isChannel(input.channel))
    return err({
      kind: 'InvalidInput',
      field: 'channel',
      message: 'channel must be 1-64 characters of [A-Za-z0-9_.-]',
    });
  const parsed = await parseText(input.format, input.content);
  if (!parsed.ok) return err(parsed.error);
  const imported = parsed.value.map((s) => ({
    statement: {
      id: bankStatementId(input.channel, s.businessDate, s.currency),
      channel: input.channel,
      businessDate: s.businessDate,
      format: input.format,
      currency: s.currency,
      openingBalance: s.openingBalance,
      closingBalance: s.closingBalance,
      lineCount: s.lines.length,
      importedBy,
      createdAt: now,
    },
    lines: s.lines,
  }));
  await inTransaction(controlShard(shards), (tx) =>
    replaceBankStatements(tx, input.channel, imported, statementInsertBatchMax),
  );
  return ok({
    channel: input.channel,
    statements: parsed.value.map((s) => ({
      businessDate: s.businessDate,
      currency: s.currency,
      openingBalance: s.openingBalance,
      closingBalance: s.closingBalance,
      lines: s.lines.length,
    })),
  });
}

/**
 * The file's statements, each format against its limits: inline text against the request's (statementBytesMax), an
 * upload against the uploads' (uploadBytesMax, uploadEntriesMax).
 */
async function parseText(
  format: StatementFormat,
  content: StatementText,
): Promise<Result<BankStatement[], BankImportRefusal>> {
  if (typeof content === 'string') return refusedAs(parseBankStatements(format, content));
  let text: string;
  try {
    // MERGE: the streaming parseBankStatements takes content.pieces (AsyncIterable<string>) as they come. Until it is
    // merged they are joined here, which holds the whole file, and then its parse, in memory (docs/PERFORMANCE.md).
    text = await joined(content.pieces);
  } catch (error) {
    if (error instanceof UploadNotUtf8) return err({ kind: 'InvalidStatement', line: 0, message: error.message });
    if (error instanceof UploadGone) return err({ kind: 'InvalidInput', field: 'uploadId', message: error.message });
    throw error;
  }
  return refusedAs(parseBankStatements(format, text, { bytesMax: uploadBytesMax, linesMax: uploadEntriesMax }));
}

async function joined(pieces: AsyncIterable<string>): Promise<string> {
  const parts: string[] = [];
  for await (const piece of pieces) parts.push(piece);
  return parts.join('');
}

function refusedAs(parsed: Result<BankStatement[], StatementError>): Result<BankStatement[], BankImportRefusal> {
  return parsed.ok ? parsed : err({ kind: 'InvalidStatement', ...parsed.error });
}

/** What importBankStatement is asked: the file inline (content) or uploaded (uploadId), exactly one of them. */
export interface BankImportInput {
  channel: string;
  format: StatementFormat;
  content?: string | null;
  uploadId?: string | null;
}

/**
 * Mutation.importBankStatement: operators only (services/access.ts), asked before the file is read; then the file,
 * sent inline or uploaded before (the caller's own upload, within its hour).
 */
export async function importBankStatementFor(
  ctx: SettlementContext,
  input: BankImportInput,
): Promise<Result<{ channel: string; statements: ImportedStatement[] }, BankImportRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'import statements');
  if (refused) return err(refused);
  const content = await textOf(ctx, input);
  if (!content.ok) return content;
  const { channel, format } = input;
  return importBankStatement(ctx.shards, { channel, format, content: content.value }, ctx.identity.sub, ctx.now());
}

async function textOf(
  ctx: SettlementContext,
  input: BankImportInput,
): Promise<Result<StatementText, BankImportRefusal>> {
  const content = input.content ?? null;
  const uploadId = input.uploadId ?? null;
  if (content !== null && uploadId === null) return ok(content);
  if (uploadId !== null && content === null) return readUpload(ctx.shards, uploadId, ctx.identity.sub, ctx.now());
  return err({
    kind: 'InvalidInput',
    field: content === null ? 'content' : 'uploadId',
    message: 'send exactly one of content (the file) and uploadId (a file sent to POST /uploads/statements)',
  });
}
