import { createHash } from 'node:crypto';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { isChannel } from '@paygraph/shared/channels';
import { err, ok, type Result } from '@paygraph/shared/result';
import { replaceBankStatements } from '../db/reconciliation-store';
import { parseBankStatements, type StatementFormat } from '../domain/statement-formats';
import type { StatementError } from '../domain/bank-statement';
import { controlShard } from './settle';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { SettlementContext } from '../context';
import { mayOperate } from './access';
import { statementInsertBatchMax } from '../limits';

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

/**
 * Reads the whole file before writing anything: a file that is not its format, a statement that
 * does not add up or a file over the limits imports nothing. Its statements then replace, in one
 * transaction, the channel's earlier statements of the dates it covers (all currencies).
 */
export async function importBankStatement(
  shards: ShardSet,
  input: { channel: string; format: StatementFormat; content: string },
  importedBy: string,
  now: Date,
): Promise<Result<{ channel: string; statements: ImportedStatement[] }, BankImportRefusal>> {
  if (!isChannel(input.channel))
    return err({
      kind: 'InvalidInput',
      field: 'channel',
      message: 'channel must be 1-64 characters of [A-Za-z0-9_.-]',
    });
  const parsed = parseBankStatements(input.format, input.content);
  if (!parsed.ok) return err({ kind: 'InvalidStatement', ...parsed.error });
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

/** Mutation.importBankStatement: operators only (services/access.ts), asked before the file is read. */
export async function importBankStatementFor(
  ctx: SettlementContext,
  input: Parameters<typeof importBankStatement>[1],
): Promise<Result<{ channel: string; statements: ImportedStatement[] }, BankImportRefusal | Forbidden>> {
  const refused = mayOperate(ctx.identity, 'import statements');
  if (refused) return err(refused);
  return importBankStatement(ctx.shards, input, ctx.identity.sub, ctx.now());
}
