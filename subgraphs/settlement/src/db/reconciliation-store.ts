import { and, asc, desc, eq, gt, gte, inArray, lt, lte, max, or, sql } from 'drizzle-orm';
import { groupBy } from '@paygraph/shared/collections';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import {
  channelMatchingRules,
  channelReconciliations,
  reconciliationExceptionEvents,
  reconciliationExceptions,
  statementChannels,
  statementLines,
  statements,
  type ChannelReconciliationRow,
  type ExceptionRow,
  type MatchingRulesRow,
  type StatementLineRow,
  type StatementRow,
} from './schema/settlement';
import { exceptionDetailCharsMax, reconciliationRowsPerStatementMax } from '../limits';
import { packReport, unpackReport } from './report-bodies';
import { spanOf } from '../domain/bank-statement';

/**
 * The SQL of channel reconciliation (control shard): bank statements, matching rules,
 * exceptions with their audit trail, and the stored reports.
 */

/**
 * Takes these channels' turns to replace statements (rows of statement_channels, made by a channel's first import or
 * registration), in channel order, so that a file of several channels waits in no circle. A locking read of a day with
 * no statement yet locks nothing under read committed, so two first imports of a day (a bank file, or a CSV by
 * importStatement) would both insert its statement, and the second answer an internal error (1062). A registration of
 * an account to a channel takes its turn too (services/channel-accounts.ts), before it counts the channel's accounts.
 */
export async function lockStatementChannels(tx: Tx, channelsOfImport: readonly string[]): Promise<void> {
  const channels = [...new Set(channelsOfImport)].sort();
  if (channels.length === 0) return;
  // An insert that finds the row takes it exclusively too, as a locking read would, without a read first.
  await tx
    .insert(statementChannels)
    .values(channels.map((channel) => ({ channel })))
    .onDuplicateKeyUpdate({ set: { channel: sql`${statementChannels.channel}` } });
}

/**
 * Writes an import's statements and their lines, each replacing the earlier statements of its
 * channel, account and span (opening and closing date; every currency), and those of its closing
 * date and currency whose span is unknown (replacedOf), whose rows it locks (FOR UPDATE) and
 * deletes first. A statement of another known span closing the same day stays: the day's own
 * statement and the month's are two reports of the same bookings (domain/booked-lines.ts).
 * First it locks each channel's row of statement_channels (made by the channel's first import),
 * in channel order, so that imports to one channel replace its statements one after the other,
 * also on a day with no statement yet, whose empty range FOR UPDATE locks nothing under read
 * committed. The caller's one transaction holds all of it, so a file of several accounts and
 * channels lands whole or not at all. Rows go in batches of insertBatchMax, lines of several
 * statements together.
 */
