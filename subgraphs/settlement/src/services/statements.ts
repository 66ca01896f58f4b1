import { createHash } from 'node:crypto';
import type { Forbidden } from '@paygraph/shared/authorization';
import type { ShardSet } from '@paygraph/shared/shards/pool';
import { inTransaction } from '@paygraph/shared/shards/transaction';
import { err, ok, type Result } from '@paygraph/shared/result';
import { replaceStatement } from '../db/settlement-store';
import { lockStatementChannels } from '../db/reconciliation-store';
import { parseStatementCsv, type StatementError } from '../domain/statement-csv';
import type { SettlementContext } from '../context';
import { controlShard } from './settle';
import { mayOperate } from './access';
import { statementIdCharsMax, statementInsertBatchMax } from '../limits';
import { isChannel } from '@paygraph/shared/channels';
import { statementDateMax } from '@paygraph/shared/limits';

export type ImportRefusal =
  { kind: 'InvalidInput'; field: string; message: string } | ({ kind: 'InvalidStatement' } & StatementError);

/** Mutation.importStatement: operators only, the statement kept under their name. */
export async function importStatementFor(
  ctx: SettlementContext,
  input: { channel: string; businessDate: string; csv: string },
): Promise<
  Result<{ id: string; channel: string; businessDate: string; lineCount: number }, ImportRefusal | Forbidden>
> {
  const refused = mayOperate(ctx.identity, 'import statements');
  if (refused) return err(refused);
  return importStatement(ctx.shards, input, ctx.identity.sub, ctx.now());
}

/** Parses the whole CSV first: a bad line imports nothing. A re-import replaces the earlier statement. */
export async function importStatement(
  shards: ShardSet,
  input: { channel: string; businessDate: string; csv: string },
  importedBy: string,
  now: Date,
): Promise<Result<{ id: string; channel: string; businessDate: string; lineCount: number }, ImportRefusal>> {
  if (!isChannel(input.channel))
    return err({
      kind: 'InvalidInput',
      field: 'channel',
      message: 'channel must be 1-64 characters of [A-Za-z0-9_.-]',
    });
  // As its lines' dates (statement-csv.ts): a statement of a later date could never be reconciled
  // (channelReconciliation refuses a date after statementDateMax, whose window would end past 9999-12-31).
  if (input.businessDate > statementDateMax)
    return err({
      kind: 'InvalidInput',
      field: 'businessDate',
      message:
        `businessDate must be on or before ${statementDateMax} (the last day a statement may be dated), ` +
        `got ${input.businessDate}`,
    });
  const parsed = parseStatementCsv(input.csv);
  if (!parsed.ok) return err({ kind: 'InvalidStatement', ...parsed.error });
  const id = csvStatementId(input.channel, input.businessDate);
  const statement = {
    id,
    channel: input.channel,
    businessDate: input.businessDate,
    openingDate: input.businessDate,
    spanKnown: true,
    lineCount: parsed.value.length,
    importedBy,
    createdAt: now,
  };
  await inTransaction(controlShard(shards), async (tx) => {
    // The channel's turn first, as a bank file's import takes it: the DELETE of a day's statement not stored yet locks
    // nothing, and two imports of the day at once both inserted it (the second answered 1062, an internal error).
    await lockStatementChannels(tx, [statement.channel]);
    await replaceStatement(tx, statement, parsed.value, statementInsertBatchMax);
  });
  return ok(statement);
}

/**
 * A CSV statement's id: its channel and date as they read (a re-import of the day replaces it), or, for a channel too
 * long for the 40-character id (isChannel takes 64), a hash of both, as bankStatementId makes its ids.
 */
function csvStatementId(channel: string, businessDate: string): string {
  const plain = `stm_${channel}_${businessDate}`;
  if (plain.length <= statementIdCharsMax) return plain;
  return `stm_${createHash('sha256').update(`csv|${channel}|${businessDate}`).digest('hex').slice(0, 36)}`;
}
