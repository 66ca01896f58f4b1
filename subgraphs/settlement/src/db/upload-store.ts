import { and, asc, count, eq, gt, lte, sum } from 'drizzle-orm';
import type { Shard } from '@paygraph/shared/shards/pool';
import type { Executor, Tx } from '@paygraph/shared/shards/transaction';
import {
  statementUploadChunks,
  statementUploadOperators,
  statementUploads,
  type StatementUploadRow,
} from './schema/settlement';

/**
 * The SQL of statement uploads (control shard): an upload's row and its pieces. An upload's bytes
 * arrive over minutes; each piece is written in a short transaction of its own, never one
 * transaction for the whole file (a Galera cluster certifies a write set whole, and a slow sender
 * would hold a connection and its locks for the length of the upload).
 */

/**
 * What an operator holds now: uploads not expired at `now`, and their bytes. First locks the operator's row of
 * statement_upload_operators (made on its first upload), so that two requests of one operator count and add one after
 * the other, never both past the quota; the lock is held until the transaction ends.
 */
export async function lockOperatorUploads(
  tx: Tx,
  operator: string,
  now: Date,
): Promise<{ uploads: number; bytes: number }> {
  await tx
    .insert(statementUploadOperators)
    .values({ uploadedBy: operator })
    .onDuplicateKeyUpdate({ set: { uploadedBy: operator } });
  const [held] = await tx
    .select({ uploads: count(), bytes: sum(statementUploads.bytes) })
    .from(statementUploads)
    .where(and(eq(statementUploads.uploadedBy, operator), gt(statementUploads.expiresAt, now)));
  return { uploads: held?.uploads ?? 0, bytes: Number(held?.bytes ?? 0) };
}

export async function insertUpload(tx: Tx, row: typeof statementUploads.$inferInsert): Promise<void> {
  await tx.insert(statementUploads).values(row);
}

/** Counts the next piece's bytes in the upload; its expiry moves on, so no purge takes it while it arrives. */
export async function countPiece(
  tx: Tx,
  uploadId: string,
  piece: { bytesSoFar: number; expiresAt: Date },
): Promise<void> {
  await tx
    .update(statementUploads)
    .set({ bytes: piece.bytesSoFar, expiresAt: piece.expiresAt })
    .where(eq(statementUploads.id, uploadId));
}

/**
 * Stores a piece, on its own (autocommit), bound as a prepared statement's parameter: mysql2 sends a Buffer there as
 * it is. Through drizzle (the text protocol) a piece went out as hexadecimal SQL text, several copies of it per
 * statement, and a 100 MiB upload left the process holding 80 MiB more, garbage not yet collected.
 */
export async function insertPiece(shard: Shard, uploadId: string, sequence: number, data: Buffer): Promise<void> {
  shard.queryCount++;
  await shard.pool.execute('INSERT INTO statement_upload_chunks (upload_id, sequence, data) VALUES (?, ?, ?)', [
    uploadId,
    sequence,
    data,
  ]);
}

export async function completeUpload(
  db: Executor,
  uploadId: string,
  done: { bytes: number; sha256: string; completedAt: Date; expiresAt: Date },
): Promise<void> {
  await db.update(statementUploads).set(done).where(eq(statementUploads.id, uploadId));
}

export async function uploadById(db: Executor, uploadId: string): Promise<StatementUploadRow | undefined> {
  return (await db.select().from(statementUploads).where(eq(statementUploads.id, uploadId)))[0];
}

/** One piece of an upload's body (one MEDIUMBLOB row), or undefined past its last. */
export async function pieceOf(db: Executor, uploadId: string, sequence: number): Promise<Buffer | undefined> {
  const rows = await db
    .select({ data: statementUploadChunks.data })
    .from(statementUploadChunks)
    .where(and(eq(statementUploadChunks.uploadId, uploadId), eq(statementUploadChunks.sequence, sequence)));
  return rows[0]?.data;
}

/**
 * Deletes an upload: its pieces piecesPerStatementMax at a time (each DELETE a few MiB, never one of 100 MiB), then
 * its row. Answers whether there was a row.
 */
export async function deleteUpload(db: Executor, uploadId: string, piecesPerStatementMax: number): Promise<boolean> {
  for (;;) {
    const [deleted] = await db
      .delete(statementUploadChunks)
      .where(eq(statementUploadChunks.uploadId, uploadId))
      .orderBy(asc(statementUploadChunks.sequence))
      .limit(piecesPerStatementMax);
    if ((deleted as { affectedRows: number }).affectedRows < piecesPerStatementMax) break;
  }
  const [deleted] = await db.delete(statementUploads).where(eq(statementUploads.id, uploadId));
  return (deleted as { affectedRows: number }).affectedRows === 1;
}

/** Uploads expired at `now`, oldest first, at most `limit`. */
export async function expiredUploads(db: Executor, now: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: statementUploads.id })
    .from(statementUploads)
    .where(lte(statementUploads.expiresAt, now))
    .orderBy(asc(statementUploads.expiresAt))
    .limit(limit);
  return rows.map((r) => r.id);
}