export async function replaceBankStatements(
  tx: Tx,
  imported: ReadonlyArray<{
    statement: typeof statements.$inferInsert;
    lines: ReadonlyArray<Omit<StatementLineRow, 'statementId'>>;
  }>,
  insertBatchMax: number,
): Promise<void> {
  await lockStatementChannels(
    tx,
    imported.map((i) => i.statement.channel),
  );
  const earlierIds: string[] = [];
  for (const same of groupBy(imported, (i) => `${i.statement.channel}\u0000${i.statement.account ?? ''}`).values())
    for (const id of await replacedOf(tx, same, insertBatchMax)) earlierIds.push(id);
  for (let i = 0; i < earlierIds.length; i += insertBatchMax) {
    const ids = earlierIds.slice(i, i + insertBatchMax);
    await tx.delete(statementLines).where(inArray(statementLines.statementId, ids));
    await tx.delete(statements).where(inArray(statements.id, ids));
  }
  for (let i = 0; i < imported.length; i += insertBatchMax)
    await tx.insert(statements).values(imported.slice(i, i + insertBatchMax).map((s) => s.statement));
  let batch: StatementLineRow[] = [];
  for (const { statement, lines } of imported) {
    for (const l of lines) {
      batch.push({ ...l, statementId: statement.id });
      if (batch.length < insertBatchMax) continue;
      await tx.insert(statementLines).values(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await tx.insert(statementLines).values(batch);
}

/**
 * The statements a channel of no account took (stored under '') that named `account`, moved under it as the account is
 * registered to that channel (services/channel-accounts.ts, in the registration's transaction, holding the channel's
 * turn as imports do): the account's next import of the same span then replaces them (replacedOf) rather than storing
 * the day again beside them, its lines counted twice. A statement that named no account, or was stored before the
 * named account was kept, stays where it is. Answers how many moved.
 */
export async function adoptStatements(tx: Tx, channel: string, account: string): Promise<number> {
  const answer = await tx
    .update(statements)
    .set({ account })
    .where(and(eq(statements.channel, channel), eq(statements.account, ''), eq(statements.namedAccount, account)));
  const [result] = answer as unknown as [{ affectedRows: number }];
  return result.affectedRows;
}

/**
 * The ids of the stored statements an import's statements of one channel and account replace, locked: those of the
 * same span (every currency), and those of an unknown span (span_known NULL, stored before spans were kept: a month
 * then read as one day, its closing date) closing on a date and in a currency the import holds, whatever their span.
 * Kept beside the import, such a row was counted before it (the shorter span) and a corrected file removed no line.
 */
async function replacedOf(
  tx: Tx,
  same: ReadonlyArray<{ statement: typeof statements.$inferInsert }>,
  insertBatchMax: number,
): Promise<string[]> {
  const { channel, account = '' } = same[0]!.statement;
  const dates = [...new Set(same.map((i) => i.statement.businessDate))];
  const spans = new Set(same.map((i) => spanOf(i.statement)));
  const closings = new Set(same.map((i) => `${i.statement.businessDate} ${i.statement.currency ?? ''}`));
  const ids: string[] = [];
  for (let i = 0; i < dates.length; i += insertBatchMax) {
    const rows = await tx
      .select({
        id: statements.id,
        businessDate: statements.businessDate,
        openingDate: statements.openingDate,
        currency: statements.currency,
        spanKnown: statements.spanKnown,
      })
      .from(statements)
      .where(
        and(
          eq(statements.channel, channel),
          eq(statements.account, account),
          inArray(statements.businessDate, dates.slice(i, i + insertBatchMax)),
        ),
      )
      .for('update');
    for (const r of rows)
      if (spans.has(spanOf(r)) || (r.spanKnown === null && closings.has(`${r.businessDate} ${r.currency ?? ''}`)))
        ids.push(r.id);
  }
  return ids;
}

export async function statementsBetween(
  db: Executor,
  channel: string,
  fromDate: string,
  toDate: string,
): Promise<StatementRow[]> {
  return db
    .select()
    .from(statements)
    .where(
      and(
        eq(statements.channel, channel),
        gte(statements.businessDate, fromDate),
        lte(statements.businessDate, toDate),
      ),
    );
}

/** A statement line with what the day's reconciliation needs of the statement holding it. */
export type HeldLineRow = StatementLineRow & {
  statement: { channel: string; account: string; businessDate: string; openingDate: string };
};

/**
 * The statement lines booked (by their own date, value_date) from fromDate to toDate, of one channel or of every one
 * (null), whatever statement holds them, with that statement's channel, account and date; in the statements' order.
 * Found through statement_lines_booked_idx, each line's statement through its key.
 */
export async function linesBookedBetween(
  db: Executor,
  channel: string | null,
  fromDate: string,
  toDate: string,
): Promise<HeldLineRow[]> {
  const rows = await db
    .select({
      line: statementLines,
      channel: statements.channel,
      account: statements.account,
      businessDate: statements.businessDate,
      openingDate: statements.openingDate,
    })
    .from(statementLines)
    .innerJoin(statements, eq(statements.id, statementLines.statementId))
    .where(
      and(
        channel === null ? undefined : eq(statements.channel, channel),
        gte(statementLines.valueDate, fromDate),
        lte(statementLines.valueDate, toDate),
      ),
    )
    .orderBy(asc(statementLines.statementId), asc(statementLines.lineNumber));
  return rows.map((r) => ({
    ...r.line,
    statement: { channel: r.channel, account: r.account, businessDate: r.businessDate, openingDate: r.openingDate },
  }));
}

/**
 * The lines of the channel's statements closing on businessDate that were booked before fromDate or after toDate (a
 * month's statement's earlier days), with their statement as linesBookedBetween gives it; in the statements' order. A
 * run of the date re-keys the exceptions recorded for them on that date before c3452ee (domain/legacy-subjects.ts).
 * Found through statements_channel_date_idx, their lines through the lines' key.
 */
export async function linesHeldOutside(
  db: Executor,
  channel: string,
  businessDate: string,
  fromDate: string,
  toDate: string,
): Promise<HeldLineRow[]> {
  const rows = await db
    .select({ line: statementLines, account: statements.account, openingDate: statements.openingDate })
    .from(statements)
    .innerJoin(statementLines, eq(statementLines.statementId, statements.id))
    .where(
      and(
        eq(statements.channel, channel),
        eq(statements.businessDate, businessDate),
        or(lt(statementLines.valueDate, fromDate), gt(statementLines.valueDate, toDate)),
      ),
    )
    .orderBy(asc(statementLines.statementId), asc(statementLines.lineNumber));
  return rows.map((r) => ({
    ...r.line,
    statement: { channel, account: r.account, businessDate, openingDate: r.openingDate },
  }));
}

/**
 * When the channel last imported a statement that can hold lines booked on or after fromDate (one dated then or later:
 * a statement holds its own date's lines and earlier ones), or null: how new the evidence about a window is.
 */
export async function lastImportFrom(db: Executor, channel: string, fromDate: string): Promise<Date | null> {
  const rows = await db
    .select({ last: max(statements.createdAt) })
    .from(statements)
    .where(and(eq(statements.channel, channel), gte(statements.businessDate, fromDate)));
  return rows[0]?.last ?? null;
}

/** The latest date the channel has a statement of, or null. */
export async function latestStatementDate(db: Executor, channel: string): Promise<string | null> {
  const rows = await db
    .select({ latest: max(statements.businessDate) })
    .from(statements)
    .where(eq(statements.channel, channel));
  return rows[0]?.latest ?? null;
}

export async function rulesOf(db: Executor, channel: string): Promise<MatchingRulesRow | undefined> {
  return (await db.select().from(channelMatchingRules).where(eq(channelMatchingRules.channel, channel)))[0];
}

export async function upsertRules(db: Executor, row: typeof channelMatchingRules.$inferInsert): Promise<void> {
  const { channel: _, ...set } = row;
  await db.insert(channelMatchingRules).values(row).onDuplicateKeyUpdate({ set });
}

export async function exceptionsBySubjects(
  db: Executor,
  channel: string,
  subjects: readonly string[],
): Promise<ExceptionRow[]> {
  return exceptionsUnder(db, channel, subjects, false);
}

/**
 * The channel's exceptions under these subjects, each row locked (FOR UPDATE) until the transaction ends: the subjects
 * sorted and read through reconciliation_exceptions_subject_uq in that order, so two runs locking overlapping sets
 * take them in one order. A row another run moved or closed meanwhile is read as it committed.
 */
export async function lockExceptionsBySubjects(
  tx: Tx,
  channel: string,
  subjects: readonly string[],
): Promise<ExceptionRow[]> {
  return exceptionsUnder(tx, channel, [...new Set(subjects)].sort(), true);
}

/** The rows under the subjects, reconciliationRowsPerStatementMax a statement; locked in subject order when `lock`. */
async function exceptionsUnder(
  db: Executor,
  channel: string,
  subjects: readonly string[],
  lock: boolean,
): Promise<ExceptionRow[]> {
  const found: ExceptionRow[] = [];
  for (let i = 0; i < subjects.length; i += reconciliationRowsPerStatementMax) {
    const query = db
      .select()
      .from(reconciliationExceptions)
      .where(
        and(
          eq(reconciliationExceptions.channel, channel),
          inArray(reconciliationExceptions.subject, subjects.slice(i, i + reconciliationRowsPerStatementMax)),
        ),
      );
    found.push(...(await (lock ? query.orderBy(asc(reconciliationExceptions.subject)).for('update') : query)));
  }
  return found;
}

export async function exceptionsOfDate(
  db: Executor,
  channel: string,
  businessDate: string,
  status?: 'OPEN' | 'RESOLVED',
): Promise<ExceptionRow[]> {
  return db
    .select()
    .from(reconciliationExceptions)
    .where(
      and(
        eq(reconciliationExceptions.channel, channel),
        eq(reconciliationExceptions.businessDate, businessDate),
        status === undefined ? undefined : eq(reconciliationExceptions.status, status),
      ),
    );
}

export async function insertExceptions(
  tx: Tx,
  rows: ReadonlyArray<typeof reconciliationExceptions.$inferInsert>,
): Promise<void> {
  for (let i = 0; i < rows.length; i += reconciliationRowsPerStatementMax)
    await tx
      .insert(reconciliationExceptions)
      .ignore()
      .values(rows.slice(i, i + reconciliationRowsPerStatementMax));
}

/**
 * Changes an exception only while it is OPEN, a resolved one is never reopened nor rewritten, and still under the
 * subject it was read under: one another run re-keyed meanwhile (rekeyException) names another item now. Locks the row.
 */
export async function updateOpenException(
  tx: Tx,
  row: Pick<ExceptionRow, 'id' | 'subject'>,
  set: Partial<typeof reconciliationExceptions.$inferInsert>,
): Promise<boolean> {
  const [result] = await tx
    .update(reconciliationExceptions)
    .set(set)
    .where(
      and(
        eq(reconciliationExceptions.id, row.id),
        eq(reconciliationExceptions.subject, row.subject),
        eq(reconciliationExceptions.status, 'OPEN'),
      ),
    );
  return (result as { affectedRows: number }).affectedRows === 1;
}

/**
 * Moves an exception from a subject it was recorded under before (a key of before, domain/line-keys.ts) to its line's
 * or match's subject now, and to the date that is of now (domain/legacy-subjects.ts), keeping its id, resolution and
 * posting. Only while it is still under that subject, and open or resolved with a resolution (the choice's rule,
 * checked again under the lock: matching may have closed it meanwhile). IGNORE: where another run took the subject
 * meanwhile (the unique reconciliation_exceptions_subject_uq), the row stays as it is rather than the run failing.
 * Locks the row; answers whether it moved.
 */
export async function rekeyException(
  tx: Tx,
  id: string,
  legacySubject: string,
  to: { subject: string; businessDate: string; updatedAt: Date },
): Promise<boolean> {
  const answer = await tx.execute(
    sql`UPDATE IGNORE reconciliation_exceptions
        SET subject = ${to.subject}, business_date = ${to.businessDate}, updated_at = ${to.updatedAt}
        WHERE id = ${id} AND subject = ${legacySubject} AND (status = 'OPEN' OR resolution IS NOT NULL)`,
  );
  const [result] = answer as unknown as [{ affectedRows: number }];
  return result.affectedRows === 1;
}

/**
 * Reopens an exception resolved as TIMING while of the kind the caller read, and only such a one (the caller's run
 * found its window ended without a match): false when it is not that any more (another run lapsed it first, or it was
 * resolved otherwise since). The row lock the UPDATE takes makes a racing run wait and then find it open.
 */
export async function lapseTimingResolution(
  tx: Tx,
  id: string,
  kindWas: ExceptionRow['kind'],
  set: Partial<typeof reconciliationExceptions.$inferInsert>,
): Promise<boolean> {
  const [result] = await tx
    .update(reconciliationExceptions)
    .set({ ...set, status: 'OPEN', resolution: null, note: null, resolvedBy: null, resolvedAt: null })
    .where(
      and(
        eq(reconciliationExceptions.id, id),
        eq(reconciliationExceptions.status, 'RESOLVED'),
        eq(reconciliationExceptions.resolution, 'TIMING'),
        eq(reconciliationExceptions.kind, kindWas),
      ),
    );
  return (result as { affectedRows: number }).affectedRows === 1;
}

export async function lockException(tx: Executor, id: string): Promise<ExceptionRow | undefined> {
  return (await tx.select().from(reconciliationExceptions).where(eq(reconciliationExceptions.id, id)).for('update'))[0];
}

export async function setException(
  tx: Executor,
  id: string,
  set: Partial<typeof reconciliationExceptions.$inferInsert>,
): Promise<void> {
  await tx.update(reconciliationExceptions).set(set).where(eq(reconciliationExceptions.id, id));
}

export async function exceptionsByIds(db: Executor, ids: readonly string[]): Promise<ExceptionRow[]> {
  if (ids.length === 0) return [];
  return db
    .select()
    .from(reconciliationExceptions)
    .where(inArray(reconciliationExceptions.id, [...ids]));
}

export async function exceptionsWithStatus(
  db: Executor,
  channel: string | null,
  status: 'OPEN' | 'RESOLVED',
  limit: number,
): Promise<ExceptionRow[]> {
  return db
    .select()
    .from(reconciliationExceptions)
    .where(
      and(
        eq(reconciliationExceptions.status, status),
        channel === null ? undefined : eq(reconciliationExceptions.channel, channel),
      ),
    )
    .orderBy(asc(reconciliationExceptions.detectedAt), asc(reconciliationExceptions.id))
    .limit(limit);
}

/**
 * Appends to the exceptions' audit trail, each event numbered after the exception's last. The
 * caller holds the exception's row (or has just inserted it), so no two writers number alike.
 */
export async function appendEvents(
  tx: Executor,
  events: ReadonlyArray<{
    exceptionId: string;
    event: 'OPENED' | 'CHANGED' | 'RESOLVED';
    actor: string;
    detail: string;
    at: Date;
  }>,
): Promise<void> {
  if (events.length === 0) return;
  const ids = [...new Set(events.map((e) => e.exceptionId))];
  const last = new Map<string, number>();
  for (let i = 0; i < ids.length; i += reconciliationRowsPerStatementMax) {
    const rows = await tx
      .select({ id: reconciliationExceptionEvents.exceptionId, last: max(reconciliationExceptionEvents.sequence) })
      .from(reconciliationExceptionEvents)
      .where(inArray(reconciliationExceptionEvents.exceptionId, ids.slice(i, i + reconciliationRowsPerStatementMax)))
      .groupBy(reconciliationExceptionEvents.exceptionId);
    for (const r of rows) last.set(r.id, r.last ?? 0);
  }
  const rows = events.map((e) => {
    const sequence = (last.get(e.exceptionId) ?? 0) + 1;
    last.set(e.exceptionId, sequence);
    return { ...e, detail: e.detail.slice(0, exceptionDetailCharsMax), sequence };
  });
  for (let i = 0; i < rows.length; i += reconciliationRowsPerStatementMax)
    await tx.insert(reconciliationExceptionEvents).values(rows.slice(i, i + reconciliationRowsPerStatementMax));
}

/** Stores a channel's report, its JSON gzipped (report-bodies.ts). */
export async function insertChannelReconciliation(
  db: Executor,
  row: Omit<typeof channelReconciliations.$inferInsert, 'body'> & { body: string },
): Promise<void> {
  await db.insert(channelReconciliations).values({ ...row, body: await packReport(row.body) });
}

export async function channelReconciliationsOf(
  db: Executor,
  channel: string,
  businessDate: string,
  limit: number,
): Promise<ChannelReconciliationRow[]> {
  const rows = await db
    .select()
    .from(channelReconciliations)
    .where(and(eq(channelReconciliations.channel, channel), eq(channelReconciliations.businessDate, businessDate)))
    .orderBy(desc(channelReconciliations.createdAt))
    .limit(limit);
  return Promise.all(rows.map(async (r) => ({ ...r, body: await unpackReport(r.body) })));
}
